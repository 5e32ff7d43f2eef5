'use strict'
// For the operations tests: a server process with the whole server handle (support/
// server-process.js), Prometheus text, and the files a cache directory holds.

const fs = require('fs')
const path = require('path')
const { startControlled } = require('../../scripts/support/control')
const { EXAMPLE } = require('./site')
const { requestText } = require('./http')

/**
 * Starts a server on the example site (or `options.root`) in a child process. The handle has
 * `get`, `stats`, `metrics`, `purge`, `deferredPages`, `warm`, `setGlobal`, `stdout`, `stderr`,
 * `close`. `env` is added to the process environment.
 */
async function startOpsServer(options = {}, { env = {} } = {}) {
  // No admin token from the environment unless the test gives one.
  const { GATSBY_DSG_ADMIN_TOKEN, ...inherited } = process.env
  const server = await startControlled(
    path.join(__dirname, 'server-process.js'),
    { root: EXAMPLE, host: '127.0.0.1', port: 0, ...options },
    { env: { ...inherited, ...env } },
  )
  const { call } = server
  return Object.assign(server, {
    get: (urlPath, init) => requestText(server.base, urlPath, init),
    metrics: async () => (await call('metrics')).metrics,
    purge: async (target) => (await call('purge', { target })).purged,
    deferredPages: async (glob) => (await call('deferredPages', { glob })).pages,
    warm: async (pagePath) => (await call('warm', { path: pagePath })).outcome,
    setGlobal: (name, value) => call('setGlobal', { name, value }),
  })
}

/**
 * Prometheus text exposition as a lookup: `value(name, labels)` is the sample's value (0 when
 * absent), labels matched exactly.
 */
function parseMetrics(text) {
  const samples = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/)
    if (!m) throw new Error(`not a Prometheus sample: ${line}`)
    const labels = {}
    for (const [, k, v] of (m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v
    samples.push({ name: m[1], labels, value: Number(m[3]) })
  }
  const same = (a, b) =>
    Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => a[k] === String(b[k]))
  return {
    samples,
    has: (name) => samples.some((s) => s.name === name),
    value: (name, labels = {}) => {
      const found = samples.find((s) => s.name === name && same(s.labels, labels))
      return found ? found.value : 0
    },
  }
}

/** Every file under `dir` (relative paths), without the lock file. */
function filesUnder(dir) {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== '.lock')
    .map((e) => path.relative(dir, path.join(e.parentPath || e.path, e.name)))
    .sort()
}

module.exports = { startOpsServer, parseMetrics, filesUnder }
