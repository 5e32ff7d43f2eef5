'use strict'
// Real `redis-server`s on loopback for __test__/ and bench/ alike: plain TCP, TLS-only (with
// certificates made by openssl now), or a Redis Cluster of masters with one replica each; each
// answers PING (through redis-cli) before it is handed over, and is talked to with redis-cli.
// Every server started here is tracked until it exits, and `killRedis` ends what is left (the
// tests' `killAll` and the benchmark's exit handler call it). Not part of the package's API.

const { spawn, execFileSync } = require('child_process')
const fs = require('fs')
const net = require('net')
const path = require('path')
const { freePort } = require('./ports')
const { waitFor } = require('./wait')

/** Debian's binaries (redis-server's package depends on redis-tools, which has redis-cli). */
const REDIS_SERVER = '/usr/bin/redis-server'

// Every redis-server started here that has not exited yet.
const servers = new Set()

/** redis-cli beside the redis-server binary `bin`. */
const cliOf = (bin) => path.join(path.dirname(bin), 'redis-cli')

/**
 * Runs `redis-cli <connection> args...` (connection: `-p <port>`, TLS and auth options); returns
 * its trimmed stdout, or null when Redis is not there.
 */
function cliWith(cli, connection, ...args) {
  try {
    return execFileSync(cli, ['-h', '127.0.0.1', ...connection, ...args], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim()
  } catch {
    return null
  }
}

/**
 * Starts `redis-server` (no persistence) on `port`, or on a free one; resolves once it answers
 * PING (giving up after 200 tries, 5 s). `args` replace `--port <port>` (TLS, cluster),
 * `connection` is what redis-cli needs to reach it, `scheme` that of its `url`, `bin` the
 * redis-server binary (its redis-cli is the one beside it).
 */
async function startRedis(port, options = {}) {
  port = port || (await freePort())
  const {
    args = ['--port', String(port)],
    connection = ['-p', String(port)],
    scheme = 'redis',
    bin = REDIS_SERVER,
  } = options
  const cli = cliOf(bin)
  const child = spawn(bin, [...args, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  servers.add(child)
  child.once('close', () => servers.delete(child))
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  child.on('error', (error) => (output += `\n${error.message}`))
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const redis = {
    child,
    port,
    /** What redis-server logged so far. */
    log: () => output,
    url: `${scheme}://127.0.0.1:${port}/`,
    cli: (...args) => cliWith(cli, connection, ...args),
    /** Keys matching `pattern`, found with SCAN (`redis-cli --scan`), sorted. */
    keys: (pattern) =>
      (cliWith(cli, connection, '--scan', '--pattern', pattern) || '').split('\n').filter(Boolean).sort(),
    /** SIGSTOP: Redis keeps its connections open and answers nothing until `resume()`. */
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    /** Kills Redis (SIGKILL: a crash, no goodbye to its clients) and waits for it to exit. */
    stop: async () => {
      child.kill('SIGKILL')
      return exited
    },
  }
  await waitFor(() => redis.cli('PING') === 'PONG', {
    what: () => `redis-server answering on port ${port} (${output.trim()})`,
    attempts: 200,
  })
  return redis
}

// A new 2048-bit RSA key, unencrypted (a test key).
const NEW_KEY = ['-newkey', 'rsa:2048', '-nodes']

/** Runs openssl (`bin`) in `dir`; throws with its stderr when it fails. */
function openssl(bin, dir, ...args) {
  execFileSync(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a second CA
 * that signed none of them: PEM files in `dir` (created when missing), made with openssl (`bin`)
 * now.
 */
function makeCertificates(dir, { bin = 'openssl' } = {}) {
  fs.mkdirSync(dir, { recursive: true })
  const run = (...args) => openssl(bin, dir, ...args)
  for (const ca of ['ca', 'other-ca']) {
    run(
      'req',
      '-x509',
      ...NEW_KEY,
      '-days',
      '2',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-subj',
      `/CN=gatsby-dsg test ${ca}`,
    )
  }
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  for (const name of ['server', 'client']) {
    run('req', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`)
    const signed = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2']
    run('x509', '-req', '-in', `${name}.csr`, ...signed, '-out', `${name}.pem`, '-extfile', `${name}.ext`)
  }
  const file = (name) => path.join(dir, name)
  return {
    ca: file('ca.pem'),
    otherCa: file('other-ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
  }
}

/**
 * `redis-server` with plain TCP off: TLS only on a free port, with `certs` (`makeCertificates`).
 * `acl`: `{ user, password }`, the only user (the default user is off). `bin`: as `startRedis`.
 */
async function startTlsRedis(certs, { requireClientCertificates = false, acl, bin } = {}) {
  const port = await freePort()
  const aclArgs = acl
    ? ['--user', 'default', 'off', '--user', acl.user, 'on', `>${acl.password}`, '~*', '&*', '+@all']
    : []
  const auth = acl ? ['--user', acl.user, '--pass', acl.password] : []
  return startRedis(port, {
    bin,
    scheme: 'rediss',
    args: [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      certs.serverCert,
      '--tls-key-file',
      certs.serverKey,
      '--tls-ca-cert-file',
      certs.ca,
      '--tls-auth-clients',
      requireClientCertificates ? 'yes' : 'no',
      ...aclArgs,
    ],
    connection: [
      '-p',
      String(port),
      '--tls',
      '--cacert',
      certs.ca,
      '--cert',
      certs.clientCert,
      '--key',
      certs.clientKey,
      ...auth,
      '--no-auth-warning',
    ],
  })
}

/** A free port whose cluster-bus twin (port + 10000) is free too. */
async function freeClusterPort() {
  for (;;) {
    const port = await freePort()
    if (port >= 55000) continue
    const bus = net.createServer()
    const free = await new Promise((resolve) => {
      bus.once('error', () => resolve(false))
      bus.listen(port + 10000, '127.0.0.1', () => bus.close(() => resolve(true)))
    })
    if (free) return port
  }
}

/**
 * A Redis Cluster on loopback: `masters` masters with one replica each (`redis-cli --cluster
 * create --cluster-replicas 1`), failure detection after 1 s, node files in `dir`. `url` lists
 * every node as a seed. Resolves once the cluster is ok and every replica has synced from its
 * master: a replica that never synced refuses to fail over ("Disconnected from master for longer
 * than allowed"), and a diskless sync waits 5 s for more replicas by default (0 here).
 */
async function startCluster(dir, masters = 3, { bin = REDIS_SERVER } = {}) {
  const nodes = []
  for (let n = 0; n < masters * 2; n++) {
    const port = await freeClusterPort()
    nodes.push(
      await startRedis(port, {
        bin,
        args: [
          '--port',
          String(port),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '1000',
          '--repl-diskless-sync-delay',
          '0',
          '--dir',
          dir,
        ],
      }),
    )
  }
  execFileSync(
    cliOf(bin),
    ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30000,
    },
  )
  const stopped = new Set()
  const running = () => nodes.filter((n) => !stopped.has(n))
  /** ROLE's lines: `master …`, or `slave <host> <port> <link> <offset>`, link `connected` once synced. */
  const role = (node) => (node.cli('ROLE') || '').split('\n')
  /** Each running node's view of the cluster and the end of each one's log: for a failed wait. */
  const state = () =>
    running()
      .map((n) => {
        const info = (n.cli('CLUSTER', 'INFO') || '(no answer)').split('\n')[0]
        const log = n.log().trim().split('\n').slice(-8).join('\n    ')
        return `  ${n.port} ${info}\n    ${log}`
      })
      .join('\n')
  const cluster = {
    nodes,
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}/`,
    masters: () => running().filter((n) => role(n)[0] === 'master'),
    /**
     * Waits until every running node says cluster_state:ok, each shard has a master and every
     * running replica has synced from it; the error shows each node's state and log when not.
     */
    ok: () =>
      waitFor(
        () => {
          if (!running().every((n) => /cluster_state:ok/.test(n.cli('CLUSTER', 'INFO') || ''))) return false
          const roles = running().map(role)
          const synced = roles.every(([kind, , , link]) => kind === 'master' || link === 'connected')
          return synced && roles.filter(([kind]) => kind === 'master').length === masters
        },
        {
          what: () => `the cluster ok, every shard with a master and every replica synced (nodes:\n${state()})`,
          attempts: 1200,
        },
      ),
    /** SIGKILLs a master; resolves to its port. */
    killMaster: async (index = 0) => {
      const victim = cluster.masters()[index]
      stopped.add(victim)
      await victim.stop()
      return victim.port
    },
  }
  await cluster.ok()
  return cluster
}

/**
 * SIGKILLs every redis-server started here that is still running (at once, so it can run in an
 * exit handler); resolves once they have exited.
 */
function killRedis() {
  return Promise.all(
    [...servers].map((child) => {
      const closed = new Promise((resolve) => child.once('close', resolve))
      child.kill('SIGKILL')
      return closed
    }),
  )
}

module.exports = { startRedis, startTlsRedis, startCluster, makeCertificates, killRedis }
