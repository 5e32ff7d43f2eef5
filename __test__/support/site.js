'use strict'
// Starting gatsby-dsg on the example site (built by real Gatsby) in a child process, and HTTP.

const fs = require('fs')
const http = require('http')
const os = require('os')
const path = require('path')
const { startControlled } = require('../../scripts/support/control')

const ROOT = path.resolve(__dirname, '..', '..')
const EXAMPLE = path.join(ROOT, 'example')

function tempDir(prefix = 'gatsby-dsg-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** Starts a server on the example site; resolves to a handle with `get`, `stats`, `setGlobal`, `close`. */
async function startServer(options = {}) {
  const server = await startControlled(path.join(__dirname, 'server-process.js'), {
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

/** One HTTP request with Node's own client (no pooling surprises); the path is sent as given. */
function get(url, { method = 'GET', headers = {} } = {}) {
  const { hostname, port, pathname, search } = new URL(url)
  const rawPath = url.slice(url.indexOf('/', 'http://'.length))
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname, port, path: rawPath || pathname + search, method, headers, agent: false },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          resolve({ status: res.statusCode, headers: res.headers, body })
        })
      },
    )
    req.on('error', reject)
    req.end()
  })
}

module.exports = { startServer, get, tempDir, EXAMPLE, ROOT }
