'use strict'
// Node's own HTTP client, for what wrk cannot do: first requests of distinct pages, a stampede,
// exact response sizes. Every loop is bounded by a count and a deadline.

const http = require('http')
const { performance } = require('perf_hooks')

/** One GET; resolves to `{ status, headers, body (Buffer, as sent on the wire), ms }`. */
function request(base, urlPath, { headers = {}, agent = false, timeoutMs = 60_000 } = {}) {
  const { hostname, port } = new URL(base)
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: urlPath, method: 'GET', headers, agent }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks),
          ms: performance.now() - started,
        }),
      )
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: GET ${urlPath}`)))
    req.on('error', reject)
    req.end()
  })
}

/** Polls `base + urlPath` until it answers (any status) or `timeoutMs` passes. */
async function waitForHttp(base, urlPath = '/', timeoutMs = 120_000, isAlive = () => true) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`the server exited while starting`)
    try {
      return await request(base, urlPath, { timeoutMs: 5000 })
    } catch (error) {
      last = error
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  throw new Error(`${base}${urlPath} did not answer within ${timeoutMs / 1000} s: ${last && last.message}`)
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

function summarize(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b)
  const mean = sorted.reduce((s, x) => s + x, 0) / (sorted.length || 1)
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean,
    max: sorted[sorted.length - 1],
  }
}

function countStatus(statuses, status) {
  statuses[status] = (statuses[status] || 0) + 1
}

/**
 * Sequential GETs over `paths` (one keep-alive connection), each timed; stops at the end of the
 * list or at `maxMs`.
 */
async function sequential(base, paths, { maxMs = 30_000, headers } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const latencies = []
  const samples = [] // wall-clock send and end (ms) of each request, for joining with a server's log
  const statuses = {}
  const deadline = Date.now() + maxMs
  try {
    for (const p of paths) {
      if (Date.now() > deadline) break
      const send = performance.timeOrigin + performance.now()
      const res = await request(base, p, { agent, headers })
      samples.push({ path: p, send, end: performance.timeOrigin + performance.now() })
      countStatus(statuses, res.status)
      latencies.push(res.ms)
    }
  } finally {
    agent.destroy()
  }
  return { ...summarize(latencies), statuses, samples }
}

/**
 * `concurrency` clients on keep-alive connections, each taking the next path of `paths` (every
 * path asked once); stops at the end of the list or at `maxMs`.
 */
async function pool(base, paths, { concurrency = 50, maxMs = 10_000, headers } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const latencies = []
  const statuses = {}
  const errors = []
  let next = 0
  const started = performance.now()
  const deadline = Date.now() + maxMs
  const client = async () => {
    while (next < paths.length && Date.now() < deadline) {
      const p = paths[next++]
      try {
        const res = await request(base, p, { agent, headers })
        countStatus(statuses, res.status)
        latencies.push(res.ms)
      } catch (error) {
        errors.push(error.message)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, client))
  } finally {
    agent.destroy()
  }
  const elapsedMs = performance.now() - started
  return { ...summarize(latencies), completed: latencies.length, elapsedMs, statuses, errors }
}

/** `n` simultaneous GETs of one path, each on its own connection. */
async function stampede(base, urlPath, n) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
  const started = performance.now()
  try {
    const settled = await Promise.allSettled(Array.from({ length: n }, () => request(base, urlPath, { agent })))
    const ok = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value)
    const statuses = {}
    ok.forEach((r) => countStatus(statuses, r.status))
    const bodies = new Set(ok.filter((r) => r.status === 200).map((r) => r.body.toString('utf8')))
    return {
      ...summarize(ok.map((r) => r.ms)),
      statuses,
      errors: settled.filter((s) => s.status === 'rejected').map((s) => s.reason.message),
      distinctBodies: bodies.size,
      elapsedMs: performance.now() - started,
    }
  } finally {
    agent.destroy()
  }
}

module.exports = { request, waitForHttp, sequential, pool, stampede, summarize, percentile }
