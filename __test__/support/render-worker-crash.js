'use strict'
// Preloaded (`node -r`) into the render-worker test server; worker threads inherit it. A render
// worker whose thread id is announced on the channel ends itself — with `process.exit(1)`, or by an
// uncaught error — as a worker dies on its own (Gatsby's engine calling process.exit, a bug in a
// template's async code), not terminated by the pool.

const { BroadcastChannel, isMainThread, threadId } = require('worker_threads')

const CHANNEL = 'gatsby-dsg-test-crash'

if (!isMainThread) {
  const channel = new BroadcastChannel(CHANNEL)
  channel.unref()
  channel.onmessage = ({ data }) => {
    if (!data || data.threadId !== threadId) return
    if (data.how === 'throw') throw new Error('render worker test: an uncaught error')
    process.exit(1)
  }
}

/** From the main thread: asks the worker thread `threadId` to end itself, `how`: `exit` or `throw`. */
function crashWorker(workerThreadId, how = 'exit') {
  const channel = new BroadcastChannel(CHANNEL)
  channel.postMessage({ threadId: workerThreadId, how })
  channel.close()
}

module.exports = { crashWorker, CHANNEL }
