'use strict'
// The README's memory budget, C + B + (W + 1) × E + W × G, as bench/fit.js evaluates it: the one
// formula (lib/render-workers.js memoryBudget), and the terms read back from the start-up line
// that lib/serve.js describe() writes from the render workers' choices (the real command line's
// line is read the same way in render-worker-memory.test.js).

const { describe: describeServer } = require('../lib/serve')
const { chooseWorkerCount, chooseRecycleMemory, memoryBudget, SERVER_BASE_BYTES } = require('../lib/render-workers')
const { choicesOf, cacheSizeOf, evaluateBudget, describeBudget } = require('../bench/lib/memory-budget')

const MiB = 2 ** 20

/** The start-up line of a server whose pool made these choices (as RenderWorkers does). */
function startupLine({ firstWorkerBytes, availableBytes, cacheBytes, cores = 2, count, recycleMemory = 'auto' }) {
  const choice = count === undefined ? chooseWorkerCount({ firstWorkerBytes, cores, availableBytes }) : null
  const workers = choice ? choice.count : count
  const recycleMemoryChoice =
    recycleMemory === 'auto'
      ? chooseRecycleMemory({ firstWorkerBytes, count: workers, availableBytes, cacheBytes })
      : null
  const pool = {
    count: workers,
    ready: () => 1,
    choice,
    recycleAfter: 1000,
    recycleMemory: recycleMemoryChoice ? recycleMemoryChoice.bytes : recycleMemory,
    recycleMemoryChoice,
  }
  const server = {
    port: 9000,
    unserved: [],
    renderWorkerPool: pool,
    summary: () => ({ staticPages: 9, deferredPages: 100056, generatedPages: 0, ssrPages: 6, functions: 0 }),
  }
  return { line: describeServer(server, '127.0.0.1'), workers, recycleMemoryChoice }
}

test('the budget is the memory cache’s bound, B, one worker more than run (a replacement loading), and each worker’s growth', () => {
  expect(SERVER_BASE_BYTES).toBe(150 * MiB)
  const bound = memoryBudget({ cacheBytes: 256 * MiB, count: 2, firstWorkerBytes: 451 * MiB, recycleMemory: 300 * MiB })
  expect(bound / MiB).toBe(256 + 150 + 3 * 451 + 2 * 300)
})

describe('the bench reads the terms from the start-up line', () => {
  test('W, E, G and C as the server chose them, with every choice automatic', () => {
    const { line, workers, recycleMemoryChoice } = startupLine({
      firstWorkerBytes: 451 * MiB,
      availableBytes: 3331 * MiB,
      cacheBytes: 256 * MiB,
      cores: 8,
    })
    expect(workers).toBe(4)
    expect(choicesOf(line)).toEqual({
      ready: 1,
      workers: 4,
      firstWorkerBytes: 451 * MiB,
      recycleMemoryBytes: Math.round(recycleMemoryChoice.bytes / MiB) * MiB,
      cacheBytes: 256 * MiB,
    })
  })

  test('E from the recycling choice when the worker count is given', () => {
    const { line } = startupLine({ firstWorkerBytes: 123 * MiB, availableBytes: 3917 * MiB, cacheBytes: 0, count: 2 })
    expect(line).not.toMatch(/first worker's cost/)
    expect(choicesOf(line)).toEqual(
      expect.objectContaining({ workers: 2, firstWorkerBytes: 123 * MiB, recycleMemoryBytes: 123 * MiB }),
    )
  })

  test('C from --cache-size among the serve options, else its default, when the line does not say it', () => {
    expect(cacheSizeOf([])).toBe(256 * MiB)
    expect(cacheSizeOf(['--cache-size', '1GB'])).toBe(1024 * MiB)
    expect(cacheSizeOf(['--cache-size=64MB', '--recycle-after', '10'])).toBe(64 * MiB)
    const { line } = startupLine({ firstWorkerBytes: 123 * MiB, availableBytes: 3917 * MiB, cacheBytes: 0, count: 1 })
    const budget = evaluateBudget({ startupLine: line, serveArgs: ['--cache-size', '0'], peakRssBytes: 400 * MiB })
    expect(budget.terms.C).toBe(0)
    expect(budget.cacheFrom).toBe('--cache-size')
  })
})

describe('the formula, for a run', () => {
  const { line } = startupLine({ firstWorkerBytes: 123 * MiB, availableBytes: 3917 * MiB, cacheBytes: 256 * MiB })

  test('holds when the peak RSS is within the bound, and says the sum', () => {
    const budget = evaluateBudget({ startupLine: line, peakRssBytes: 472 * MiB })
    expect(budget.boundBytes / MiB).toBe(256 + 150 + 2 * 123 + 123)
    expect(budget.holds).toBe(true)
    expect(describeBudget(budget)).toBe(
      'formula: C + B + (W+1)×E + W×G = 256 + 150 + 2×123 + 1×123 = 775 MiB; peak RSS 472 MiB: holds',
    )
  })

  test('does not hold when the peak RSS passes it', () => {
    const budget = evaluateBudget({ startupLine: line, peakRssBytes: 776 * MiB })
    expect(budget.holds).toBe(false)
    expect(describeBudget(budget)).toMatch(/= 775 MiB; peak RSS 776 MiB: does not hold \(over by 1 MiB\)$/)
  })

  test('is not evaluated, and says why, when a worker may grow without bound or there is no worker', () => {
    const never = startupLine({
      firstWorkerBytes: 123 * MiB,
      availableBytes: 3917 * MiB,
      cacheBytes: 0,
      recycleMemory: 0,
    })
    const unbounded = evaluateBudget({ startupLine: never.line, peakRssBytes: 400 * MiB })
    expect(unbounded.holds).toBeNull()
    expect(unbounded.notEvaluated).toMatch(/no growth bound/)
    const staticSite = evaluateBudget({
      startupLine: 'gatsby-dsg: serving http://127.0.0.1:9000/ — 9 static pages, no deferred pages (static site)',
      peakRssBytes: 100 * MiB,
    })
    expect(staticSite.holds).toBeNull()
    expect(staticSite.notEvaluated).toMatch(/no render workers/)
  })
})
