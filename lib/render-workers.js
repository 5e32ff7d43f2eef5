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

/** Each worker holds its own engine (~200 MiB for a 2,000-page site). */
const MEMORY_PER_WORKER = 512 * 1024 * 1024

/** Renders after which a worker is recycled (0: never). See README, "Render workers". */
const DEFAULT_RECYCLE_AFTER = 1000

/** After a replacement failed to start, the next recycle waits this long. */
const RECYCLE_RETRY_MS = 60_000

/** One worker per core, but no more than memory allows (at least one). */
function defaultWorkerCount() {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  return Math.max(1, Math.min(cores, Math.floor(os.totalmem() / MEMORY_PER_WORKER)))
}

class RenderWorkers {
  constructor(server, { root, count, renderTimeoutMs, recycleAfter = DEFAULT_RECYCLE_AFTER }) {
    this.server = server
    this.root = root
    this.count = count
    this.renderTimeoutMs = renderTimeoutMs
    this.recycleAfter = recycleAfter
    this.workers = new Map() // Worker → renderer id (once ready)
    this.closing = false
    this.replaced = 0
    this.recycled = 0
    this.recycling = null // the recycle in progress: one at a time
    this.recycleRetryAt = 0
  }

  /** Starts the workers; resolves once at least one is ready (rejects if none can start). */
  start() {
    const starts = Array.from({ length: this.count }, () => this.spawn())
    this.watchdog = setInterval(() => {
      const renderers = this.server.renderWorkers()
      this.terminateStuck(renderers)
      this.recycleWorn(renderers)
    }, 250)
    this.watchdog.unref()
    return Promise.any(starts).catch((error) => {
      throw new Error(`no render worker could start: ${error.errors ? error.errors[0].message : error.message}`)
    })
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
        .filter((w) => w.oldestRenderMs !== undefined && w.oldestRenderMs !== null && w.oldestRenderMs > this.renderTimeoutMs)
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

module.exports = { RenderWorkers, defaultWorkerCount, DEFAULT_RECYCLE_AFTER }
