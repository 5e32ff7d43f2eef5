'use strict'
// The example site (built by real Gatsby) and gatsby-dsg serving it in a child process behind the
// control channel (scripts/support/control.js); temp directories.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { startControlled } = require('../../scripts/support/control')
const { get } = require('./http')

const ROOT = path.resolve(__dirname, '..', '..')
const EXAMPLE = path.join(ROOT, 'example')

function tempDir(prefix = 'gatsby-dsg-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

// Temp directories made by trackedTempDir, until removeTempDirs.
const made = []

/** A new temp directory that `removeTempDirs` removes (for afterAll). */
function trackedTempDir(prefix) {
  const dir = tempDir(prefix)
  made.push(dir)
  return dir
}

/** Removes every directory trackedTempDir made. */
function removeTempDirs() {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
}

/**
 * Starts a server on the example site (or `options.root`) in a child process running `script`
 * (support/server-process.js unless told); resolves to a handle with `get` (support/http.js `get`,
 * the body as text), `stats`, `setGlobal`, `close`.
 */
async function startServer(options = {}, { script = path.join(__dirname, 'server-process.js') } = {}) {
  const server = await startControlled(script, {
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

/** The deferred pages of a built site (the example unless told), as its manifest lists them: URL paths. */
function exampleDeferredPages(root = EXAMPLE) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'))
  return manifest.pages.map((p) => (typeof p === 'string' ? p : p.path))
}

/** What `action` resolved to, and how many renders `server` did while it ran. */
async function rendersDuring(server, action) {
  const before = (await server.stats()).renders
  const result = await action()
  return { result, renders: (await server.stats()).renders - before }
}

module.exports = {
  startServer,
  get,
  rendersDuring,
  tempDir,
  trackedTempDir,
  removeTempDirs,
  exampleDeferredPages,
  EXAMPLE,
  ROOT,
}
