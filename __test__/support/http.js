'use strict'
// HTTP with raw bodies (Buffers), for tests that look at compressed bytes, ranges and validators;
// and bounded polling for work the server finishes in the background.

const http = require('http')
const zlib = require('zlib')

/**
 * One request, the path sent exactly as given, with an optional `body` (string or Buffer);
 * resolves to `{ status, headers, body: Buffer, chunks }` (`chunks`: the body as it arrived).
 */
function request(base, rawPath, { method = 'GET', headers = {}, body } = {}) {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: rawPath, method, headers, agent: false }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), chunks }),
      )
    })
    req.on('error', reject)
    req.end(body)
  })
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
 * Polls `condition` (sync or async) until it is truthy; throws after `attempts` tries, naming
 * `what` (a string, or a function describing the state at that moment). Returns its value.
 */
async function waitFor(condition, { attempts = 400, intervalMs = 25, what = 'condition' } = {}) {
  for (let i = 0; i < attempts; i++) {
    const value = await condition()
    if (value) return value
    await sleep(intervalMs)
  }
  throw new Error(`${typeof what === 'function' ? what() : what} not met after ${attempts} attempts`)
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Until the server has no render, compression or disk write under way. */
function idle(server) {
  return waitFor(async () => (await server.stats()).rendersInFlight === 0, { what: 'rendersInFlight === 0' })
}

module.exports = { request, decoded, waitFor, sleep, idle }
