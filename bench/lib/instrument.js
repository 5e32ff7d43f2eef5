'use strict'
// Preloaded (`node -r`) into gatsby-dsg's process when the bench wants to know where a first
// request's time goes. It wraps lib/gatsby-engines' createRenderer — in the main thread and in
// every render worker thread (workers inherit `-r`) — so each render callback is timed from its
// call to its page-data and to its HTML. Workers send their timings to the main thread over a
// BroadcastChannel; the main thread keeps them in `globalThis.__gatsbyDsgBenchTimings`.

const path = require('path')
const { performance } = require('perf_hooks')
const { BroadcastChannel, isMainThread } = require('worker_threads')

const CHANNEL = 'gatsby-dsg-bench-timings'
const MAX = 100_000

let record
if (isMainThread) {
  const timings = (globalThis.__gatsbyDsgBenchTimings = [])
  record = (t) => timings.length < MAX && timings.push(t)
  const channel = new BroadcastChannel(CHANNEL)
  channel.onmessage = (event) => record(event.data)
  channel.unref()
} else {
  const channel = new BroadcastChannel(CHANNEL)
  channel.unref()
  record = (t) => channel.postMessage(t)
}

const engines = require(path.join(__dirname, '..', '..', 'lib', 'gatsby-engines'))
const original = engines.createRenderer
engines.createRenderer = (...args) => {
  const render = original(...args)
  return async (pagePath, ...rest) => {
    const t0 = performance.now()
    const result = await render(pagePath, ...rest)
    const pageDataMs = performance.now() - t0
    // A render asked for its HTML first resolves with the HTML itself (then pageDataMs is htmlMs).
    Promise.resolve(result.html).then(
      // `at`: wall-clock time of the call (ms), comparable with the client's in another process.
      () =>
        record({
          pagePath,
          at: performance.timeOrigin + t0,
          pageDataMs,
          htmlMs: performance.now() - t0,
          main: isMainThread,
        }),
      () => {},
    )
    return result
  }
}
