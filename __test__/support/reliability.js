'use strict'
// For reliability.test.js: servers in child processes that a test may SIGKILL (support/processes.js
// `killAll` ends what is left), and a check of every artifact gatsby-dsg stored on disk.

const fs = require('fs')
const path = require('path')
const { startControlled: startChild } = require('../../scripts/support/control')
const { fetchRaw } = require('./http')
const { ROOT, EXAMPLE } = require('./site')
const zlib = require('zlib')

/**
 * Starts `node <script> <JSON options>` with its JSON-lines control channel (scripts/support/control.js),
 * the handle with `get` (support/http.js `fetchRaw`: the body as a Buffer and as `text`; no
 * answer within 30 s unless told is an error) and `request(cmd)` (= `call`).
 */
async function startControlled(script, options, { nodeArgs = [] } = {}) {
  const server = await startChild(script, options, { nodeArgs })
  return Object.assign(server, {
    get: (urlPath, init) => fetchRaw(server.base + urlPath, { timeoutMs: 30_000, ...init }),
    request: server.call,
  })
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
  startControlled,
  startExample,
  walk,
  isTemp,
  checkArtifacts,
  buildDirs,
  urlOf,
  pageDataUrlOf,
  rssOf,
}
