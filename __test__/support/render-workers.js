'use strict'
// For the render-worker tests: a server process whose render workers a test can see and
// terminate (support/render-workers-server-process.js). Every child started here is tracked, so
// `killServers()` in afterAll leaves none behind.

const { spawn } = require('child_process')
const path = require('path')
const readline = require('readline')
const { EXAMPLE } = require('./site')
const { request } = require('./ops')

const children = new Set()

/**
 * Starts a server on the example site in a child process. The handle has `get`, `stats`,
 * `renderWorkers`, `pool`, `terminate(rendererId)`, `crash(rendererId, how)`, `stderr`, `exited` and `close` (resolves to
 * `{ code, signal, reply }`, `reply` being what the server said once closed).
 */
function startWorkersServer(options = {}) {
  const child = spawn(
    process.execPath,
    ['-r', path.join(__dirname, 'render-worker-crash.js'), path.join(__dirname, 'render-workers-server-process.js'), JSON.stringify({ root: EXAMPLE, host: '127.0.0.1', port: 0, ...options })],
    { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
  )
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  // 'close': the process exited and its pipes are drained (a last reply is read first).
  const exited = new Promise((resolve) =>
    child.on('close', (code, signal) => {
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
  // A reply that never comes (the child died) rejects instead of hanging the test.
  exited.then(({ code, signal }) => {
    for (const [id, reply] of replies) reply({ id, error: `server exited (${code ?? signal}): ${stderr.slice(-2000)}` })
    replies.clear()
  })
  let nextId = 0
  const call = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`server exited: ${stderr.slice(-2000)}`))
      const id = ++nextId
      replies.set(id, (message) => (message.error ? reject(new Error(message.error)) : resolve(message)))
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
        startPool: message.pool,
        exited,
        stdout: () => stdout,
        stderr: () => stderr,
        get: (urlPath, init) => request(base, urlPath, init),
        stats: async () => (await call('stats')).stats,
        renderWorkers: async () => (await call('renderWorkers')).workers,
        pool: async () => (await call('pool')).pool,
        terminate: async (rendererId) => (await call('terminate', { rendererId })).exitCode,
        crash: async (rendererId, how) => (await call('crash', { rendererId, how })).exitCode,
        close: async () => {
          const reply = await call('close')
          return { ...(await exited), reply }
        },
      })
    }
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)))
  })
}

/** Kills every server process still running (for afterAll). */
async function killServers() {
  const waits = []
  for (const child of children) {
    waits.push(new Promise((resolve) => child.once('exit', resolve)))
    child.kill('SIGKILL')
  }
  await Promise.all(waits)
}

module.exports = { startWorkersServer, killServers }
