'use strict'
// Several gatsby-dsg instances of the example site sharing one real `redis-server` (Debian's, on
// a free loopback port): starting and stopping Redis, talking to it with redis-cli, starting
// instances in child processes, and killing whatever is left in afterAll.

const { spawn, execFileSync } = require('child_process')
const net = require('net')
const path = require('path')
const readline = require('readline')
const { get, EXAMPLE } = require('./site')

const REDIS_SERVER = '/usr/bin/redis-server'
const REDIS_CLI = '/usr/bin/redis-cli'

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
function startInstance(options = {}) {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'shared-instance-process.js'), JSON.stringify({ root: EXAMPLE, host: '127.0.0.1', port: 0, ...options })],
    { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
  )
  children.add(child)
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdout.resume()
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    }),
  )
  const control = child.stdio[3]
  control.on('error', () => {})
  const replies = new Map()
  let onFirst
  readline.createInterface({ input: control }).on('line', (line) => {
    const message = JSON.parse(line)
    if (message.id && replies.has(message.id)) {
      replies.get(message.id)(message)
      replies.delete(message.id)
    } else if (onFirst) {
      onFirst(message)
      onFirst = null
    }
  })
  let nextId = 0
  const request = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`instance exited; cannot ${cmd}`))
      const id = ++nextId
      replies.set(id, resolve)
      control.write(`${JSON.stringify({ ...args, cmd, id })}\n`)
    })
  return new Promise((resolve, reject) => {
    onFirst = (message) => {
      if (message.error) return reject(new Error(`server did not start: ${message.error}`))
      const base = `http://127.0.0.1:${message.port}`
      resolve({
        child,
        base,
        port: message.port,
        summary: message.summary,
        exited,
        stderr: () => stderr,
        get: (urlPath, init) => get(base + urlPath, init),
        stats: async () => (await request('stats')).stats,
        setGlobal: async (name, value) => request('setGlobal', { name, value }),
        kill: async (signal = 'SIGKILL') => {
          child.kill(signal)
          return exited
        },
        close: async () => {
          await request('close')
          return exited
        },
      })
    }
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)))
  })
}

/** SIGKILLs every instance and redis-server still running; resolves once they have exited. */
async function killAll() {
  const left = [...children]
  await Promise.all(
    left.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', resolve)
          child.kill('SIGKILL')
        }),
    ),
  )
}

/** Polls `condition` (sync or async) until it is truthy; throws after `attempts` tries. */
async function waitFor(condition, { what = 'condition', attempts = 200, intervalMs = 25 } = {}) {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return
    await new Promise((r) => setTimeout(r, intervalMs))
  }
  throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`)
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
