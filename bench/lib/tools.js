'use strict'
// The peers and the load generator come from Debian's packages: nginx and wrk, installed with
// apt-get when missing (non-interactive, `apt-get update` once first). Also: versions, machine.

const { spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']

function which(name) {
  const dirs = [...new Set([...(process.env.PATH || '').split(':').filter(Boolean), ...SEARCH])]
  for (const dir of dirs) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {}
  }
  return null
}

function sh(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', ...options })
}

/** Installs the Debian packages of the missing tools; returns `{ nginx, wrk, redis, openssl }` binary paths. */
function ensureTools({ log = console.log } = {}) {
  // binary → Debian package (redis-server, redis-cli and openssl: row 11, the Redis tier over TLS)
  const wanted = {
    nginx: 'nginx',
    wrk: 'wrk',
    'redis-server': 'redis-server',
    'redis-cli': 'redis-tools',
    openssl: 'openssl',
  }
  const missing = Object.keys(wanted).filter((bin) => !which(bin))
  if (missing.length > 0) {
    const packages = missing.map((bin) => wanted[bin])
    const apt = which('apt-get')
    if (!apt)
      throw new Error(
        `${packages.join(' and ')} missing and there is no apt-get: install ${packages.join(' ')} yourself`,
      )
    const isRoot = process.getuid && process.getuid() === 0
    const prefix = isRoot ? [] : ['sudo', '-n']
    if (!isRoot && sh('sudo', ['-n', 'true']).status !== 0) {
      throw new Error(
        `${packages.join(' and ')} missing; run as root or install them: apt-get install ${packages.join(' ')}`,
      )
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const run = (args) => {
      const cmd = [...prefix, apt, ...args]
      log(`$ ${cmd.join(' ')}`)
      const r = spawnSync(cmd[0], cmd.slice(1), { stdio: 'inherit', env })
      if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (exit ${r.status ?? r.signal})`)
    }
    run(['update', '-q'])
    run(['install', '-y', '-q', '--no-install-recommends', ...packages])
  }
  const tools = { nginx: which('nginx'), wrk: which('wrk'), redis: which('redis-server'), openssl: which('openssl') }
  for (const [k, v] of Object.entries(tools)) if (!v) throw new Error(`${k} still missing after apt-get install`)
  return tools
}

function versions(tools, root) {
  const first = (r) => `${r.stdout || ''}${r.stderr || ''}`.split('\n').find(Boolean) || '?'
  const gatsbyPkg = path.join(root, 'example', 'node_modules', 'gatsby', 'package.json')
  const git = sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD'])
  const dirty = sh('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'])
  let addon = '?'
  try {
    addon = fs
      .statSync(path.join(root, 'gatsby-dsg.linux-x64-gnu.node'))
      .mtime.toISOString()
      .replace(/\.\d+Z$/, 'Z')
  } catch {}
  return {
    addonBuiltAt: addon,
    node: process.version,
    nginx: first(sh(tools.nginx, ['-v'])).replace(/^nginx version:\s*/, ''),
    wrk: first(sh(tools.wrk, ['-v'])).replace(/\s*Copyright.*$/, ''),
    gatsby: fs.existsSync(gatsbyPkg) ? JSON.parse(fs.readFileSync(gatsbyPkg, 'utf8')).version : '?',
    gatsbyDsg: git.status === 0 ? `${git.stdout.trim()}${dirty.stdout.trim() ? ' + uncommitted changes' : ''}` : '?',
  }
}

/**
 * The file system holding `dir` (the run's cache directories): its type and mount point, from
 * /proc/self/mountinfo (the longest mount point containing it). Disk-tier numbers depend on it:
 * on this project's bench machine, root ext4 without a journal halves cold renders/s against tmpfs
 * (BENCHMARKS.md, "The cold path on this machine").
 */
function fileSystemOf(dir) {
  try {
    const real = fs.realpathSync(dir)
    let best = null
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [left, right] = line.split(' - ')
      if (!right) continue
      const mountPoint = left.split(' ')[4].replace(/\\040/g, ' ')
      const inside = real === mountPoint || real.startsWith(mountPoint === '/' ? '/' : `${mountPoint}/`)
      if (inside && (!best || mountPoint.length >= best.mountPoint.length))
        best = { mountPoint, type: right.split(' ')[0] }
    }
    return best ? `${best.type} (mounted at ${best.mountPoint})` : 'unknown'
  } catch {
    return 'unknown'
  }
}

function machine(dir) {
  let model = os.cpus()[0] ? os.cpus()[0].model : '?'
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)
    if (m) model = m[1].trim()
  } catch {}
  return {
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    nproc: (sh('nproc', []).stdout || '').trim() || String(os.cpus().length),
    cpu: model,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    fileSystem: dir ? fileSystemOf(dir) : 'unknown',
  }
}

module.exports = { ensureTools, versions, machine, which, fileSystemOf }
