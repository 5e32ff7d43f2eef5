'use strict'
// Running the `gatsby-dsg` command line (bin/gatsby-dsg.js) as a child process, as
// support/processes.js starts commands (its `killAll` ends what a test left running).

const path = require('path')
const { start } = require('./processes')

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'gatsby-dsg.js')

/**
 * Starts `node bin/gatsby-dsg.js ...args` in the test's process group and environment. The handle
 * is that of processes.js `start` (`exited`, `stdout()`, `stderr()`, `firstLine()`, ...) with
 * `signal(name)`, which signals the CLI's process alone. `timeoutMs`: SIGKILLed after that long.
 */
function runCli(args, { cwd, timeoutMs } = {}) {
  const handle = start(process.execPath, [BIN, ...args], { cwd, timeoutMs, group: false, shellEnv: false })
  return Object.assign(handle, { signal: (name) => handle.child.kill(name) })
}

/** Runs to completion; resolves to `{ code, signal, stdout, stderr }`. */
function runCliToEnd(args, options) {
  return runCli(args, options).exited
}

/**
 * The arguments of `gatsby-dsg serve` on `root` with `cacheDir`, on a port the kernel picks on
 * 127.0.0.1, then `extra`.
 */
function serveArgs(root, cacheDir, ...extra) {
  return ['serve', '--root', root, '-p', '0', '-H', '127.0.0.1', '--cache-dir', cacheDir, ...extra]
}

/** The base URL (`http://127.0.0.1:<port>`) the start-up line of `gatsby-dsg serve` names. */
function baseOf(startupLine) {
  const port = Number(startupLine.match(/http:\/\/127\.0\.0\.1:(\d+)\//)[1])
  return `http://127.0.0.1:${port}`
}

/** The non-empty lines of `text`. */
function lines(text) {
  return text.split('\n').filter((line) => line.trim() !== '')
}

module.exports = { runCli, runCliToEnd, serveArgs, baseOf, lines, BIN }
