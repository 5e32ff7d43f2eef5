'use strict'
// Every child process a test starts, and the one `killAll` that ends whatever a test left running
// (for afterEach/afterAll): commands started here (npm, gatsby, npx gatsby-dsg, the CLI), servers
// behind the control channel (scripts/support/control.js) and redis-servers
// (scripts/support/redis.js).
//
// Long-running commands run in their own process groups, so a test can stop a command together
// with the processes it started itself (npx runs the bin under a shell, `gatsby develop` forks a
// develop process).

const { spawn } = require('child_process')
const { killControlled } = require('../../scripts/support/control')
const { killRedis } = require('../../scripts/support/redis')

// Process groups started here. A group outlives its leader while any member is left, so killAll
// signals every group started, not only those whose leader still runs.
const groups = new Set()
// Every child started here that has not closed yet.
const running = new Set()

/** Has `killAll` SIGKILL `child` if it is still running then. */
function track(child) {
  running.add(child)
  child.once('close', () => running.delete(child))
  return child
}

/**
 * Starts `command args`. The handle collects stdout and stderr, exposes `exited` (resolves to
 * `{ code, signal, stdout, stderr }`), `waitForOutput(regex)`, `firstLine()` and `stop()`.
 * By default in a new process group (`group: false`: in the test's own) and in the environment of
 * a user's shell (`shellEnv: false`: Jest's environment as it is). With `timeoutMs`, the command
 * is SIGKILLed once it has run that long (a bound, not a measure).
 */
function start(command, args, { cwd, env = {}, group = true, shellEnv = true, timeoutMs } = {}) {
  // The environment of a user's shell, not Jest's: Jest sets NODE_ENV=test and JEST_WORKER_ID,
  // and Gatsby changes behaviour on both (`gatsby develop` fails to compile under NODE_ENV=test).
  const { NODE_ENV, JEST_WORKER_ID, ...inherited } = process.env
  const child = spawn(command, args, {
    cwd,
    env: shellEnv ? { ...inherited, GATSBY_TELEMETRY_DISABLED: '1', CI: 'true', ...env } : { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: group,
  })
  if (group) groups.add(child.pid)
  track(child)
  const timer = timeoutMs && setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  let stdout = ''
  let stderr = ''
  const waiters = []
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = waiter.regex.exec(stdout)
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(match)
      }
    }
  }
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    check()
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  let done = false
  const exited = new Promise((resolve) => {
    child.on('error', (error) => {
      stderr += `\n${error.message}`
    })
    child.on('close', (code, signal) => {
      done = true
      clearTimeout(timer)
      for (const waiter of waiters.splice(0)) {
        waiter.reject(
          new Error(
            `${command} ${args.join(' ')} exited (${code ?? signal}) before printing ${waiter.regex}:\n${stdout}\n${stderr}`,
          ),
        )
      }
      resolve({ code, signal, stdout, stderr })
    })
  })
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    /** Resolves to the first match of `regex` in stdout; rejects if the command ends first. */
    waitForOutput(regex) {
      const match = regex.exec(stdout)
      if (match) return Promise.resolve(match)
      if (done) return Promise.reject(new Error(`${command} exited before printing ${regex}:\n${stdout}\n${stderr}`))
      return new Promise((resolve, reject) => waiters.push({ regex, resolve, reject }))
    },
    /** The first complete line on stdout (rejects if the command ends first). */
    firstLine() {
      return this.waitForOutput(/^(.*)\n/).then((match) => match[1])
    },
    /** Sends `signal` to the whole process group and resolves once the command has exited. */
    stop(signal = 'SIGTERM') {
      killGroup(child.pid, signal)
      return exited
    },
  }
}

/** Runs to completion; rejects with the output when the exit code is not 0. */
async function run(command, args, options) {
  const result = await start(command, args, options).exited
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (exit ${result.code ?? result.signal}) in ${options && options.cwd}:\n` +
        `${result.stdout.slice(-8000)}\n${result.stderr.slice(-8000)}`,
    )
  }
  return result
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal)
  } catch {
    // the whole group is gone already
  }
}

/**
 * SIGKILLs every process group and command started here, every control-channel server
 * and every redis-server still running; resolves once they have all exited.
 */
async function killAll() {
  const waits = [...running].map((child) => new Promise((resolve) => child.once('close', resolve)))
  for (const pgid of groups) killGroup(pgid, 'SIGKILL')
  groups.clear()
  for (const child of running) child.kill('SIGKILL')
  await Promise.all([...waits, killControlled(), killRedis()])
}

module.exports = { start, run, killAll }
