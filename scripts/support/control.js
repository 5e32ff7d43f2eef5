'use strict'
// The control channel between a test or benchmark and a gatsby-dsg server in a child process:
// `node <script> <JSON options>`, with JSON lines on fd 3 (not Node's IPC channel, which Gatsby's
// reporter would use). The child sends `{ ready: true, port, ... }` (or `{ error }`) first, then
// answers each `{ cmd, id, ...args }` with `{ id, ... }` (`{ id, error }` when the command
// failed); `close` is answered last, as the channel ends. Used by __test__/ and bench/ alike; not
// part of the package's API.

const { spawn } = require('child_process')
const net = require('net')
const readline = require('readline')

const line = (message) => `${JSON.stringify(message)}\n`

/**
 * The child side. `start(options)` starts the server and resolves to `{ ready, commands, close }`:
 * `ready` is added to the first message, `commands[cmd](message)` resolves to a command's reply,
 * `close()` closes the server (and may resolve to more fields of its reply). With `exitOnClose`, the process exits once `close` is answered or
 * the parent closes the channel (a benchmark must not leave a server behind); without it, Node
 * must exit on its own, which the tests check.
 */
function serveControl(start, { exitOnClose = false } = {}) {
  const control = new net.Socket({ fd: 3, readable: true, writable: true })
  const send = (message) => control.write(line(message))
  const run = async () => {
    const { ready = {}, commands = {}, close } = await start(JSON.parse(process.argv[2]))
    readline.createInterface({ input: control }).on('line', async (text) => {
      const message = JSON.parse(text)
      const { id, cmd } = message
      if (cmd === 'close') {
        const after = await close()
        control.end(line({ id, closed: true, ...after }), () => exitOnClose && process.exit(0))
        return
      }
      const command = commands[cmd]
      if (!command) return send({ id, error: `unknown command ${cmd}` })
      try {
        send({ id, ...(await command(message)) })
      } catch (error) {
        send({ id, error: error.message })
      }
    })
    if (exitOnClose) control.on('end', () => process.exit(0))
    send({ ready: true, ...ready })
  }
  run().catch((error) => {
    control.end(line({ error: exitOnClose ? error.stack || error.message : error.message }))
    process.exitCode = 1
  })
}

// The parent side. Every child is tracked, so that afterEach/afterAll can kill what a test left
// running.

const children = new Set()

/**
 * The parent side of the channel of `child` (spawned with a pipe as fd 3); `exited` resolves once
 * the child is gone. `first` resolves to the child's first message; `call(cmd, args, { timeoutMs
 * })` resolves to the command's reply, and rejects with the child's error, when the child exits
 * first, or after `timeoutMs` (none by default).
 */
function connectControl(child, exited) {
  const control = child.stdio[3]
  control.on('error', () => {}) // the child may be SIGKILLed with the channel open
  const replies = new Map()
  let onFirst
  const first = new Promise((resolve) => (onFirst = resolve))
  readline.createInterface({ input: control }).on('line', (text) => {
    const message = JSON.parse(text)
    if (message.id && replies.has(message.id)) {
      replies.get(message.id)(message)
      replies.delete(message.id)
    } else if (onFirst) {
      onFirst(message)
      onFirst = null
    }
  })
  const gone = () => child.exitCode !== null || child.signalCode !== null
  let nextId = 0
  const call = (cmd, args = {}, { timeoutMs } = {}) =>
    new Promise((resolve, reject) => {
      if (gone()) return reject(new Error(`server exited; cannot ${cmd}`))
      const id = ++nextId
      const timer =
        timeoutMs &&
        setTimeout(() => {
          if (replies.delete(id)) reject(new Error(`server did not answer ${cmd} within ${timeoutMs / 1000} s`))
        }, timeoutMs)
      replies.set(id, (message) => {
        clearTimeout(timer)
        if (message.error) reject(new Error(message.error))
        else resolve(message)
      })
      control.write(line({ ...args, cmd, id }))
      exited.then(() => {
        if (replies.delete(id)) {
          clearTimeout(timer)
          reject(new Error(`server exited before answering ${cmd}`))
        }
      })
    })
  return { first, call, gone }
}

/**
 * Starts `script` with `options`. Resolves, once the child is ready, to a handle: `child`, `pid`,
 * `base` (http://127.0.0.1:<port>), `port`, `ready` (the first message), `exited` (resolves to
 * `{ code, signal }` once the process ended and its output is read), `stdout()`, `stderr()`,
 * `call(cmd, args)` (rejects with the child's error, or if it exits first), `stats()`, `close()`
 * and `kill(signal)`. Rejects with the child's error, or its stderr if it exits before ready.
 * `nodeArgs` go to Node itself; `env` replaces the environment.
 */
function startControlled(script, options, { nodeArgs = [], env } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, script, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    ...(env ? { env } : {}),
  })
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
  const { first, call, gone } = connectControl(child, exited)
  return new Promise((resolve, reject) => {
    first.then((message) => {
      if (message.error) return reject(new Error(`server did not start: ${message.error}`))
      resolve({
        child,
        pid: child.pid,
        base: `http://127.0.0.1:${message.port}`,
        port: message.port,
        summary: message.summary,
        ready: message,
        exited,
        stdout: () => stdout,
        stderr: () => stderr,
        call,
        stats: async () => (await call('stats')).stats,
        close: async () => {
          if (gone()) return exited
          await call('close')
          return exited
        },
        kill: (signal = 'SIGKILL') => {
          child.kill(signal)
          return exited
        },
      })
    })
    exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}): ${stderr}`)))
  })
}

/** SIGKILLs every child started here that is still running; resolves once they have exited. */
async function killControlled() {
  await Promise.all(
    [...children].map((child) => {
      const closed = new Promise((resolve) => child.once('close', resolve))
      child.kill('SIGKILL')
      return closed
    }),
  )
}

module.exports = { serveControl, connectControl, startControlled, killControlled }
