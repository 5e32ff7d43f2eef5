'use strict'
// Every process the bench starts is registered here and killed at the end, even on error or ^C.
// Each runs in its own process group (nginx and gatsby have children): its group is what we kill.
// redis-servers are started and tracked by scripts/support/redis.js; `killAll` ends those too.

const { spawn } = require('child_process')
const { killRedis } = require('../../scripts/support/redis')

const live = new Set()

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {}
  }
}

/** `spawn` in a new process group, registered for cleanup. */
function start(command, args, options = {}) {
  const child = spawn(command, args, { ...options, detached: true })
  live.add(child)
  child.exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child)
      resolve({ code, signal })
    }),
  )
  child.on('error', () => live.delete(child))
  return child
}

/** Asks the group to stop with `signal`, then SIGKILLs it after `graceMs`. */
async function stop(child, { signal = 'SIGTERM', graceMs = 3000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, 'SIGKILL') // leftovers of the group (e.g. orphaned workers), if any
    return
  }
  killGroup(child, signal)
  const timer = new Promise((resolve) => setTimeout(resolve, graceMs, 'timeout'))
  const result = await Promise.race([child.exited, timer])
  killGroup(child, 'SIGKILL')
  if (result === 'timeout') await Promise.race([child.exited, new Promise((r) => setTimeout(r, 1000))])
}

function killAll() {
  for (const child of live) killGroup(child, 'SIGKILL')
  live.clear()
  killRedis() // signals at once; the exit handler cannot wait
}

let installed = false
function installExitHandlers() {
  if (installed) return
  installed = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      killAll()
      process.exit(130)
    })
  }
}

module.exports = { start, stop, killAll, installExitHandlers }
