'use strict'
// Preloaded (`node -r`) into the render-worker test server; worker threads inherit it. A render
// worker armed over the channel ends at the start of its Nth render from then on — with
// `process.exit(1)`, by an uncaught error (as a worker dies on its own: Gatsby's engine calling
// process.exit, a bug in a template's async code), or terminated by the pool, which it asks for
// and waits for without running anything else.
//
// Invariant: the worker ends while that render is running: its JavaScript ran and its result has
// not reached the server (the end is a microtask queued from inside the render call; the server's
// reaction to the render's promise is attached after the call returns, so it comes after). So a test that arms a worker before a burst knows that at
// least one render was in flight on it when it ended, whatever the machine's speed: stopping a
// worker from outside at some moment of a burst may land after its renders are done (CI did so
// once: the burst of 40 was answered before the uncaught error came, and none failed).

const { BroadcastChannel, isMainThread, threadId, workerData } = require('worker_threads')

const CHANNEL = 'gatsby-dsg-test-crash'

/** Ways a worker ends: by itself (`exit`, `throw`) or by the pool (`terminate`). */
const HOW = ['exit', 'throw', 'terminate']

/** How long a worker that asked to be terminated waits for it before it exits by itself. */
const TERMINATE_WAIT_MS = 30_000

if (!isMainThread && workerData && workerData.serverId !== undefined) {
  // A render worker (lib/render-worker.js): its render callback is counted, to end at the Nth.
  let armed = null
  const channel = new BroadcastChannel(CHANNEL)
  channel.unref()
  channel.onmessage = ({ data }) => {
    if (!data || data.arm !== threadId) return
    armed = { how: data.how, left: data.atRender }
    channel.postMessage({ armed: threadId })
  }
  const end = (how) => {
    if (how === 'throw') throw new Error('render worker test: an uncaught error')
    if (how === 'exit') process.exit(1)
    channel.postMessage({ terminateMe: threadId })
    // Nothing else runs on this thread until the pool's terminate() stops it.
    const until = Date.now() + TERMINATE_WAIT_MS
    while (Date.now() < until) {
      // (spins: no timer or message of this thread may run)
    }
    process.exit(1)
  }
  const addon = require('../..')
  const register = addon.registerRenderer
  addon.registerRenderer = (serverId, render, ssr) =>
    register(
      serverId,
      (...args) => {
        const rendering = render(...args)
        if (armed && --armed.left === 0) {
          const { how } = armed
          armed = null
          queueMicrotask(() => end(how))
        }
        return rendering
      },
      ssr,
    )
}

/**
 * From the main thread: arms the worker thread `workerThreadId` to end, `how` (`HOW`), at the
 * start of its `atRender`th render from now. Resolves once it is armed. `onTerminate(threadId)` is
 * called when an armed worker asks to be terminated (the pool's terminate()).
 */
function armWorkerEnd(workerThreadId, how, atRender, onTerminate) {
  if (!HOW.includes(how)) throw new Error(`a worker ends by ${HOW.join(', ')}, not ${how}`)
  const channel = new BroadcastChannel(CHANNEL)
  return new Promise((resolve) => {
    channel.onmessage = ({ data }) => {
      if (data && data.armed === workerThreadId) {
        if (how !== 'terminate') channel.close()
        resolve()
      } else if (data && data.terminateMe === workerThreadId) {
        channel.close()
        onTerminate(workerThreadId)
      }
    }
    channel.postMessage({ arm: workerThreadId, how, atRender })
  })
}

module.exports = { armWorkerEnd, CHANNEL, HOW }
