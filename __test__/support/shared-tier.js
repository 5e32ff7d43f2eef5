'use strict'
// Several gatsby-dsg instances of the example site sharing one real `redis-server` (Debian's, on
// a free loopback port): starting and stopping Redis, talking to it with redis-cli, starting
// instances in child processes, and killing whatever is left in afterAll.

const { spawn, execFileSync } = require('child_process')
const net = require('net')
const path = require('path')
const { get, EXAMPLE } = require('./site')
const { startControlled, killControlled } = require('../../scripts/support/control')
const { waitFor: pollUntil } = require('./http')

const REDIS_SERVER = '/usr/bin/redis-server'
const REDIS_CLI = '/usr/bin/redis-cli'

/** redis-server processes still running. */
const children = new Set()

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Runs `redis-cli -p port args...`; returns its trimmed stdout, or null when Redis is not there. */
function cli(port, ...args) {
  try {
    return execFileSync(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim()
  } catch {
    return null
  }
}

/** Starts `redis-server` (no persistence) on `port`, or on a free one; resolves once it answers PING. */
async function startRedis(port) {
  port = port || (await freePort())
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let output = ''
  child.stdout.on('data', (c) => (output += c))
  child.stderr.on('data', (c) => (output += c))
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    }),
  )
  const redis = {
    port,
    url: `redis://127.0.0.1:${port}/`,
    cli: (...args) => cli(port, ...args),
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
async function startInstance(options = {}) {
  const server = await startControlled(path.join(__dirname, 'shared-instance-process.js'), {
    root: EXAMPLE,
    host: '127.0.0.1',
    port: 0,
    ...options,
  })
  return Object.assign(server, {
    get: (urlPath, init) => get(server.base + urlPath, init),
    setGlobal: (name, value) => server.call('setGlobal', { name, value }),
  })
}

/** SIGKILLs every instance and redis-server still running; resolves once they have exited. */
async function killAll() {
  const left = [...children]
  await Promise.all([
    killControlled(),
    ...left.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', resolve)
          child.kill('SIGKILL')
        }),
    ),
  ])
}

/** support/http.js's `waitFor`, giving up after 200 tries (5 s) unless told otherwise. */
function waitFor(condition, { attempts = 200, ...options } = {}) {
  return pollUntil(condition, { attempts, ...options })
}

/** Resolves to `promise`'s value, or rejects when it takes longer than `ms` (a bound, not a measure). */
function within(ms, what, promise) {
  let timer
  const bound = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer))
}

module.exports = { startRedis, startInstance, killAll, waitFor, within, freePort }
