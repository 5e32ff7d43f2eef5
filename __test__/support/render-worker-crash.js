'use strict'
// Preloaded (`node -r`) into the render-worker test server; worker threads inherit it. A render
// worker whose thread id is announced on the channel ends itself with `process.exit(1)` — a worker
// dying on its own (as Gatsby's engine calling process.exit, or running out of memory would), not
// terminated by the pool, so the Rust server learns of it only from the dead callback.

const { BroadcastChannel, isMainThread, threadId } = require('worker_threads')

const CHANNEL = 'gatsby-dsg-test-crash'

if (!isMainThread) {
  const channel = new BroadcastChannel(CHANNEL)
  channel.unref()
  channel.onmessage = ({ data }) => {
    if (data && data.threadId === threadId) process.exit(1)
  }
}

/** From the main thread: asks the worker thread `threadId` to exit. */
function crashWorker(workerThreadId) {
  const channel = new BroadcastChannel(CHANNEL)
  channel.postMessage({ threadId: workerThreadId })
  channel.close()
}

module.exports = { crashWorker, CHANNEL }
