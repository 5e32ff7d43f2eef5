'use strict'
// Gatsby Functions for `gatsby-dsg serve`: a supervised child process (process.js) runs them with
// Gatsby's own middleware; the Rust engine routes `/api/*`, enforces the body limit and the
// function timeout, and forwards to the child's unix socket.
//
// Why a child process and not the main thread or a worker thread: a function is arbitrary code.
// In the main thread a busy loop would stall the addon's render dispatch and every DSG miss; in a
// worker thread it would share the process (`process.exit`, an uncaught error, `process.chdir`
// and native addons all reach the whole server). In a child it can do none of that: the parent
// sees a blocked event loop by its heartbeat and replaces the child, and a child that dies is
// restarted, while static files and generated pages never stop being served.

const { fork } = require('child_process')
const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { readFunctions } = require('./manifest')

const PROCESS = path.join(__dirname, 'process.js')
const HEARTBEAT_MS = 1000
const RESTART_DELAY_MS = 1000
// Loading every compiled function (each a ~1.4 MB webpack bundle) took 6-8 s on a loaded 2-core machine.
const START_TIMEOUT_MS = 120_000

const log = (line) => process.stderr.write(`gatsby-dsg: ${line}\n`)

/** True when the built site at `root` has Gatsby Functions. */
function hasFunctions(root) {
  return readFunctions(root).length > 0
}

class FunctionsProcess {
  /**
   * @param {{ root: string, timeoutMs: number }} options `timeoutMs`: a child whose event loop
   *   does not answer the heartbeat for this long is killed and replaced.
   */
  constructor({ root, timeoutMs }) {
    this.root = root
    this.timeoutMs = timeoutMs
    this.socketPath = path.join(
      os.tmpdir(),
      `gatsby-dsg-functions-${process.pid}-${crypto.randomBytes(4).toString('hex')}.sock`,
    )
    this.child = null
    this.closed = false
    this.restarts = 0
    this.routes = []
  }

  /** Starts the child; resolves to the routes (with body limits) once it listens. */
  async start() {
    this.routes = await this.spawn()
    return this.routes
  }

  spawn() {
    return new Promise((resolve, reject) => {
      const child = fork(PROCESS, [this.root, this.socketPath], {
        cwd: this.root,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'json',
      })
      this.child = child
      let ready = false
      let lastPong = Date.now()
      let ping = 0
      const startTimer = setTimeout(() => {
        if (ready) return
        child.kill('SIGKILL')
        reject(new Error(`the functions process did not start within ${START_TIMEOUT_MS / 1000} s`))
      }, START_TIMEOUT_MS)
      startTimer.unref()
      const heartbeat = setInterval(() => {
        if (!ready) return
        if (Date.now() - lastPong > this.timeoutMs) {
          log(
            `the functions process did not answer for ${Math.round((Date.now() - lastPong) / 1000)} s (a function blocks its event loop): replacing it`,
          )
          child.kill('SIGKILL')
          return
        }
        if (child.connected) child.send({ type: 'ping', id: ++ping }, () => {})
      }, HEARTBEAT_MS)
      heartbeat.unref()
      child.on('message', (message) => {
        if (message.type === 'pong') lastPong = Date.now()
        if (message.type === 'ready') {
          ready = true
          clearTimeout(startTimer)
          lastPong = Date.now()
          resolve(message.routes)
        }
      })
      child.on('error', (error) => {
        if (!ready) reject(new Error(`cannot start the functions process: ${error.message}`))
      })
      child.on('exit', (code, signal) => {
        clearInterval(heartbeat)
        clearTimeout(startTimer)
        if (this.child === child) this.child = null
        if (!ready) {
          reject(new Error(`the functions process exited before it was ready (${signal || `exit code ${code}`})`))
          return
        }
        if (this.closed) return
        this.restarts += 1
        log(`the functions process exited (${signal || `exit code ${code}`}): starting a new one`)
        this.respawn()
      })
    })
  }

  respawn() {
    if (this.closed) return
    this.spawn().catch((error) => {
      log(`${error.message}; retrying in ${RESTART_DELAY_MS / 1000} s`)
      setTimeout(() => this.respawn(), RESTART_DELAY_MS).unref()
    })
  }

  /**
   * Ends the child (it finishes nothing: the engine has stopped forwarding by then) by closing its
   * IPC channel — it ignores SIGINT and SIGTERM (process.js says why) — and SIGKILLs it if it
   * has not exited 2 s later (a function blocking its event loop).
   */
  async close() {
    this.closed = true
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      if (child.connected) child.disconnect()
      else child.kill('SIGKILL')
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
      await exited
      clearTimeout(timer)
    }
    fs.rmSync(this.socketPath, { force: true })
  }
}

module.exports = { FunctionsProcess, hasFunctions, readFunctions }
