'use strict'
// A pool of Node worker threads, each running Gatsby's engines and rendering for the Rust server,
// which sends each render to the least busy one. A worker that exits is replaced; one whose render
// outlives the render timeout is terminated (that render fails with 500, not cached) and replaced.
// A worker is recycled when it has rendered `recycleAfter` pages or its own memory has grown by
// `recycleMemory` (auto: from what the first worker cost and the memory available). A worker's
// heap grows with every page it renders, mostly with garbage V8 collects late (nothing is kept per
// page: BENCHMARKS.md, session 9), so a worker grown by half its budget is asked for a full
// collection (collectGrown; 0.15–0.25 s of CPU each, mostly on V8's helper threads, for a ~170 MB
// heap: session 10), which leaves the garbage's room free in its committed heap; a worker that still grows to its budget keeps memory (a site's own caches, code
// loaded on first use) and is recycled, which ends its thread and gives that memory back.
// Invariants: one recycle at a time; a replacement is ready before the worn worker stops taking
// renders (the pool never shrinks, no render fails); a recycle by memory starts
// early enough that the worn worker stays within its budget while the replacement loads
// (growth rate × reload time, shouldRecycle).

const os = require('os')
const path = require('path')
const { Worker } = require('worker_threads')
const { releaseFreeMemory } = require('..')

/**
 * Renders after which a worker is recycled (0: never). See README, "Render workers". A backstop:
 * by default a worker is recycled by its memory growth (`recycleMemory: 'auto'`), which is what
 * the budget is about. At 1,000 (the default before) a cold burst reloaded Gatsby's engine every
 * few seconds — 2.6–3.5 s of a core per reload at 10k pages, 7–18 s at 200k — and cold renders/s
 * were 15–25 % higher without it (BENCHMARKS.md, "The cold path on this machine"). The count
 * still ends a worker whose growth its V8 heap does not show (native memory).
 */
const DEFAULT_RECYCLE_AFTER = 10_000

/** How often a worker posts its own memory (render-worker.js). */
const MEMORY_SAMPLE_MS = 500

/** A worker's growth rate is its growth over this last stretch of samples. */
const GROWTH_WINDOW_MS = 10_000

/**
 * Process RSS growth per byte of a worker's own memory growth (its V8 heap and the external memory
 * V8 knows of: render-worker.js). There is no per-thread RSS; measured with one worker rendering
 * 4,000 distinct pages of the 10,000-page bench site: from render 500 to 4,000 the process RSS grew
 * 76 MiB (RssAnon 74) while the worker's own memory grew 58 MiB (~17 KB per render): 1.3. (The
 * first 500 renders cost more RSS, +75 MiB for +23 MiB of its own: code loaded on first use and
 * the server's buffers; that is part of what the first worker's cost does not show.) Budgets are
 * in RSS; a worker's growth is its own growth times this.
 */
const RSS_PER_OWN_BYTE = 1.3

/**
 * A recycle by memory is started as if the replacement took this many times the last load: with
 * the plain time, at 10k pages with a 60 MB budget, worn workers ended at 66 and 71 MiB (loads of
 * 4.8 s while the worn worker rendered). With it, three recycles ended at 55, 65 and 74 MiB: V8
 * grows a heap in steps (a major GC may commit MiBs at once), which no rate foresees, so a worker
 * can end past its budget by such a step (README, "Render workers").
 */
const RELOAD_MARGIN = 1.5

/**
 * How far past its budget a worker's growth may be found at once: V8 commits heap in steps (the
 * young generation doubling, a major GC committing MiBs), which no rate foresees. Measured with
 * a 60 MB budget at 10k pages and the budget reached each time: worn workers ended 12–15 MiB
 * past it (bench/fit.js; 72–75 MiB). So a recycle by memory starts that much before the budget
 * (a quarter of the budget at most: a small budget must still leave a worker room to render),
 * and the README's memory budget holds with G as given.
 */
const HEAP_STEP_BYTES = 16 * 2 ** 20

/**
 * A worker is asked for a full collection once its growth (in RSS terms, with one heap step)
 * reaches this share of its budget, and again each time it grew a heap step past where the last
 * collection left it. Measured at 4,000 pages, one engine rendering distinct pages: its committed
 * heap grew 87 → 183 MiB before V8's first major collection of its own, in use 64 MiB after one
 * (as when loaded); after a forced collection it rendered 3,000 more pages in the same committed
 * heap (139 MiB before and after).
 */
const COLLECT_AT_BUDGET_SHARE = 0.5

/** The heap step for a budget: HEAP_STEP_BYTES, or a quarter of a small budget. */
const heapStep = (recycleMemory) => Math.min(HEAP_STEP_BYTES, recycleMemory / 4)

/** The least growth `recycleMemory: 'auto'` allows a worker when memory is short. */
const MIN_RECYCLE_MEMORY = 64 * 2 ** 20

/**
 * B in the README's memory budget (memoryBudget): the RSS of the server beside its render workers
 * and its memory cache — Node, the Rust engine, the static files cache of `public/`'s hot files,
 * and what the first renders load beyond a worker's own growth (code on first use, the server's
 * buffers: RSS_PER_OWN_BYTE). Measured by bench/fit.js from 10k to 200k pages: the RSS at start
 * less the worker is 56–62 MiB; the README's 10k run with 2 workers and `--cache-size 2MB` was 403
 * MiB at start less 2 × 126 MiB, 151 MiB.
 */
const SERVER_BASE_BYTES = 150 * 2 ** 20

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

/** Bytes as the start-up line and the log say them: whole MiB. */
const mib = (bytes) => `${Math.round(bytes / 2 ** 20)} MiB`

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
  const reason =
    `auto: ${byCores} for ${cores} cores, ${byMemory} for ${mib(availableBytes)} available ` +
    `at ${MEMORY_PER_WORKER_FACTOR} × ${mib(firstWorkerBytes)} (the first worker's cost)`
  return { count, reason }
}

/**
 * How much a worker's own memory may grow before it is recycled (`recycleMemory: 'auto'`), from
 * the same numbers as chooseWorkerCount: `firstWorkerBytes` E, `availableBytes` measured with the
 * first worker loaded, and the `count` W of workers. Still to come: the memory cache filling up to
 * `cacheBytes` (`--cache-size`), W − 1 more workers and, during a recycle, one replacement loading
 * beside the worn worker: W × E. What is left is shared by the
 * W workers' growth, at most (MEMORY_PER_WORKER_FACTOR − 1) × E each (what chooseWorkerCount left
 * them) and at least MIN_RECYCLE_MEMORY. So the process stays within memoryBudget, the README's
 * C + B + (W + 1) × E + W × G. Returns the bytes and the reason.
 */
function chooseRecycleMemory({ firstWorkerBytes, count, availableBytes = availableMemory(), cacheBytes = 0 }) {
  const cost = Math.max(1, firstWorkerBytes)
  const cap = (MEMORY_PER_WORKER_FACTOR - 1) * cost
  const share = Math.floor((availableBytes - cacheBytes - count * cost) / count)
  const bytes = Math.max(MIN_RECYCLE_MEMORY, Math.min(cap, share))
  const cache = cacheBytes ? ` − ${mib(cacheBytes)} cache` : ''
  const reason =
    `auto: (${mib(availableBytes)} available${cache} − ${count} × ${mib(cost)} to load) / ${count}, ` +
    `at most ${MEMORY_PER_WORKER_FACTOR - 1} × ${mib(cost)}`
  return { bytes, reason }
}

/**
 * The README's memory budget in bytes: the process's RSS stays within C + B + (W + 1) × E + W × G,
 * with C the memory cache's bound (`cacheBytes`, `--cache-size`), B SERVER_BASE_BYTES, W workers
 * (`count`), E what the first one cost (`firstWorkerBytes`), G the growth a worker may reach
 * before it is recycled (`recycleMemory`), and the one extra E for a replacement loading during
 * a recycle. bench/fit.js checks it against the peak RSS.
 */
function memoryBudget({ cacheBytes, count, firstWorkerBytes, recycleMemory }) {
  return cacheBytes + SERVER_BASE_BYTES + (count + 1) * firstWorkerBytes + count * recycleMemory
}

/**
 * Whether a worker is to be recycled now, and why ('renders', 'memory' or null). `grownBytes`: its
 * growth since it was ready (in RSS: its own × RSS_PER_OWN_BYTE); `growthPerMs` its recent rate; `reloadMs` how long a
 * replacement takes to load. By memory once it would pass `recycleMemory` before a replacement
 * started now is ready, or by one heap step: grown + rate × reload + step ≥ budget, the step
 * HEAP_STEP_BYTES or a quarter of the budget, whichever is less. 0 (or null) disables either
 * bound.
 */
function shouldRecycle({ renders, recycleAfter, grownBytes, growthPerMs, reloadMs, recycleMemory }) {
  if (recycleAfter && renders >= recycleAfter) return 'renders'
  if (!recycleMemory) return null
  const step = heapStep(recycleMemory)
  return grownBytes + Math.max(0, growthPerMs) * reloadMs + step >= recycleMemory ? 'memory' : null
}

/** How the default recycle budget is chosen, in words (`serve --help`). */
const AUTO_RECYCLE_MEMORY = `what memory allows the workers beside one replacement loading, at most ${MEMORY_PER_WORKER_FACTOR - 1} × what the first one costs`

/** How the default count is chosen, in words (`serve --help`). */
const AUTO_WORKERS = `one per ${CORES_PER_WORKER} cores, as many as memory allows at ${MEMORY_PER_WORKER_FACTOR} × what the first one costs`

class RenderWorkers {
  /**
   * `count`: how many workers; undefined: chosen once the first is ready (chooseWorkerCount).
   * `recycleMemory`: bytes of growth; 'auto' (default): chosen once the first is ready
   * (chooseRecycleMemory); 0: never by memory. `cacheBytes`: the memory cache's bound
   * (`--cache-size`): memory that will be used, not available to workers.
   */
  constructor(
    server,
    { root, count, renderTimeoutMs, recycleAfter = DEFAULT_RECYCLE_AFTER, recycleMemory = 'auto', cacheBytes = 0 },
  ) {
    this.cacheBytes = cacheBytes
    this.server = server
    this.root = root
    this.auto = count === undefined
    this.count = this.auto ? 1 : count
    this.choice = null // { count, reason } when chosen automatically
    this.firstWorkerBytes = null // what the first worker cost (RSS growth while it loaded), when chosen
    this.renderTimeoutMs = renderTimeoutMs
    this.recycleAfter = recycleAfter
    this.autoRecycleMemory = recycleMemory === 'auto'
    this.recycleMemory = this.autoRecycleMemory ? null : recycleMemory // bytes, once known
    this.recycleMemoryChoice = null // { bytes, reason } when chosen automatically
    this.reloadMs = null // how long the last worker took to load (the first, then each replacement)
    this.workers = new Map() // Worker → renderer id (once ready)
    this.memory = new Map() // Worker → { readyBytes, samples: [[ms, bytes]] } (its own memory)
    this.closing = false
    this.replaced = 0
    this.recycled = 0
    this.recycledBy = { renders: 0, memory: 0 }
    this.collected = 0 // full collections grown workers made when asked (collectGrown)
    // The last 16 recycles: { id, reason, renders, grownBytes (RSS, when due), endGrownBytes (when
    // it ended), replacementReadyAt, endedAt }.
    this.recycles = []
    this.recycling = null // the recycle in progress: one at a time
    this.recycleRetryAt = 0
  }

  /**
   * Starts the workers; rejects if none can start. With a count given, resolves once all have
   * loaded or failed to (at least one ready); with none, once the first is ready: it measures what
   * that one cost, then starts as many more as chosen.
   */
  start() {
    const rssBefore = process.memoryUsage.rss()
    const starts = Array.from({ length: this.count }, () => this.spawn())
    this.startWatchdog()
    const first = Promise.any(starts).catch((error) => {
      throw new Error(`no render worker could start: ${error.errors ? error.errors[0].message : error.message}`)
    })
    if (!this.auto) {
      // With a count given they load together: one worker's cost is their RSS growth shared, known
      // once all of them have loaded (or failed to); only then is start() done, so the start-up
      // line can say the recycling budget chosen from it.
      return Promise.allSettled(starts).then((outcomes) => {
        const started = outcomes.filter((o) => o.status === 'fulfilled')
        if (started.length === 0) return first
        if (this.autoRecycleMemory) this.chooseRecycleMemory((process.memoryUsage.rss() - rssBefore) / started.length)
        return started[0].value
      })
    }
    return first.then((id) => {
      this.firstWorkerBytes = process.memoryUsage.rss() - rssBefore
      const availableBytes = Math.max(0, availableMemory() - this.cacheBytes)
      this.choice = chooseWorkerCount({ firstWorkerBytes: this.firstWorkerBytes, availableBytes })
      this.count = this.choice.count
      if (this.autoRecycleMemory) this.chooseRecycleMemory(this.firstWorkerBytes)
      for (let i = 1; i < this.count && !this.closing; i++) this.spawn().catch(() => {})
      return id
    })
  }

  chooseRecycleMemory(firstWorkerBytes) {
    this.recycleMemoryChoice = chooseRecycleMemory({ firstWorkerBytes, count: this.count, cacheBytes: this.cacheBytes })
    this.recycleMemory = this.recycleMemoryChoice.bytes
  }

  startWatchdog() {
    this.watchdog = setInterval(() => {
      const renderers = this.server.renderWorkers()
      this.terminateStuck(renderers)
      this.collectGrown(renderers)
      this.recycleWorn(renderers)
    }, 250)
    this.watchdog.unref()
  }

  spawn() {
    const startedAt = Date.now()
    const worker = new Worker(path.join(__dirname, 'render-worker.js'), {
      workerData: { root: this.root, serverId: this.server.serverId, memorySampleMs: MEMORY_SAMPLE_MS },
    })
    this.workers.set(worker, null)
    const ready = new Promise((resolve, reject) => {
      worker.on('message', (message) => {
        if (!message) return
        if (message.ready) {
          this.reloadMs = Date.now() - startedAt
          this.workers.set(worker, message.id)
          this.memory.set(worker, { readyBytes: message.memory, samples: [[Date.now(), message.memory]] })
          resolve(message.id)
        } else if (message.collected) this.collectedOf(worker, message.memory)
        else if (message.memory !== undefined) this.sample(worker, message.memory)
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
      this.memory.delete(worker)
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

  /** A worker's own memory, posted by it; only the last GROWTH_WINDOW_MS of samples are kept. */
  sample(worker, bytes) {
    const memory = this.memory.get(worker)
    if (!memory) return
    const now = Date.now()
    memory.samples.push([now, bytes])
    while (memory.samples.length > 2 && memory.samples[0][0] < now - GROWTH_WINDOW_MS) memory.samples.shift()
  }

  /**
   * `{ bytes, readyBytes, grownBytes, growthPerMs }` of a worker's own memory (not yet ×
   * RSS_PER_OWN_BYTE; `readyBytes` when it became ready), null before it is ready.
   */
  memoryOf(worker) {
    const memory = this.memory.get(worker)
    if (!memory) return null
    const [[t0, first], [t1, last]] = [memory.samples[0], memory.samples[memory.samples.length - 1]]
    // A rate only over a whole window: a fresh worker's first renders load code and grow its heap
    // in steps (+23 MiB over its first 500 renders at 10k pages); projected over a 4–5 s reload,
    // a 1 s slope of that recycled replacements after 8 renders with a 60 MB budget.
    const rate = t1 - t0 >= GROWTH_WINDOW_MS - 2 * MEMORY_SAMPLE_MS ? (last - first) / (t1 - t0) : 0
    return { bytes: last, readyBytes: memory.readyBytes, grownBytes: last - memory.readyBytes, growthPerMs: rate }
  }

  /** A worker's growth and growth rate in RSS terms (its own × RSS_PER_OWN_BYTE), what budgets are in. */
  rssGrowthOf(worker) {
    const memory = this.memoryOf(worker)
    if (!memory) return null
    return { grownBytes: memory.grownBytes * RSS_PER_OWN_BYTE, growthPerMs: memory.growthPerMs * RSS_PER_OWN_BYTE }
  }

  /** Renderer id → its worker's own memory (`memoryOf`), for the ready workers. */
  memoryByRenderer() {
    const byId = new Map()
    for (const [worker, id] of this.workers)
      if (id !== null && this.memory.has(worker)) byId.set(id, this.memoryOf(worker))
    return byId
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
   * Asks each worker grown by COLLECT_AT_BUDGET_SHARE of `recycleMemory` for a full collection,
   * one at a time per worker, and again once it grew a heap step past where the last one left it.
   * Nothing is asked with no memory budget (`recycleMemory` 0): V8 then collects as it would.
   */
  collectGrown(renderers) {
    if (!this.recycleMemory || this.closing) return
    const step = heapStep(this.recycleMemory)
    for (const [worker, id] of this.workers) {
      const memory = this.memory.get(worker)
      const renderer = renderers.find((w) => w.id === id)
      if (!memory || memory.collecting || !renderer || renderer.retiring) continue
      const { bytes, grownBytes } = this.memoryOf(worker)
      if (grownBytes * RSS_PER_OWN_BYTE + step < this.recycleMemory * COLLECT_AT_BUDGET_SHARE) continue
      if (memory.collectedBytes !== undefined && (bytes - memory.collectedBytes) * RSS_PER_OWN_BYTE < step) continue
      memory.collecting = true
      worker.postMessage({ collect: true })
    }
  }

  /** A worker's own memory once it collected its garbage: the next collection counts from it. */
  collectedOf(worker, bytes) {
    const memory = this.memory.get(worker)
    if (!memory) return
    this.sample(worker, bytes)
    memory.collecting = false
    memory.collectedBytes = bytes
    this.collected++
  }

  /**
   * The first worker due (shouldRecycle: past `recycleAfter` renders, or whose memory would pass
   * `recycleMemory` while a replacement loads) is replaced: its replacement starts first (the
   * pool never shrinks), then it gets no more renders, finishes those it has, and is terminated
   * idle, when no render of it can fail. Of several due, the one grown most goes first.
   */
  recycleWorn(renderers) {
    if (this.recycling || this.closing || Date.now() < this.recycleRetryAt) return
    let due = null
    for (const [worker, id] of this.workers) {
      const renderer = renderers.find((w) => w.id === id)
      const growth = this.rssGrowthOf(worker)
      if (!renderer || renderer.retiring || !growth) continue
      const reason = shouldRecycle({
        renders: renderer.renders,
        recycleAfter: this.recycleAfter,
        grownBytes: growth.grownBytes,
        growthPerMs: growth.growthPerMs,
        reloadMs: this.reloadMs * RELOAD_MARGIN,
        recycleMemory: this.recycleMemory,
      })
      if (reason && (!due || growth.grownBytes > due.grownBytes)) {
        due = { worker, id, reason, renders: renderer.renders, grownBytes: growth.grownBytes }
      }
    }
    if (!due) return
    this.recycling = this.recycle(due)
      .catch((error) => {
        // Shutting down while the replacement loads ends it: that is no failure.
        if (this.closing) return
        // The worn worker keeps rendering; a replacement that cannot start (e.g. the site was
        // rebuilt under the server) is not retried in a loop.
        this.recycleRetryAt = Date.now() + RECYCLE_RETRY_MS
        console.error(`gatsby-dsg: recycling render worker ${due.id} failed, it keeps rendering: ${error.message}`)
      })
      .finally(() => (this.recycling = null))
  }

  async recycle({ worker, id, reason, renders, grownBytes }) {
    const startedAt = Date.now()
    await this.spawn()
    if (this.closing) return
    const replacementReadyAt = Date.now()
    this.server.retireRenderer(id)
    while (!this.closing) {
      const self = this.server.renderWorkers().find((w) => w.id === id)
      if (!self || self.inFlight === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    worker.recycled = true
    // What it had grown by when it ended: within the budget if the replacement was started early enough.
    const end = this.rssGrowthOf(worker)
    const endGrownBytes = end ? end.grownBytes : grownBytes
    this.server.removeRenderer(id)
    await worker.terminate()
    releaseFreeMemory()
    this.recycled++
    this.recycledBy[reason]++
    this.recycles.push({ id, reason, renders, grownBytes, endGrownBytes, replacementReadyAt, endedAt: Date.now() })
    if (this.recycles.length > 16) this.recycles.shift()
    const budget = this.recycleMemory ? ` of ${mib(this.recycleMemory)}` : ''
    console.error(
      `gatsby-dsg: render worker ${id} recycled (${reason}) after ${renders}+ renders, ` +
        `grown ${mib(endGrownBytes)}${budget}; its replacement loaded in ${((replacementReadyAt - startedAt) / 1000).toFixed(1)} s`,
    )
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

module.exports = {
  RenderWorkers,
  chooseWorkerCount,
  chooseRecycleMemory,
  shouldRecycle,
  memoryBudget,
  SERVER_BASE_BYTES,
  AUTO_WORKERS,
  AUTO_RECYCLE_MEMORY,
  DEFAULT_RECYCLE_AFTER,
  HEAP_STEP_BYTES,
  mib,
}
