'use strict'
// For the operations tests: a server process with the whole server handle (support/
// server-process.js), HTTP with connection-level outcomes, Prometheus text, bounded polls.

const fs = require('fs')
const http = require('http')
const path = require('path')
const { startControlled, killControlled } = require('../../scripts/support/control')
const { EXAMPLE } = require('./site')
const { request: rawRequest, waitFor, sleep, idle } = require('./http')

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
    get: (urlPath, init) => request(server.base, urlPath, init),
    metrics: async () => (await call('metrics')).metrics,
    purge: async (target) => (await call('purge', { target })).purged,
    deferredPages: async (glob) => (await call('deferredPages', { glob })).pages,
    warm: async (pagePath) => (await call('warm', { path: pagePath })).outcome,
    setGlobal: (name, value) => call('setGlobal', { name, value }),
  })
}

/** Kills every server process still running (for afterAll). */
const killServers = killControlled

/** One request on its own connection, the path sent as given: `{ status, headers, body }` (text). */
async function request(base, rawPath, init) {
  const res = await rawRequest(base, rawPath, init)
  return { ...res, body: res.body.toString('utf8') }
}

/**
 * One GET that never rejects, resolving to what happened on the connection:
 * `{ outcome: 'complete', status, body }` when the whole response arrived (its length checked
 * against Content-Length); `'refused'` when no connection was made; `'reset-before-response'`
 * when the connection was made but closed before any response byte; `'broken'` when a response
 * started and did not finish. `sent` resolves once the request is written to the connection.
 */
function tracedGet(base, rawPath) {
  const { hostname, port } = new URL(base)
  let markSent
  const sent = new Promise((resolve) => (markSent = resolve))
  const done = new Promise((resolve) => {
    let connected = false
    let responded = false
    const settle = (result) => {
      markSent(false)
      resolve({ path: rawPath, ...result })
    }
    const req = http.request({ hostname, port, path: rawPath, agent: false })
    req.on('socket', (socket) => socket.on('connect', () => (connected = true)))
    req.on('finish', () => markSent(true))
    req.on('response', (res) => {
      responded = true
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('error', (error) => settle({ outcome: 'broken', error: error.code || error.message }))
      res.on('aborted', () => settle({ outcome: 'broken', error: 'aborted' }))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        const length = Number(res.headers['content-length'])
        if (!res.complete || (Number.isFinite(length) && length !== body.length)) {
          settle({ outcome: 'broken', error: `got ${body.length} of ${length} bytes` })
        } else {
          settle({
            outcome: 'complete',
            status: res.statusCode,
            cache: res.headers['x-dsg-cache'],
            body: body.toString('utf8'),
          })
        }
      })
    })
    req.on('error', (error) => {
      if (responded) settle({ outcome: 'broken', error: error.code || error.message })
      else if (!connected) settle({ outcome: 'refused', error: error.code || error.message })
      else settle({ outcome: 'reset-before-response', error: error.code || error.message })
    })
    req.end()
  })
  return { sent, done }
}

/** Polls `condition` (sync or async) until it is truthy; throws after `attempts` tries. */
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

/** The example's deferred pages (its manifest), as URL paths ready to send. */
function exampleDeferredPages(root = EXAMPLE) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'))
  return manifest.pages.map((p) => (typeof p === 'string' ? p : p.path))
}

module.exports = {
  startOpsServer,
  killServers,
  request,
  tracedGet,
  waitFor,
  sleep,
  idle,
  parseMetrics,
  filesUnder,
  exampleDeferredPages,
}
