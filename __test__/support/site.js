'use strict'
// Starting gatsby-dsg on the example site (built by real Gatsby) in a child process, and HTTP.

const { spawn } = require('child_process')
const fs = require('fs')
const http = require('http')
const os = require('os')
const path = require('path')
const readline = require('readline')

const ROOT = path.resolve(__dirname, '..', '..')
const EXAMPLE = path.join(ROOT, 'example')

function tempDir(prefix = 'gatsby-dsg-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** Starts a server on the example site; resolves to a handle with `get`, `stats`, `close`. */
function startServer(options = {}) {
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'server-process.js'), JSON.stringify({ root: EXAMPLE, host: '127.0.0.1', port: 0, ...options })],
    { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdout.resume()
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const control = child.stdio[3]
  const replies = new Map()
  let onFirst
  readline.createInterface({ input: control }).on('line', (line) => {
    const message = JSON.parse(line)
    if (message.id && replies.has(message.id)) {
      replies.get(message.id)(message)
      replies.delete(message.id)
    } else if (onFirst) {
      onFirst(message)
      onFirst = null
    }
  })
  let nextId = 0
  const request = (cmd, args = {}) =>
    new Promise((resolve) => {
      const id = ++nextId
      replies.set(id, resolve)
      control.write(`${JSON.stringify({ ...args, cmd, id })}\n`)
    })
  return new Promise((resolve, reject) => {
    onFirst = (message) => {
      if (message.error) return reject(new Error(`server did not start: ${message.error}`))
      const base = `http://127.0.0.1:${message.port}`
      resolve({
        child,
        base,
        port: message.port,
        summary: message.summary,
        exited,
        stderr: () => stderr,
        get: (urlPath, init) => get(base + urlPath, init),
        stats: async () => (await request('stats')).stats,
        setGlobal: async (name, value) => request('setGlobal', { name, value }),
        close: async () => {
          await request('close')
          return exited
        },
      })
    }
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)))
  })
}

/** One HTTP request with Node's own client (no pooling surprises); the path is sent as given. */
function get(url, { method = 'GET', headers = {} } = {}) {
  const { hostname, port, pathname, search } = new URL(url)
  const rawPath = url.slice(url.indexOf('/', 'http://'.length))
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath || pathname + search, method, headers, agent: false }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        resolve({ status: res.statusCode, headers: res.headers, body })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

module.exports = { startServer, get, tempDir, EXAMPLE, ROOT }
