'use strict'
// What a render worker holds, and how many the server runs: a worker's engine does not load the
// build's Redux state (.cache/redux) yet renders every page byte for byte as an engine that did;
// the default count is chosen from what the first worker of this site cost, the cores and the
// memory, and the start-up line says so; a shutdown while a replacement loads is not a failure.

const fs = require('fs')
const path = require('path')
const { EXAMPLE, trackedTempDir, removeTempDirs } = require('./support/site')
const { waitFor } = require('../scripts/support/wait')
const { startWorkersServer } = require('./support/render-workers')
const { runCli, serveArgs } = require('./support/cli')
const { killAll } = require('./support/processes')
const {
  chooseWorkerCount,
  chooseRecycleMemory,
  shouldRecycle,
  DEFAULT_RECYCLE_AFTER,
  HEAP_STEP_BYTES,
} = require('../lib/render-workers')
const { choicesOf } = require('../bench/lib/memory-budget')

const MiB = 2 ** 20
const cacheDir = () => trackedTempDir('gatsby-dsg-worker-memory-test-')

afterEach(async () => {
  await killAll()
})

afterAll(() => {
  removeTempDirs()
})

const pageDataUrl = (p) => `/page-data/${p === '/' ? 'index' : p.replace(/^\/|\/$/g, '')}/page-data.json`

test('a render worker, which skips the build’s Redux state, renders every deferred page as an engine that read it', async () => {
  const manifest = JSON.parse(
    fs.readFileSync(path.join(EXAMPLE, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'),
  )
  // /broken/ throws on purpose; /app/ is a matchPath page (rendered the same way as the rest).
  const pages = manifest.pages.map((p) => p.path).filter((p) => p !== '/broken/')
  expect(pages.length).toBeGreaterThan(50)
  // renderWorkers: 0 renders in the server's main thread, whose engine reads .cache/redux.
  const [worker, mainThread] = await Promise.all([
    startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 1 }),
    startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 0 }),
  ])
  expect((await worker.pool()).count).toBe(1)
  expect(await mainThread.pool()).toBeNull()
  const differing = []
  for (const p of pages) {
    for (const url of [p, pageDataUrl(p)]) {
      const [a, b] = await Promise.all([worker.get(encodeURI(url)), mainThread.get(encodeURI(url))])
      expect({ url, status: a.status }).toEqual({ url, status: 200 })
      expect({ url, status: b.status }).toEqual({ url, status: 200 })
      if (a.body !== b.body) differing.push(url)
    }
  }
  expect(differing).toEqual([])
  expect((await worker.stats()).renders).toBe(pages.length)
})

describe('the default number of render workers', () => {
  const GiB = 1024 * MiB

  test('is one per two cores when memory is plentiful', () => {
    for (const [cores, expected] of [
      [1, 1],
      [2, 1],
      [4, 2],
      [8, 4],
      [64, 32],
    ]) {
      const { count } = chooseWorkerCount({ firstWorkerBytes: 200 * MiB, cores, availableBytes: 256 * GiB })
      expect({ cores, count }).toEqual({ cores, count: expected })
    }
  })

  test('leaves every worker twice what the first one cost, the first one included', () => {
    const cost = 800 * MiB
    // With the first loaded: 800 MiB for its growth, then 1,600 MiB per further worker.
    for (const [available, expected] of [
      [0, 1],
      [2399 * MiB, 1],
      [2400 * MiB, 2],
      [4000 * MiB, 3],
      [5600 * MiB, 4],
    ]) {
      const { count } = chooseWorkerCount({ firstWorkerBytes: cost, cores: 64, availableBytes: available })
      expect({ available: available / MiB, count }).toEqual({ available: available / MiB, count: expected })
    }
  })

  test('says why, with the first worker’s measured cost', () => {
    const { count, reason } = chooseWorkerCount({ firstWorkerBytes: 300 * MiB, cores: 4, availableBytes: 1500 * MiB })
    expect(count).toBe(2)
    expect(reason).toBe("auto: 2 for 4 cores, 3 for 1500 MiB available at 2 × 300 MiB (the first worker's cost)")
  })

  test('is chosen once the first worker is ready, and the start-up line says how', async () => {
    const cli = runCli(serveArgs(EXAMPLE, cacheDir()))
    const line = await cli.firstLine()
    const match = line.match(
      /, (\d+) of (\d+) render workers ready \(auto: (\d+) for (\d+) cores, (\d+) for (\d+) MiB available at 2 × (\d+) MiB \(the first worker's cost\)\)(?:, |$)/,
    )
    expect({ line, matched: match !== null }).toEqual({ line, matched: true })
    const [, ready, count, byCores, , byMemory, , firstMiB] = match.map(Number)
    expect(count).toBe(Math.min(byCores, byMemory))
    expect(ready).toBeGreaterThanOrEqual(1)
    expect(ready).toBeLessThanOrEqual(count)
    // Gatsby's engines for the example take well over 20 MiB.
    expect(firstMiB).toBeGreaterThan(20)
    // bench/fit.js reads the same W and E from it for the README's memory budget.
    expect(choicesOf(line)).toEqual(
      expect.objectContaining({ ready, workers: count, firstWorkerBytes: firstMiB * MiB }),
    )
    cli.signal('SIGTERM')
    expect(await cli.exited).toEqual(expect.objectContaining({ code: 0, signal: null }))
  })
})

describe('when a render worker is recycled', () => {
  const due = (over) =>
    shouldRecycle({
      renders: 10,
      recycleAfter: 1000,
      grownBytes: 0,
      growthPerMs: 0,
      reloadMs: 5000,
      recycleMemory: 500 * MiB,
      ...over,
    })

  test('is once it has rendered recycleAfter pages, or never with 0', () => {
    expect(due({ renders: 999 })).toBeNull()
    expect(due({ renders: 1000 })).toBe('renders')
    expect(due({ renders: 5000, recycleAfter: 0 })).toBeNull()
  })

  test('is once its own memory grew to one heap step short of the budget, or never with 0', () => {
    // V8 commits heap in steps: a worker found one step short may be past the budget next.
    const step = HEAP_STEP_BYTES / MiB
    expect(step).toBe(16)
    expect(due({ grownBytes: (499 - step) * MiB })).toBeNull()
    expect(due({ grownBytes: (500 - step) * MiB })).toBe('memory')
    expect(due({ grownBytes: 5000 * MiB, recycleMemory: 0 })).toBeNull()
    // A small budget keeps three quarters of itself to grow in: the step is at most a quarter.
    expect(due({ grownBytes: 0, recycleMemory: 4 * MiB })).toBeNull()
    expect(due({ grownBytes: 2.99 * MiB, recycleMemory: 4 * MiB })).toBeNull()
    expect(due({ grownBytes: 3 * MiB, recycleMemory: 4 * MiB })).toBe('memory')
  })

  test('is early enough that its growth while a replacement loads stays within the budget', () => {
    // Growing 20 MiB/s: 100 MiB more by the time a 5 s reload is done (and one 16 MiB heap step).
    const rate = (20 * MiB) / 1000
    expect(due({ grownBytes: 383 * MiB, growthPerMs: rate, reloadMs: 5000 })).toBeNull()
    expect(due({ grownBytes: 384 * MiB, growthPerMs: rate, reloadMs: 5000 })).toBe('memory')
    // The slower the reload, the earlier: 200 MiB more in 10 s.
    expect(due({ grownBytes: 283 * MiB, growthPerMs: rate, reloadMs: 10_000 })).toBeNull()
    expect(due({ grownBytes: 284 * MiB, growthPerMs: rate, reloadMs: 10_000 })).toBe('memory')
    // A shrinking heap (a GC) never delays it past the budget itself.
    expect(due({ grownBytes: 484 * MiB, growthPerMs: -rate })).toBe('memory')
  })

  test('by default is by memory first: the render count is a backstop of 10,000', () => {
    expect(DEFAULT_RECYCLE_AFTER).toBe(10_000)
  })

  test('by memory, auto: what is left once the cache, every worker and one replacement loaded, shared, at most one cost each', () => {
    const cost = 800 * MiB
    const choose = (availableMiB, count) =>
      chooseRecycleMemory({ firstWorkerBytes: cost, count, availableBytes: availableMiB * MiB }).bytes / MiB
    // Plenty: capped at the worker's cost (what chooseWorkerCount left it to grow).
    expect(choose(100_000, 1)).toBe(800)
    expect(choose(100_000, 4)).toBe(800)
    // 1 worker, 1,200 MiB left after it loaded: 800 for a replacement, 400 to grow.
    expect(choose(1200, 1)).toBe(400)
    // 2 workers, 2,000 MiB left after the first: 800 for the second, 800 for a replacement, 200 each.
    expect(choose(2000, 2)).toBe(200)
    // Too little: the floor, 64 MiB.
    expect(choose(500, 1)).toBe(64)
    // The memory cache's bound is not available to them: 1,200 − 300 − 800 = 100.
    expect(
      chooseRecycleMemory({ firstWorkerBytes: cost, count: 1, availableBytes: 1200 * MiB, cacheBytes: 300 * MiB })
        .bytes / MiB,
    ).toBe(100)
  })

  /** `gatsby-dsg serve` of the example with `workers` render workers and `args`, on any free port. */
  function serveExampleWith(workers, args = []) {
    return runCli(serveArgs(EXAMPLE, cacheDir(), '--render-workers', String(workers), ...args))
  }

  test('is said on the start-up line: after how many renders, and the memory budget chosen from the first worker', async () => {
    const cli = serveExampleWith(1)
    const line = await cli.firstLine()
    const match = line.match(
      /, 1 of 1 render workers ready, recycled after 10000 renders or (\d+) MiB of growth \(auto: \((\d+) MiB available − 256 MiB cache − 1 × (\d+) MiB to load\) \/ 1, at most 1 × (\d+) MiB\)(?:, |$)/,
    )
    expect({ line, matched: match !== null }).toEqual({ line, matched: true })
    const [, budget, available, cost, cap] = match.map(Number)
    expect(cap).toBe(cost)
    // Rounded to MiB each, so within 1 of the formula.
    // (The default --cache-size, 256 MB, will be used too.)
    expect(Math.abs(budget - Math.max(64, Math.min(cost, available - 256 - cost)))).toBeLessThanOrEqual(1)
    // bench/fit.js reads the same W, E, G and C from it for the README's memory budget.
    expect(choicesOf(line)).toEqual({
      ready: 1,
      workers: 1,
      firstWorkerBytes: cost * MiB,
      recycleMemoryBytes: budget * MiB,
      cacheBytes: 256 * MiB,
    })
    cli.signal('SIGTERM')
    expect(await cli.exited).toEqual(expect.objectContaining({ code: 0, signal: null }))
  })

  test('with two workers given, is said on the start-up line once both loaded, from their shared cost', async () => {
    const cli = serveExampleWith(2)
    const line = await cli.firstLine()
    expect(line).toMatch(
      /, 2 of 2 render workers ready, recycled after 10000 renders or \d+ MiB of growth \(auto: \(\d+ MiB available − 256 MiB cache − 2 × \d+ MiB to load\) \/ 2, at most 1 × \d+ MiB\)(?:, |$)/,
    )
    const choices = choicesOf(line)
    expect({ ready: choices.ready, workers: choices.workers, cacheBytes: choices.cacheBytes }).toEqual({
      ready: 2,
      workers: 2,
      cacheBytes: 256 * MiB,
    })
    expect(choices.firstWorkerBytes).toBeGreaterThan(0)
    expect(choices.recycleMemoryBytes).toBeGreaterThanOrEqual(64 * MiB)
    cli.signal('SIGTERM')
    expect(await cli.exited).toEqual(expect.objectContaining({ code: 0, signal: null }))
  })

  test('is said on the start-up line with the bounds given, or as never', async () => {
    for (const [args, expected] of [
      [['--recycle-after', '50', '--recycle-memory', '300MB'], ', recycled after 50 renders or 300 MiB of growth'],
      [['--recycle-after', '0', '--recycle-memory', '0'], ', never recycled'],
    ]) {
      const cli = serveExampleWith(1, args)
      const line = await cli.firstLine()
      expect(line).toMatch(new RegExp(`, 1 of 1 render workers ready${expected}(?:, |$)`))
      cli.signal('SIGTERM')
      expect(await cli.exited).toEqual(expect.objectContaining({ code: 0, signal: null }))
    }
  })

  test('by memory, auto: says why', () => {
    const { reason } = chooseRecycleMemory({ firstWorkerBytes: 300 * MiB, count: 2, availableBytes: 1500 * MiB })
    expect(reason).toBe('auto: (1500 MiB available − 2 × 300 MiB to load) / 2, at most 1 × 300 MiB')
  })
})

test('closing while a recycled worker’s replacement loads logs no recycling failure', async () => {
  const server = await startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 1, recycleAfter: 1 })
  expect((await server.get('/blog/post-00002/')).status).toBe(200)
  // The recycle starts the replacement first: two threads, one of them ready.
  await waitFor(
    async () => {
      const pool = await server.pool()
      return pool.threads === 2 && pool.ready === 1 && pool.recycled === 0
    },
    { what: 'a replacement loading' },
  )
  const { code, reply } = await server.close()
  expect(code).toBe(0)
  expect(reply.closed).toBe(true)
  expect(server.stderr()).not.toMatch(/recycling render worker \d+ failed/)
})
