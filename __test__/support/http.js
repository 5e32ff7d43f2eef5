'use strict'
// HTTP as a test sees it: one request on its own connection (no pooling), the path sent exactly as
// given (hostile paths included), the body raw (Buffers, for compressed bytes, ranges and
// validators) or as text; and one GET that reports what happened on the connection (tracedGet).

const http = require('http')
const zlib = require('zlib')

/**
 * One request, the path sent exactly as given, with an optional `body` (string or Buffer);
 * resolves to `{ status, headers, body: Buffer, chunks }` (`chunks`: the body as it arrived).
 * With `timeoutMs`, rejects when no whole answer came within it (a bounded wait, not a timing
 * assertion).
 */
function request(base, rawPath, { method = 'GET', headers = {}, body, timeoutMs, agent = false } = {}) {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, method, headers, agent }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), chunks }),
      )
    })
    if (timeoutMs) {
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`no answer to ${method} ${rawPath} within ${timeoutMs} ms`)),
      )
    }
    req.on('error', reject)
    req.end(body)
  })
}

/** `request` with the body as text: `{ status, headers, body: string }`. */
async function requestText(base, rawPath, init) {
  const res = await request(base, rawPath, init)
  return { ...res, body: res.body.toString('utf8') }
}

/** A whole URL as `[base, raw path]`, the path left exactly as written (not normalised by URL). */
function splitUrl(url) {
  const at = url.indexOf('/', 'http://'.length)
  return at === -1 ? [url, '/'] : [url.slice(0, at), url.slice(at)]
}

/** `requestText` by whole URL (`http://host:port/raw path`). */
function get(url, init) {
  return requestText(...splitUrl(url), init)
}

/** `request` by whole URL, resolving with both `body` (a Buffer) and `text` (it as UTF-8). */
async function fetchRaw(url, init) {
  const res = await request(...splitUrl(url), init)
  return { ...res, text: res.body.toString('utf8') }
}

/** The body of `res` decoded as its Content-Encoding says (identity when there is none). */
function decoded(res) {
  switch (res.headers['content-encoding']) {
    case undefined:
      return res.body
    case 'br':
      return zlib.brotliDecompressSync(res.body)
    case 'gzip':
      return zlib.gunzipSync(res.body)
    default:
      throw new Error(`unexpected content-encoding ${res.headers['content-encoding']}`)
  }
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

module.exports = { request, requestText, get, fetchRaw, tracedGet, decoded }
