'use strict'
// Several gatsby-dsg instances of the example site sharing one real `redis-server` (Debian's, on
// a free loopback port): starting and stopping Redis (plain, TLS-only with certificates made by
// openssl, or a Redis Cluster of masters with one replica each), talking to it with redis-cli,
// starting instances in child processes (support/processes.js `killAll` ends what is left).

const { spawn, execFileSync } = require('child_process')
const fs = require('fs')
const net = require('net')
const path = require('path')
const { startServer } = require('./site')
const { freePort } = require('./http')
const { track } = require('./processes')
const { waitFor: pollUntil } = require('./wait')

const REDIS_SERVER = '/usr/bin/redis-server'
const REDIS_CLI = '/usr/bin/redis-cli'

/**
 * Runs `redis-cli <connection> args...` (connection: `-p <port>`, TLS and auth options); returns
 * its trimmed stdout, or null when Redis is not there.
 */
function cliWith(connection, ...args) {
  try {
    return execFileSync(REDIS_CLI, ['-h', '127.0.0.1', ...connection, ...args], {
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
 * PING. `args` replace `--port <port>` (TLS, cluster), `connection` is what redis-cli needs to
 * reach it, `scheme` that of its `url`.
 */
async function startRedis(port, options = {}) {
  port = port || (await freePort())
  const { args = ['--port', String(port)], connection = ['-p', String(port)], scheme = 'redis' } = options
  const child = spawn(REDIS_SERVER, [...args, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(child)
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const redis = {
    port,
    url: `${scheme}://127.0.0.1:${port}/`,
    cli: (...args) => cliWith(connection, ...args),
    /** Keys matching `pattern`, found with SCAN (`redis-cli --scan`), sorted. */
    keys: (pattern) => (cliWith(connection, '--scan', '--pattern', pattern) || '').split('\n').filter(Boolean).sort(),
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

/**
 * Starts one instance on the example site; as site.js `startServer`, plus `kill(signal)`. Runs
 * shared-instance-process.js, whose render hook `setGlobal('__gatsbyDsgTestHoldRenders', true)`
 * turns on (with `renderWorkers: 0`).
 */
function startInstance(options = {}) {
  return startServer(options, { script: path.join(__dirname, 'shared-instance-process.js') })
}

/** support/wait.js's `waitFor`, giving up after 200 tries (5 s) unless told otherwise. */
function waitFor(condition, { attempts = 200, ...options } = {}) {
  return pollUntil(condition, { attempts, ...options })
}

/** Runs openssl in `dir`; throws with its stderr when it fails. */
function openssl(dir, ...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
}

/**
 * A CA, a server certificate for 127.0.0.1 and a client certificate it signed, and a second CA
 * that signed none of them: PEM files in `dir`, made with openssl now.
 */
function makeCertificates(dir) {
  for (const ca of ['ca', 'other-ca']) {
    openssl(
      dir,
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-subj',
      `/CN=gatsby-dsg e2e ${ca}`,
    )
  }
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  for (const name of ['server', 'client']) {
    openssl(
      dir,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    )
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
    )
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
 * `redis-server` with plain TCP off: TLS only on a free port. `acl`: `{ user, password }`, the only
 * user (the default user is off).
 */
async function startTlsRedis(certs, { requireClientCertificates = false, acl } = {}) {
  const port = await freePort()
  const aclArgs = acl
    ? ['--user', 'default', 'off', '--user', acl.user, 'on', `>${acl.password}`, '~*', '&*', '+@all']
    : []
  const auth = acl ? ['--user', acl.user, '--pass', acl.password] : []
  return startRedis(port, {
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
 * create --cluster-replicas 1`), failure detection after 1 s. `url` lists every node as a seed.
 */
async function startCluster(dir, masters = 3) {
  const nodes = []
  for (let n = 0; n < masters * 2; n++) {
    const port = await freeClusterPort()
    nodes.push(
      await startRedis(port, {
        args: [
          '--port',
          String(port),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '1000',
          '--dir',
          dir,
        ],
      }),
    )
  }
  execFileSync(
    REDIS_CLI,
    ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30000,
    },
  )
  const stopped = new Set()
  const running = () => nodes.filter((n) => !stopped.has(n))
  const role = (node) => (node.cli('ROLE') || '').split('\n')[0]
  const cluster = {
    nodes,
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}/`,
    masters: () => running().filter((n) => role(n) === 'master'),
    /** Waits until every running node says cluster_state:ok and each shard has a master. */
    ok: () =>
      waitFor(
        () =>
          running().every((n) => /cluster_state:ok/.test(n.cli('CLUSTER', 'INFO') || '')) &&
          cluster.masters().length === masters,
        {
          what: 'the cluster ok, every shard with a master',
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

module.exports = {
  startRedis,
  startTlsRedis,
  startCluster,
  makeCertificates,
  startInstance,
  waitFor,
  freePort,
}
