'use strict'
// Shared by reliability.test.js and scripts/soak.js: servers in child processes that a test may
// SIGKILL (every one is tracked, so afterAll can kill what is left), raw HTTP, and a check of
// every artifact gatsby-dsg stored on disk.

const { spawn } = require('child_process')
const fs = require('fs')
const http = require('http')
const path = require('path')
const { startControlled: startChild, killControlled } = require('../../scripts/support/control')
const { waitFor: pollUntil } = require('./http')
const zlib = require('zlib')

const ROOT = path.resolve(__dirname, '..', '..')
const EXAMPLE = path.join(ROOT, 'example')
const BIN = path.join(ROOT, 'bin', 'gatsby-dsg.js')

/** CLI runs (runCli) still running. */
const children = new Set()

/**
 * Starts `node <script> <JSON options>` with its JSON-lines control channel (scripts/support/control.js),
 * the handle with `get` (raw HTTP, the body as a Buffer) and `request(cmd)` (= `call`).
 */
async function startControlled(script, options, { nodeArgs = [] } = {}) {
  const server = await startChild(script, options, { nodeArgs })
  return Object.assign(server, { get: (urlPath, init) => fetchRaw(server.base + urlPath, init), request: server.call })
}

/** gatsby-dsg on the example site (lib/serve.js in a child), as __test__/support/site.js starts it. */
function startExample(options = {}) {
  return startControlled(path.join(__dirname, 'server-process.js'), {
    root: EXAMPLE,
    host: '127.0.0.1',
    port: 0,
    ...options,
  })
}

/** Runs `node bin/gatsby-dsg.js ...args` to its end (killed after `timeoutMs`). */
function runCli(args, { cwd = ROOT, timeoutMs = 60_000 } = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (c) => (stdout += c))
  child.stderr.on('data', (c) => (stderr += c))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, signal, stdout, stderr })
    }),
  )
}

/** SIGKILLs every child started here (servers and CLI runs) that is still running. */
async function killAll() {
  const waits = []
  for (const child of children) {
    waits.push(new Promise((resolve) => child.once('close', resolve)))
    child.kill('SIGKILL')
  }
  await Promise.all([...waits, killControlled()])
}

/**
 * One request with Node's client, no pooling, the path sent as given; the body as a Buffer.
 * Rejects on a network error or after `timeoutMs` (a bounded wait, not a timing assertion).
 */
function fetchRaw(url, { method = 'GET', headers = {}, timeoutMs = 30_000, agent = false } = {}) {
  const { hostname, port } = new URL(url)
  const rawPath = url.slice(url.indexOf('/', 'http://'.length))
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, method, headers, agent }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        resolve({ status: res.statusCode, headers: res.headers, body, text: body.toString('utf8') })
      })
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${method} ${rawPath} within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

/** Polls `condition` until it holds; throws after `attempts` tries. */
function waitFor(what, condition, options = {}) {
  return pollUntil(condition, { ...options, what })
}

function walk(dir) {
  const out = []
  if (!fs.existsSync(dir)) return out
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...walk(full))
    else out.push(full)
  }
  return out
}

const isTemp = (file) => {
  const name = path.basename(file)
  return name.startsWith('.') && name.endsWith('.tmp')
}

/**
 * Checks every file under `dir` (a cache directory): each page-data.json parses as JSON, each
 * index.html ends with `</html>`, each .br/.gz decodes to its identity file. Returns what it
 * found; `problems` lists torn files. A variant whose identity file is absent (a process killed
 * between the renames of one write: variants are renamed first) is listed in `orphanVariants`:
 * it is never served, since the identity file is read first.
 */
function checkArtifacts(dir) {
  const report = { html: [], pageData: [], variants: [], orphanVariants: [], temps: [], other: [], problems: [] }
  for (const file of walk(dir)) {
    const name = path.basename(file)
    if (isTemp(file)) {
      report.temps.push(file)
    } else if (name === '.lock') {
      // held by a running server
    } else if (name.endsWith('.br') || name.endsWith('.gz')) {
      const identity = file.slice(0, -3)
      const encoded = fs.readFileSync(file)
      let decoded
      try {
        decoded = name.endsWith('.br') ? zlib.brotliDecompressSync(encoded) : zlib.gunzipSync(encoded)
      } catch (error) {
        report.problems.push(`${file} does not decode: ${error.message}`)
        continue
      }
      if (!fs.existsSync(identity)) {
        report.orphanVariants.push(file)
      } else if (!decoded.equals(fs.readFileSync(identity))) {
        report.problems.push(`${file} does not decode to ${path.basename(identity)}`)
      } else {
        report.variants.push(file)
      }
    } else if (name === 'page-data.json') {
      try {
        JSON.parse(fs.readFileSync(file, 'utf8'))
        report.pageData.push(file)
      } catch (error) {
        report.problems.push(`${file} is not JSON: ${error.message}`)
      }
    } else if (name === 'index.html') {
      const text = fs.readFileSync(file, 'utf8')
      if (text.trimEnd().endsWith('</html>')) report.html.push(file)
      else report.problems.push(`${file} does not end with </html> (${text.length} bytes)`)
    } else {
      report.other.push(file)
    }
  }
  return report
}

/** The build directory under a cache directory (the one whose name is 20 hex digits). */
function buildDirs(cacheDir) {
  if (!fs.existsSync(cacheDir)) return []
  return fs
    .readdirSync(cacheDir)
    .filter((name) => /^[0-9a-f]{20}$/.test(name))
    .map((name) => path.join(cacheDir, name))
}

/** The deferred pages of the example site, as its build listed them. */
function exampleDeferredPages() {
  const manifest = JSON.parse(
    fs.readFileSync(path.join(EXAMPLE, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'),
  )
  return manifest.pages
}

/** A page path's URL as a client sends it (non-ASCII percent-encoded). */
function urlOf(pagePath) {
  return pagePath
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/')
}

/** Its page-data URL. */
function pageDataUrlOf(pagePath) {
  const inner = pagePath.replace(/^\/|\/$/g, '') || 'index'
  return `/page-data/${urlOf(inner)}/page-data.json`
}

/** VmRSS of a process, in bytes (Linux). */
function rssOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /VmRSS:\s+(\d+) kB/.exec(status)
  return match ? Number(match[1]) * 1024 : NaN
}

module.exports = {
  ROOT,
  EXAMPLE,
  BIN,
  startControlled,
  startExample,
  runCli,
  killAll,
  fetchRaw,
  waitFor,
  walk,
  isTemp,
  checkArtifacts,
  buildDirs,
  exampleDeferredPages,
  urlOf,
  pageDataUrlOf,
  rssOf,
}
