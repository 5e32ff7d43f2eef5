'use strict'
// A pool of Node worker threads, each running Gatsby's engines and rendering for the Rust server,
// which sends each render to the least busy one. A worker that exits is replaced; one whose render
// outlives the render timeout is terminated (that render fails with 500, not cached) and replaced.
// A worker that has rendered `recycleAfter` pages is recycled: Gatsby's engine keeps growing with
// every distinct page it renders, and only ending its thread gives that memory back.

const os = require('os')
const path = require('path')
const { Worker } = require('worker_threads')
const { releaseFreeMemory } = require('..')

/** Renders after which a worker is recycled (0: never). See README, "Render workers". */
const DEFAULT_RECYCLE_AFTER = 1000

/** After a replacement failed to start, the next recycle waits this long. */
const RECYCLE_RETRY_MS = 60_000

/**
 * Cores one render worker keeps busy. Measured on 2 cores: Gatsby's engine alone, rendering in one
 * thread, used 1.5 cores (its own thread, GC and libuv threads), and a second thread rendered no
 * more (BENCHMARKS.md, render scaling); the server's compression needs the rest.
 */
const CORES_PER_WORKER = 2

/**
 * Memory a worker is given, as a multiple of what the first one cost when it loaded: Gatsby's
 * engine grows with every distinct page it renders until it is recycled (+560 MiB over 10,000
 * pages at 2,000 pages), and a recycle loads the replacement before the worn one ends.
 */
const MEMORY_PER_WORKER_FACTOR = 2

function availableCores() {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
}

/** Bytes this process may still use: free memory, and the cgroup's limit when there is one. */
function availableMemory() {
  const free = os.freemem()
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0
  // Node reports an unlimited cgroup as a huge number (or 0 when there is none).
  if (!limit || limit >= os.totalmem()) return free
  return Math.max(0, Math.min(free, limit - process.memoryUsage.rss()))
}

/**
 * How many render workers to run, from what the first one of this site cost (`firstWorkerBytes`,
 * the process's RSS growth while it loaded) and what the machine has: one per CORES_PER_WORKER
 * cores, and only as many as leave every worker MEMORY_PER_WORKER_FACTOR times its cost (the
 * first one's growth included). At least one. Returns the count and the reason, for the start-up
 * line.
 */
function chooseWorkerCount({ firstWorkerBytes, cores = availableCores(), availableBytes = availableMemory() }) {
  const byCores = Math.max(1, Math.floor(cores / CORES_PER_WORKER))
  const perWorker = Math.max(1, firstWorkerBytes) * MEMORY_PER_WORKER_FACTOR
  // `availableBytes` is measured with the first worker loaded: it still needs room to grow.
  const byMemory = Math.max(1, 1 + Math.floor((availableBytes - perWorker / 2) / perWorker))
  const count = Math.min(byCores, byMemory)
  const mib = (bytes) => `${Math.round(bytes / 2 ** 20)} MiB`
  const reason =
    `auto: ${byCores} for ${cores} cores, ${byMemory} for ${mib(availableBytes)} available ` +
    `at ${MEMORY_PER_WORKER_FACTOR} × ${mib(firstWorkerBytes)} (the first worker's cost)`
  return { count, reason }
}

/** How the default count is chosen, in words (`serve --help`). */
const AUTO_WORKERS = `one per ${CORES_PER_WORKER} cores, as many as memory allows at ${MEMORY_PER_WORKER_FACTOR} × what the first one costs`

class RenderWorkers {
  /** `count`: how many workers; undefined: chosen once the first is ready (chooseWorkerCount). */
  constructor(server, { root, count, renderTimeoutMs, recycleAfter = DEFAULT_RECYCLE_AFTER }) {
    this.server = server
    this.root = root
    this.auto = count === undefined
    this.count = this.auto ? 1 : count
    this.choice = null // { count, reason } when chosen automatically
    this.firstWorkerBytes = null // what the first worker cost (RSS growth while it loaded), when chosen
    this.renderTimeoutMs = renderTimeoutMs
    this.recycleAfter = recycleAfter
    this.workers = new Map() // Worker → renderer id (once ready)
    this.closing = false
    this.replaced = 0
    this.recycled = 0
    this.recycling = null // the recycle in progress: one at a time
    this.recycleRetryAt = 0
  }

  /**
   * Starts the workers; resolves once at least one is ready (rejects if none can start). With no
   * count given, starts one, measures what it cost, and then starts as many more as chosen.
   */
  start() {
    const rssBefore = process.memoryUsage.rss()
    const starts = Array.from({ length: this.count }, () => this.spawn())
    this.startWatchdog()
    const first = Promise.any(starts).catch((error) => {
      throw new Error(`no render worker could start: ${error.errors ? error.errors[0].message : error.message}`)
    })
    if (!this.auto) return first
    return first.then((id) => {
      this.firstWorkerBytes = process.memoryUsage.rss() - rssBefore
      this.choice = chooseWorkerCount({ firstWorkerBytes: this.firstWorkerBytes })
      this.count = this.choice.count
      for (let i = 1; i < this.count && !this.closing; i++) this.spawn().catch(() => {})
      return id
    })
  }

  startWatchdog() {
    this.watchdog = setInterval(() => {
      const renderers = this.server.renderWorkers()
      this.terminateStuck(renderers)
      this.recycleWorn(renderers)
    }, 250)
    this.watchdog.unref()
  }

  spawn() {
    const worker = new Worker(path.join(__dirname, 'render-worker.js'), {
      workerData: { root: this.root, serverId: this.server.serverId },
    })
    this.workers.set(worker, null)
    const ready = new Promise((resolve, reject) => {
      worker.once('message', (message) => {
        if (message && message.ready) {
          this.workers.set(worker, message.id)
          resolve(message.id)
        }
      })
      worker.once('error', (error) => {
        console.error(`gatsby-dsg: render worker failed: ${error.stack || error.message}`)
        reject(error)
      })
      // (A no-op once ready.)
      worker.once('exit', (code) => reject(new Error(`render worker exited with code ${code} before it was ready`)))
    })
    worker.once('exit', () => {
      const id = this.workers.get(worker)
      this.workers.delete(worker)
      if (id !== null && id !== undefined) this.server.removeRenderer(id)
      if (worker.recycled) return // its replacement was started first
      // Replace a worker that died while serving (not one that never started: that would loop).
      if (!this.closing && id !== null && id !== undefined) {
        this.replaced++
        this.spawn().catch(() => {})
      }
    })
    return ready
  }

  /**
   * Workers whose oldest render is older than the render timeout are stuck: terminate them.
   * `renderers`: the Rust pool's view of them (`server.renderWorkers()`).
   */
  terminateStuck(renderers) {
    const stuck = new Set(
      renderers
        .filter(
          (w) => w.oldestRenderMs !== undefined && w.oldestRenderMs !== null && w.oldestRenderMs > this.renderTimeoutMs,
        )
        .map((w) => w.id),
    )
    for (const [worker, id] of this.workers) {
      if (stuck.has(id)) {
        console.error(`gatsby-dsg: render worker ${id} stuck past the render timeout: replacing it`)
        this.server.removeRenderer(id)
        worker.terminate()
      }
    }
  }

  /**
   * The first worker past `recycleAfter` renders is replaced: its replacement starts first (the
   * pool never shrinks), then it gets no more renders, finishes those it has, and is terminated
   * idle, when no render of it can fail.
   */
  recycleWorn(renderers) {
    if (!this.recycleAfter || this.recycling || this.closing || Date.now() < this.recycleRetryAt) return
    const worn = renderers.find((w) => w.renders >= this.recycleAfter && !w.retiring)
    const worker = worn && [...this.workers].find(([, id]) => id === worn.id)?.[0]
    if (!worker) return
    this.recycling = this.recycle(worker, worn.id)
      .catch((error) => {
        // Shutting down while the replacement loads ends it: that is no failure.
        if (this.closing) return
        // The worn worker keeps rendering; a replacement that cannot start (e.g. the site was
        // rebuilt under the server) is not retried in a loop.
        this.recycleRetryAt = Date.now() + RECYCLE_RETRY_MS
        console.error(`gatsby-dsg: recycling render worker ${worn.id} failed, it keeps rendering: ${error.message}`)
      })
      .finally(() => (this.recycling = null))
  }

  async recycle(worker, id) {
    await this.spawn()
    if (this.closing) return
    this.server.retireRenderer(id)
    while (!this.closing) {
      const self = this.server.renderWorkers().find((w) => w.id === id)
      if (!self || self.inFlight === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    worker.recycled = true
    this.server.removeRenderer(id)
    await worker.terminate()
    releaseFreeMemory()
    this.recycled++
  }

  /** Terminates one worker now (tests, and operators via the JS API). */
  terminate(rendererId) {
    for (const [worker, id] of this.workers) {
      if (id !== rendererId) continue
      // Out of the Rust pool first: a dead callback fails at once, so until the exit event
      // removed it, it would be the least busy renderer and fail every queued render sent to it.
      this.server.removeRenderer(id)
      return worker.terminate()
    }
    return Promise.resolve()
  }

  ready() {
    return [...this.workers.values()].filter((id) => id !== null).length
  }

  async close() {
    this.closing = true
    clearInterval(this.watchdog)
    await Promise.all([...this.workers.keys()].map((w) => w.terminate()))
    await this.recycling
  }
}

module.exports = { RenderWorkers, chooseWorkerCount, AUTO_WORKERS, DEFAULT_RECYCLE_AFTER }
