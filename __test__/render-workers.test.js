'use strict'
// Render workers on the example site built by real Gatsby: worker threads each running Gatsby's
// engines, every render sent by the Rust server to the least busy one. A worker that dies or is
// terminated mid-render fails its own renders (500, not cached) and is replaced; the server keeps
// answering, and the next request of a failed page renders on a live worker.

const fs = require('fs')
const path = require('path')
const { builtCopy } = require('./support/example-copy')
const { tempDir, EXAMPLE } = require('./support/site')
const { tracedGet } = require('./support/http')
const { waitFor } = require('../scripts/support/wait')
const { startWorkersServer } = require('./support/render-workers')
const { runCli, runCliToEnd, serveArgs } = require('./support/cli')
const { killAll } = require('./support/processes')
const { AUTO_WORKERS, AUTO_RECYCLE_MEMORY } = require('../lib/render-workers')

/** Renders that may run at once (the server's render slots): the most a dying worker can hold. */
const RENDER_SLOTS = 8

const tempDirs = []
function cacheDir() {
  const dir = tempDir('gatsby-dsg-render-workers-test-')
  tempDirs.push(dir)
  return dir
}

afterEach(async () => {
  await killAll()
})

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** `/blog/post-<5 digits>/` of the example's deferred posts (every even number, 0..118). */
function posts(count, from = 0) {
  return Array.from({ length: count }, (_, i) => `/blog/post-${String(2 * (from + i)).padStart(5, '0')}/`)
}

/** `<h1>Blog post N</h1>` of a post path. */
function headingOf(postPath) {
  return `<h1>Blog post ${Number(postPath.match(/post-(\d+)/)[1])}</h1>`
}

/** Resolves to every outcome, or rejects naming the requests still open after `ms` (a hang). */
async function allSettledWithin(requests, ms) {
  const outcomes = new Array(requests.length)
  let timer
  const hang = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const open = requests.filter((_, i) => !outcomes[i]).map((r) => r.path)
      reject(new Error(`${open.length} requests had no answer after ${ms} ms: ${open.slice(0, 5).join(', ')}`))
    }, ms)
  })
  try {
    await Promise.race([Promise.all(requests.map((r, i) => r.done.then((o) => (outcomes[i] = o)))), hang])
    return outcomes
  } finally {
    clearTimeout(timer)
  }
}

function traced(server, paths) {
  return paths.map((p) => Object.assign(tracedGet(server.base, p), { path: p }))
}

/** Until the pool has `n` workers ready and the Rust server `n` renderers (bounded). */
function untilReady(server, n) {
  return waitFor(
    async () => {
      const [pool, renderers] = [await server.pool(), await server.renderWorkers()]
      return pool.ready === n && renderers.length === n && { pool, renderers }
    },
    { attempts: 600, intervalMs: 100, what: `${n} render workers ready` },
  )
}

describe('render workers', () => {
  test('many distinct cold pages requested at once are rendered by more than one worker, each page with its own content', async () => {
    const server = await startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 2 })
    await untilReady(server, 2)
    const pages = posts(40)
    const outcomes = await allSettledWithin(traced(server, pages), 90_000)

    for (const [i, o] of outcomes.entries()) {
      expect({ path: o.path, outcome: o.outcome, status: o.status }).toEqual({
        path: pages[i],
        outcome: 'complete',
        status: 200,
      })
      expect(o.body).toContain(headingOf(pages[i]))
      expect(o.body).toContain(`slug: ${pages[i].match(/post-\d+/)[0]}`)
    }
    const workers = await server.renderWorkers()
    expect(workers).toHaveLength(2)
    // Both took renders, and every page was rendered once in all.
    expect(workers.filter((w) => w.renders > 0)).toHaveLength(2)
    expect(workers.reduce((sum, w) => sum + w.renders, 0)).toBe(40)
    expect((await server.stats()).renders).toBe(40)
  })

  /**
   * A burst of first renders during which one worker ends, `how` (`exit`, `throw`: by itself;
   * `terminate`: by the pool): armed before the burst, it ends at the start of its third render
   * (support/render-worker-crash.js), so renders are surely running on it, on any machine.
   * Resolves to what the burst got and what the pool looked like.
   */
  async function endMidBurst(how) {
    const server = await startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 2, renderSlots: RENDER_SLOTS })
    const { renderers: before } = await untilReady(server, 2)
    const victim = before[0]
    await server.armEnd(victim.id, how, 3)
    const pages = posts(40)
    const requests = traced(server, pages)
    const exitCode = await server.ended(victim.id)
    const afterEnd = await server.renderWorkers()
    const outcomes = await allSettledWithin(requests, 90_000)
    return { server, before, afterEnd, victim, exitCode, pages, outcomes }
  }

  /**
   * Every request answered, 200 with its own page or 500; at least one failed (the worker was
   * rendering), and no more than could have been running on it; none hung until the render
   * timeout. Returns the paths that failed.
   */
  function expectOnlyItsRendersFailed({ server, pages, outcomes, exitCode, afterEnd }) {
    for (const [i, o] of outcomes.entries()) {
      expect({ path: o.path, outcome: o.outcome }).toEqual({ path: pages[i], outcome: 'complete' })
      expect([200, 500]).toContain(o.status)
      if (o.status === 200) expect(o.body).toContain(headingOf(pages[i]))
    }
    const failed = outcomes.filter((o) => o.status === 500).map((o) => o.path)
    expect({
      workerStopped: typeof exitCode === 'number',
      someFailed: failed.length >= 1 || `none failed; the pool once it had stopped: ${JSON.stringify(afterEnd)}`,
      // Renders queued behind the render slots were sent to live workers, not to the dead one.
      failed: failed.length <= RENDER_SLOTS ? 'at most the render slots' : `${failed.length} of ${pages.length}`,
      timedOut: server.stderr().match(/.*timed out.*/g),
    }).toEqual({ workerStopped: true, someFailed: true, failed: 'at most the render slots', timedOut: null })
    return failed
  }

  async function expectRecovered({ server, before, victim }, failed) {
    // Back to two ready workers, the dead one gone from the Rust pool.
    const { pool, renderers } = await untilReady(server, 2)
    expect(pool.replaced).toBeGreaterThanOrEqual(1)
    expect(renderers.map((w) => w.id)).not.toContain(victim.id)

    // A page that failed was not cached: the next request renders it, on a live worker.
    const retry = await server.get(failed[0])
    expect(retry.status).toBe(200)
    expect(retry.headers['x-dsg-cache']).toBe('MISS')
    expect(retry.body).toContain(headingOf(failed[0]))

    // Later first requests are served, and the replacement worker takes its share.
    const later = [
      '/guides/guide-01/',
      '/guides/guide-02/',
      '/guides/guide-03/',
      '/guides/guide-04/',
      '/products/product-01/',
      '/products/product-02/',
    ]
    const outcomes = await allSettledWithin(traced(server, later), 90_000)
    for (const o of outcomes)
      expect({ path: o.path, outcome: o.outcome, status: o.status }).toEqual({
        path: o.path,
        outcome: 'complete',
        status: 200,
      })
    const original = new Set(before.map((w) => w.id))
    const replacements = (await server.renderWorkers()).filter((w) => !original.has(w.id))
    expect(replacements).toHaveLength(1)
    expect(replacements[0].renders).toBeGreaterThan(0)
    expect(server.stderr()).not.toMatch(/timed out/)
  }

  test('a worker terminated mid-render fails only the renders running on it; it is replaced and the server keeps answering', async () => {
    const burst = await endMidBurst('terminate')
    const failed = expectOnlyItsRendersFailed(burst)
    await expectRecovered(burst, failed)
  })

  // A worker that dies by itself (Gatsby's engine calling process.exit, an uncaught error, out of
  // memory) leaves the server from its own `exit` event; the pool replaces it from the main thread's.
  // This used to crash the whole process with SIGSEGV about one run in two: lmdb-js (inside Gatsby's
  // engines) closed its databases from its 'exit' listener while its own background sync still ran
  // (lib/render-worker.js).
  test('a worker that exits by itself mid-render fails only the renders running on it; it is replaced and the server keeps answering', async () => {
    const burst = await endMidBurst('exit')
    const failed = expectOnlyItsRendersFailed(burst)
    await expectRecovered(burst, failed)
  })

  test('a worker ended by an uncaught error mid-render fails only the renders running on it; it is replaced and the server keeps answering', async () => {
    const burst = await endMidBurst('throw')
    const failed = expectOnlyItsRendersFailed(burst)
    await expectRecovered(burst, failed)
    expect(burst.server.stderr()).toContain('render worker test: an uncaught error')
  })

  /**
   * Requests `pages` in bursts of 8, so that worn workers are recycled while renders keep coming,
   * and expects each to be its own page, 200.
   */
  async function expectAllRenderedInBursts(server, pages) {
    const outcomes = []
    for (let at = 0; at < pages.length; at += 8) {
      outcomes.push(...(await allSettledWithin(traced(server, pages.slice(at, at + 8)), 90_000)))
    }
    for (const [i, o] of outcomes.entries()) {
      expect({ path: o.path, status: o.status }).toEqual({ path: pages[i], status: 200 })
      expect(o.body).toContain(headingOf(pages[i]))
    }
  }

  test('a worker past recycleAfter renders is replaced without failing a render: its replacement takes the next ones', async () => {
    const server = await startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 2, recycleAfter: 5 })
    const { renderers: first } = await untilReady(server, 2)
    await expectAllRenderedInBursts(server, posts(48))
    const { pool } = await waitFor(async () => (await server.pool()).recycled >= 2 && { pool: await server.pool() }, {
      attempts: 600,
      intervalMs: 100,
      what: 'two workers recycled',
    })
    expect(pool).toMatchObject({ count: 2, replaced: 0 })
    const stats = await server.stats()
    expect({ renders: stats.renders, renderFailures: stats.renderFailures }).toEqual({ renders: 48, renderFailures: 0 })
    // The pool is whole again, with renderers that were not there at the start.
    const { renderers: now } = await untilReady(server, 2)
    const firstIds = first.map((r) => r.id)
    expect(now.filter((r) => !firstIds.includes(r.id)).length).toBeGreaterThanOrEqual(1)
    expect(server.stderr()).not.toMatch(/not generated|failed/)
  })

  test('a worker whose own memory grows past recycleMemory is recycled without failing a render: its replacement is ready before it ends', async () => {
    // No render-count bound: only memory recycles. 4 MB: what a few renders of the example's pages
    // keep even once collected (code loaded and compiled on first use).
    const server = await startWorkersServer({
      cacheDir: cacheDir(),
      renderWorkers: 1,
      recycleAfter: 0,
      recycleMemory: 4 * 2 ** 20,
    })
    const { renderers: first } = await untilReady(server, 1)
    expect(first[0].memoryBytes).toBeGreaterThan(0)
    // Its growth counts from when it was ready (serve() may resolve later: after the functions).
    expect(first[0].readyBytes).toBeGreaterThan(0)
    expect(first[0].grownBytes).toBe(first[0].memoryBytes - first[0].readyBytes)
    expect((await server.pool()).recycleMemory).toBe(4 * 2 ** 20)
    await expectAllRenderedInBursts(server, posts(40))
    const { pool } = await waitFor(
      async () => {
        const p = await server.pool()
        return p.recycledBy.memory >= 1 && { pool: p }
      },
      { attempts: 600, intervalMs: 100, what: 'a worker recycled by memory' },
    )
    expect(pool).toMatchObject({ count: 1, replaced: 0, recycledBy: { renders: 0 } })
    const recycle = pool.recycles[0]
    expect(recycle).toMatchObject({ id: first[0].id, reason: 'memory' })
    expect(recycle.replacementReadyAt).toBeLessThanOrEqual(recycle.endedAt)
    expect(pool.reloadMs).toBeGreaterThan(0)
    expect(server.stderr()).toMatch(
      new RegExp(`render worker ${first[0].id} recycled \\(memory\\) after \\d+\\+ renders`),
    )
    const stats = await server.stats()
    expect({ renders: stats.renders, renderFailures: stats.renderFailures }).toEqual({ renders: 40, renderFailures: 0 })
    // The worn worker is gone from the Rust pool; a replacement renders the next page.
    const { renderers: now } = await untilReady(server, 1)
    expect(now.map((r) => r.id)).not.toContain(first[0].id)
    const next = await server.get('/guides/guide-01/')
    expect(next.status).toBe(200)
    expect(server.stderr()).not.toMatch(/not generated|failed/)
  })

  test('a worker grown by half its memory budget is asked for a full collection and goes on rendering: no recycle, no render failed', async () => {
    // An SSR page renders on every request and leaves garbage behind each time: a worker's heap
    // grows by tens of MiB before V8 collects by itself (the example keeps nothing per render).
    const server = await startWorkersServer({
      cacheDir: cacheDir(),
      renderWorkers: 1,
      recycleAfter: 0,
      recycleMemory: 96 * 2 ** 20,
    })
    const { renderers: first } = await untilReady(server, 1)
    let requests = 0
    async function burst() {
      const paths = Array.from({ length: 8 }, (_, i) => `/ssr/?n=${requests + i}`)
      requests += paths.length
      for (const o of await allSettledWithin(traced(server, paths), 90_000)) {
        expect({ status: o.status, query: o.body.includes('query: {&quot;n&quot;:') }).toEqual({
          status: 200,
          query: true,
        })
      }
    }
    await waitFor(
      async () => {
        await burst()
        return (await server.pool()).collected >= 1
      },
      { attempts: 5000, intervalMs: 0, what: 'the worker asked for a collection' },
    )
    // As many renders again after it: the collection left the garbage's room to render in.
    for (const until = requests * 2; requests < until;) await burst()
    const pool = await server.pool()
    expect(pool).toMatchObject({ count: 1, replaced: 0, recycled: 0 })
    const { renderers: now } = await untilReady(server, 1)
    expect(now.map((r) => r.id)).toEqual([first[0].id])
    expect(now[0].renders).toBeGreaterThanOrEqual(requests)
    expect(server.stderr()).not.toMatch(/recycled|failed/)
  })

  test("when a worn worker's replacement cannot start, the worn worker keeps rendering and the recycle is not retried in a loop", async () => {
    const root = builtCopy()
    tempDirs.push(root)
    const server = await startWorkersServer({ root, cacheDir: cacheDir(), renderWorkers: 1, recycleAfter: 3 })
    await untilReady(server, 1)
    // The running worker has loaded all it needs for a blog post (webpack chunks load on first use)...
    expect((await traced(server, posts(1, 30))[0].done).status).toBe(200)
    // ...when the site changes under the server: a new worker can no longer load the engines.
    fs.rmSync(path.join(root, '.cache', 'page-ssr'), { recursive: true })
    const pages = posts(8)
    for (const page of pages) {
      const o = await traced(server, [page])[0].done
      expect({ path: page, status: o.status }).toEqual({ path: page, status: 200 })
      expect(o.body).toContain(headingOf(page))
    }
    const failure = /recycling render worker \d+ failed, it keeps rendering/g
    await waitFor(() => failure.test(server.stderr()), {
      attempts: 600,
      intervalMs: 50,
      what: 'the failed recycle logged',
    })
    // Several watchdog ticks later, still one attempt.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(server.stderr().match(failure)).toHaveLength(1)
    expect(await server.pool()).toMatchObject({ ready: 1, recycled: 0, threads: 1 })
    const after = await traced(server, posts(1, 40))[0].done
    expect(after.status).toBe(200)
  })

  test('after close() the process exits by itself with code 0 and no render worker left', async () => {
    const server = await startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 2 })
    await untilReady(server, 2)
    const page = await server.get('/blog/post-00010/')
    expect(page.status).toBe(200)

    let timer
    const { code, signal, reply } = await Promise.race([
      server.close(),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error('the process did not exit within 60 s of close()')), 60_000)),
      ),
    ]).finally(() => clearTimeout(timer))
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    expect(reply.renderers).toEqual([])
    expect(reply.pool).toMatchObject({ ready: 0, threads: 0 })
  })

  test('with renderWorkers: 0 the main thread renders: one renderer, no worker pool', async () => {
    const server = await startWorkersServer({ cacheDir: cacheDir(), renderWorkers: 0 })
    expect(server.startPool).toBeNull()
    const pages = posts(4, 20)
    const outcomes = await allSettledWithin(traced(server, pages), 90_000)
    for (const [i, o] of outcomes.entries()) {
      expect(o.status).toBe(200)
      expect(o.body).toContain(headingOf(pages[i]))
    }
    const workers = await server.renderWorkers()
    expect(workers).toHaveLength(1)
    expect(workers[0].renders).toBe(4)
    expect(await server.pool()).toBeNull()
  })
})

describe('the command line', () => {
  test('`serve --render-workers 3` starts with at least one of 3 render workers ready and serves a deferred page', async () => {
    const cli = runCli(serveArgs(EXAMPLE, cacheDir(), '--render-workers', '3'))
    const line = await cli.firstLine()
    const match = line.match(/, (\d+) of 3 render workers ready(?:, |$)/)
    expect(match).not.toBeNull()
    expect(Number(match[1])).toBeGreaterThanOrEqual(1)
    expect(Number(match[1])).toBeLessThanOrEqual(3)

    const port = Number(line.match(/http:\/\/127\.0\.0\.1:(\d+)\//)[1])
    const { done } = tracedGet(`http://127.0.0.1:${port}`, '/blog/post-00012/')
    const res = await done
    expect(res.status).toBe(200)
    expect(res.body).toContain('<h1>Blog post 12</h1>')

    cli.signal('SIGTERM')
    const { code, signal } = await cli.exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
  })

  /** The entry of `option` in `serve --help`, its wrapped lines joined. */
  async function helpEntry(option) {
    const { code, stdout } = await runCliToEnd(['serve', '--help'])
    expect(code).toBe(0)
    return stdout
      .split('\n')
      .reduce((acc, line) => {
        if (/^\s{2}-/.test(line)) acc.push(line.trim())
        else if (acc.length && /^\s{4,}\S/.test(line)) acc[acc.length - 1] += ` ${line.trim()}`
        return acc
      }, [])
      .find((e) => e.startsWith(option))
  }

  test('`serve --help` shows --render-workers with its default', async () => {
    const entry = await helpEntry('--render-workers <n>')
    expect(entry).toBeDefined()
    expect(entry).toContain('0 renders in the main thread')
    expect(entry.endsWith(`(default: auto: ${AUTO_WORKERS})`)).toBe(true)
  })

  test('`serve --help` shows --recycle-memory with its default', async () => {
    const entry = await helpEntry('--recycle-memory <size>')
    expect(entry).toBeDefined()
    expect(entry).toContain('(0: never)')
    expect(entry.endsWith(`(default: auto: ${AUTO_RECYCLE_MEMORY})`)).toBe(true)
  })
})
