'use strict'
// A render worker thread: loads Gatsby's engines once and registers its render callback with the
// Rust server (by the server's id: this thread cannot reach the server object itself).

const v8 = require('v8')
const { parentPort, workerData } = require('worker_threads')
const { registerRenderer, unregisterRenderer } = require('..')
const { loadEngines, createRenderer, createSsrRenderer } = require('./gatsby-engines')

withoutLmdbExitListener()
withoutBuildState()
const engines = loadEngines(workerData.root)
const collectGarbage = garbageCollector()
const id = registerRenderer(workerData.serverId, createRenderer(engines), createSsrRenderer(engines))
// However this thread ends (process.exit, an uncaught error), it leaves the server first: the
// renders queued to it fail at once and no more are sent here, instead of each failing as Node
// drops it and the pool sending the next one to the same dying thread.
process.on('exit', () => unregisterRenderer(workerData.serverId, id))
// Ready with the load's garbage collected: the growth the pool measures from here is rendering's.
collectGarbage()
parentPort.postMessage({ ready: true, id, memory: ownMemory() })
// The pool asks for a full collection once this worker's heap has grown by half its budget
// (lib/render-workers.js collectGrown): most of that growth is garbage V8 has not collected yet,
// and collected, it leaves room in the committed heap instead of a reload of Gatsby's engine.
parentPort.on('message', (message) => {
  if (!message || !message.collect) return
  collectGarbage()
  parentPort.postMessage({ collected: true, memory: ownMemory() })
})
// Listening does not keep the thread alive either: its renderer registration does, until it ends.
parentPort.unref()
// What this thread's own memory is, every `memorySampleMs`: the pool recycles a worker by its
// growth (lib/render-workers.js). Unref'd: it never keeps the thread alive.
setInterval(() => parentPort.postMessage({ memory: ownMemory() }), workerData.memorySampleMs).unref()

/**
 * This thread's own memory: its V8 heap (committed) and the memory outside it that V8 knows of
 * (ArrayBuffers, Buffers, external strings). There is no per-thread RSS; process.memoryUsage()'s
 * rss is the whole process's. getHeapStatistics is cheap (no heap walk).
 */
function ownMemory() {
  const heap = v8.getHeapStatistics()
  return heap.total_heap_size + heap.external_memory
}

/**
 * A full (major) garbage collection of this thread's heap, as `global.gc()` with `--expose-gc`.
 * V8 flags are the process's, and `gc` is set up in contexts made after the flag: one made here.
 * Measured at 4,000 pages, one engine rendering 6,000 distinct pages with no forced collection: its
 * committed heap went 87 → 183 MiB before V8's first major collection, with 64 MiB in use after
 * one, as when it had loaded (a heap snapshot diff over 2,000 more renders: nothing kept per page).
 */
function garbageCollector() {
  v8.setFlagsFromString('--expose-gc')
  return require('vm').runInNewContext('gc')
}

/**
 * lmdb-js (bundled in Gatsby's engines) closes its databases from a native `process.on('exit')`
 * listener. In a worker thread that ends itself (process.exit, an uncaught error) that listener
 * unmaps a database while lmdb's own background sync of it may still run on libuv's thread pool:
 * the whole process dies with SIGSEGV in mdb_env_sync. lmdb also closes its databases from a
 * Node environment cleanup hook, which Node runs only once this thread's pool work is done, so
 * the listener is not needed here: it is never installed in a render worker.
 */
function withoutLmdbExitListener() {
  const isNative = (listener) => /\{\s*\[native code\]\s*\}$/.test(Function.prototype.toString.call(listener))
  for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']) {
    const add = process[method]
    process[method] = function (event, listener, ...rest) {
      if (event === 'exit' && typeof listener === 'function' && isNative(listener)) return this
      return add.call(this, event, listener, ...rest)
    }
  }
}

/**
 * Gatsby's query engine, when it loads, reads the build's whole Redux state from `.cache/redux`
 * (every page, query and HTML file the build tracked: 141 MB of files at 200,000 pages) unless
 * GATSBY_WORKER_POOL_WORKER is set, as it is in Gatsby's own worker processes
 * (`configureStore(process.env.GATSBY_WORKER_POOL_WORKER ? {} : readState())`). Rendering does not
 * need it: the engine sets up its schema, plugins and path prefix itself, page-ssr carries its
 * own page list, and hosts such as Netlify's run the engines with no `.cache/redux` at all. One
 * engine measured (RSS growth while it loaded): 180 → 149 MiB at 10,000 pages, 367 → 287 MiB at
 * 50,000 (1,244 → 855 MiB at 200,000 in issue 17's measurement); output byte for byte the same
 * (__test__/render-worker-memory.test.js renders every deferred page of the example both ways). What it costs: the build's finished jobs (image and file processing) are not known to
 * the worker, so a render needing one runs it again, writing the same file. In a worker thread
 * `process.env` is the thread's own copy, and nothing else in Gatsby's engines reads the variable
 * in a thread (the other two uses need `process.send`, which a thread does not have).
 */
function withoutBuildState() {
  process.env.GATSBY_WORKER_POOL_WORKER = '1'
}
