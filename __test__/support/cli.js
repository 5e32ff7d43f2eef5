'use strict'
// Running the `gatsby-dsg` command line (bin/gatsby-dsg.js) as a child process.

const { spawn } = require('child_process')
const path = require('path')

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'gatsby-dsg.js')

// Every child started here, so a failing test cannot leave one running.
const children = new Set()

/**
 * Starts `node bin/gatsby-dsg.js ...args`. The handle collects stdout and stderr and exposes
 * `exited` (resolves to `{ code, signal, stdout, stderr }`) and `firstLine()` (the first stdout line).
 */
function runCli(args, { cwd } = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stdout = ''
  let stderr = ''
  let closed = false
  const lineWaiters = []
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    stdout += chunk
    if (stdout.includes('\n')) while (lineWaiters.length) lineWaiters.shift().resolve(stdout.split('\n')[0])
  })
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      closed = true
      children.delete(child)
      while (lineWaiters.length) {
        lineWaiters.shift().reject(new Error(`gatsby-dsg exited (${code ?? signal}) before printing a line: ${stderr}`))
      }
      resolve({ code, signal, stdout, stderr })
    })
  })
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    /** The first complete line on stdout (rejects if the process ends first). */
    firstLine: () => {
      if (stdout.includes('\n')) return Promise.resolve(stdout.split('\n')[0])
      if (closed) return Promise.reject(new Error(`gatsby-dsg exited before printing a line: ${stderr}`))
      return new Promise((resolve, reject) => lineWaiters.push({ resolve, reject }))
    },
    signal: (name) => child.kill(name),
  }
}

/** Runs to completion. */
function runCliToEnd(args, options) {
  return runCli(args, options).exited
}

/** Kills every child still running (for afterEach/afterAll). */
async function killAll() {
  const waits = []
  for (const child of children) {
    waits.push(new Promise((resolve) => child.once('close', resolve)))
    child.kill('SIGKILL')
  }
  await Promise.all(waits)
}

/** The non-empty lines of `text`. */
function lines(text) {
  return text.split('\n').filter((line) => line.trim() !== '')
}

module.exports = { runCli, runCliToEnd, killAll, lines, BIN }
