'use strict'
// 8: render scaling — cold distinct pages rendered per second by gatsby-dsg with 1 render worker,
// with N (one per core), and by `gatsby serve`, in one run, interleaved per round. Each gatsby-dsg
// is fresh (empty cache directory), waits until all its workers are ready, and is warmed on other
// pages first, so every worker has loaded Gatsby's engines and the template before the clock runs.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const http = require('./http')
const wrk = require('./wrk')
const { sleep } = require('../../scripts/support/wait')
const { startDsg } = require('./servers')
const f = require('./format')
const { issue, expectAll200 } = require('./issues')

const DASH = '—'

/** Renders/s of Gatsby's engine alone in `threads` worker threads of one fresh process. */
function engineInThreads(ctx, threads, list) {
  const input = path.join(ctx.runDir, 'engine-threads-input.json')
  fs.writeFileSync(input, JSON.stringify({ paths: list }))
  const r = spawnSync(
    process.execPath,
    [path.join(__dirname, 'engine-threads.js'), ctx.site.dir, String(threads), '8', input],
    {
      cwd: ctx.site.dir,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1' },
    },
  )
  const line = (r.stdout || '').trim().split('\n').pop()
  if (r.status !== 0 || !line) throw new Error(`exit ${r.status}: ${(r.stderr || '').slice(-1000)}`)
  return JSON.parse(line)
}

/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout) || 100

/**
 * The name and CPU time (user + system, in seconds) in a /proc `stat` line: fields 14 and 15
 * (utime, stime) in clock ticks, counted after the `(comm)`, which may itself hold `) `.
 */
function statCpu(stat) {
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
  return {
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    seconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
  }
}

/** CPU time (user + system) the process `pid` has used, in seconds. */
function cpuSeconds(pid) {
  return statCpu(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')).seconds
}

/**
 * CPU seconds (user + system) of each thread of `pid` now, by thread id, with its name. Threads
 * that ended are not listed (a recycled render worker's time is then missing, not miscounted).
 */
function threadCpuSeconds(pid) {
  const threads = new Map()
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(tid, statCpu(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')))
    } catch {
      // ended between the listing and the read
    }
  }
  return threads
}

/**
 * The CPU seconds between two `threadCpuSeconds` by who used them: the server's own threads
 * (`http`: tokio's workers and blocking pool, the accept thread; `store`: the store threads) and
 * Node's (`js`: the render workers, V8's helper threads — garbage collection, compilation — and
 * the main thread), each thread's own name telling them apart.
 */
function cpuByThreads(before, after) {
  const use = { http: 0, store: 0, js: 0 }
  for (const [tid, now] of after) {
    const seconds = now.seconds - (before.get(tid)?.seconds || 0)
    if (now.name.startsWith('gatsby-dsg-stor') || now.name.startsWith('gatsby-dsg-catc')) use.store += seconds
    else if (now.name.startsWith('tokio-') || now.name.startsWith('gatsby-dsg-')) use.http += seconds
    else use.js += seconds
  }
  return use
}

/** Until all `count` workers are ready (bounded): a worker still loading would make N look like fewer. */
async function allWorkersReady(dsg, count, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs
  let state = await dsg.renderWorkers()
  while ((state.ready < count || state.workers.length < count) && Date.now() < deadline) {
    await sleep(100)
    state = await dsg.renderWorkers()
  }
  return state
}

/**
 * `opts.connections` clients asking each of `paths` once, for at most `opts.duration` seconds: wrk
 * (bench/lib/wrk.js `distinct`), whose own CPU is a fifth of Node's HTTP client's on this 2-core
 * machine (0.25–0.33 s against 1.3–1.5 s per 3,000 requests), CPU the server under test gets
 * instead, as it would with its clients elsewhere. The load generator's CPU is still reported.
 */
function coldPages(ctx, base, paths) {
  const { opts } = ctx
  return wrk.distinct(ctx.tools.wrk, base, paths, {
    workDir: ctx.runDir,
    connections: opts.connections,
    seconds: opts.duration,
  })
}

/** One fresh gatsby-dsg with `workers` render workers: renders/s over `list`. */
async function measureDsg(ctx, workers, { warm, warmupList, list, round }) {
  const { opts } = ctx
  // A new directory each time, none deleted before the run ends (see withFreshDsg in scenarios.js).
  const cacheDir = path.join(ctx.runDir, `cache-scaling-${workers}-${round}`)
  // Flush what earlier measurements left dirty, so that each configuration starts from the same
  // disk state.
  spawnSync('sync', { timeout: 60_000 })
  const dsg = await startDsg(ctx.site, { cacheDir, renderWorkers: workers })
  try {
    const ready = await allWorkersReady(dsg, workers)
    if (ready.ready < workers)
      issue(ctx, `gatsby-dsg --render-workers ${workers}: only ${ready.ready} ready after 120 s`)
    await http.request(dsg.base, warm)
    await http.pool(dsg.base, warmupList, { concurrency: opts.connections, maxMs: Math.max(1, opts.warmup) * 1000 })
    const before = await dsg.renderWorkers()
    const [rendersBefore, serverCpuBefore] = [(await dsg.stats()).renders, cpuSeconds(dsg.pid)]
    const threadsBefore = threadCpuSeconds(dsg.pid)
    const r = await coldPages(ctx, dsg.base, list)
    const serverCpu = cpuSeconds(dsg.pid) - serverCpuBefore
    const byThreads = cpuByThreads(threadsBefore, threadCpuSeconds(dsg.pid))
    const after = await dsg.renderWorkers()
    const renders = (await dsg.stats()).renders - rendersBefore
    const rendersOf = (state) => new Map(state.workers.map((w) => [w.id, w.renders]))
    const was = rendersOf(before)
    const perWorker = after.workers.map((w) => w.renders - (was.get(w.id) || 0))
    const seconds = r.elapsedMs / 1000
    // Where the two cores went: the server process, this load generator, and how busy each render
    // worker's event loop was (workers replaced meanwhile, by a recycle, are left out).
    const loopBefore = new Map(before.loops.map((l) => [l.thread, l]))
    const busy = after.loops
      .filter((a) => loopBefore.has(a.thread))
      .map((a) => {
        const b = loopBefore.get(a.thread)
        const [active, idle] = [a.active - b.active, a.idle - b.idle]
        return active / Math.max(1, active + idle)
      })
    const cpu = {
      server: serverCpu / seconds,
      client: r.clientCpuSeconds / seconds,
      // Cores, as `server`: its own threads and Node's.
      threads: { http: byThreads.http / seconds, store: byThreads.store / seconds, js: byThreads.js / seconds },
      workerLoops: busy,
    }
    expectAll200(ctx, `gatsby-dsg --render-workers ${workers}, cold pages`, r)
    const out = dsg.output().trim()
    if (out) issue(ctx, `gatsby-dsg --render-workers ${workers} wrote: ${out.slice(0, 400)}`)
    return {
      ...r,
      workers,
      renders,
      perWorker,
      cpu,
      rendersPerSecond: renders / seconds,
      exhausted: r.completed >= list.length,
    }
  } finally {
    await dsg.close()
  }
}

async function renderScaling(ctx) {
  const { opts, pages } = ctx
  const n = opts.workers
  const warm = pages.pool[0]
  const warmupList = pages.pool.slice(1, 1 + Math.min(2 * opts.connections, Math.floor(pages.pool.length / 4)))
  const list = pages.pool.slice(1 + warmupList.length)
  const runs = { one: [], many: [], gatsby: [], engineOne: [], engineMany: [], bracketOne: [], bracketMany: [] }
  // Gatsby's engine alone (no server) in as many threads, on the same pages, right before and right
  // after each gatsby-dsg: this VM's speed drifts by up to 2× within a minute (the CPU time of one
  // render doubled between two runs of the same build, with no steal time counted), so a server
  // is compared with the mean of the two measurements around it. `null` if the engine failed.
  const engineAlone = (threads) => {
    ctx.log(`measurement 8 (render scaling): Gatsby's engine alone in ${threads} thread${threads === 1 ? '' : 's'}`)
    try {
      return engineInThreads(ctx, threads, list)
    } catch (error) {
      issue(ctx, `engine alone in ${threads} threads: ${error.message}`)
      return null
    }
  }
  for (let round = 0; round < opts.rounds; round += 1) {
    // 1 then N in even rounds, N then 1 in odd ones: a drift of the machine favours neither.
    const order = round % 2 === 0 ? [1, n] : [n, 1]
    for (const workers of order) {
      const before = engineAlone(workers)
      ctx.log(
        `measurement 8 (render scaling): gatsby-dsg with ${workers} render worker${workers === 1 ? '' : 's'}, ${opts.connections} clients over up to ${list.length} distinct pages`,
      )
      const r = await measureDsg(ctx, workers, { warm, warmupList, list, round })
      const after = engineAlone(workers)
      const bracket = [before, after].filter(Boolean)
      const [dsgRuns, engines, brackets] =
        workers === 1 ? [runs.one, runs.engineOne, runs.bracketOne] : [runs.many, runs.engineMany, runs.bracketMany]
      dsgRuns.push(r)
      engines.push(...bracket)
      brackets.push(bracket.length ? bracket.reduce((sum, e) => sum + e.rendersPerSecond, 0) / bracket.length : NaN)
    }
    ctx.log(`measurement 8 (render scaling): gatsby serve, the same pages`)
    await http.pool(ctx.gatsby.base, warmupList, {
      concurrency: opts.connections,
      maxMs: Math.max(1, opts.warmup) * 1000,
    })
    // gatsby serve keeps nothing: it gets the list over and over for the whole duration.
    const cycled = Array.from({ length: 50 }, () => list).flat()
    const g = await coldPages(ctx, ctx.gatsby.base, cycled)
    expectAll200(ctx, 'gatsby serve, render scaling', g)
    runs.gatsby.push({ ...g, rendersPerSecond: g.completed / (g.elapsedMs / 1000) })
  }
  const one = f.medianBy(runs.one, 'rendersPerSecond')
  const many = f.medianBy(runs.many, 'rendersPerSecond')
  const gatsby = f.medianBy(runs.gatsby, 'rendersPerSecond')
  const engine = {
    one: runs.engineOne.length ? f.medianBy(runs.engineOne, 'rendersPerSecond') : undefined,
    many: runs.engineMany.length ? f.medianBy(runs.engineMany, 'rendersPerSecond') : undefined,
  }
  // Per round, served over the engine alone at the same worker (thread) count, measured around it.
  const served = (server, alone) => server.map((s, i) => s.rendersPerSecond / alone[i]).filter(Number.isFinite)
  return {
    workers: n,
    available: list.length,
    one,
    many,
    gatsby,
    engine,
    // Per round, N workers over 1 (the rounds' median is shown).
    ratios: runs.one.map((o, i) => runs.many[i].rendersPerSecond / o.rendersPerSecond),
    ofEngine: { one: served(runs.one, runs.bracketOne), many: served(runs.many, runs.bracketMany) },
  }
}

/** The table row (columns of bench/lib/report.js's HEADER). */
function row(s, opts) {
  const cell = (r) =>
    r
      ? `${f.rps(r.rendersPerSecond)} renders/s · ${f.ms(r.p50)} / ${f.ms(r.p99)}${r.exhausted ? ` (all ${f.num(r.completed)} pages in ${f.num(r.elapsedMs / 1000, 1)} s)` : ''}`
      : DASH
  const ratio = f.median(s.ratios)
  const split =
    s.many && s.many.perWorker ? `; renders per worker ${s.many.perWorker.map((x) => f.num(x)).join(' / ')}` : ''
  const pct = (x) => `${Math.round(100 * x)}%`
  // CPU milliseconds per render: cores used × seconds / renders.
  const perRender = (cores, r) => (1000 * cores) / r.rendersPerSecond
  // Per render, by thread: Node's (render workers, V8's helpers) and the server's own.
  const threads = (r) =>
    r.cpu.threads
      ? `: Node's threads ${f.ms(perRender(r.cpu.threads.js, r))} (render workers, V8's helpers), own threads ${f.ms(perRender(r.cpu.threads.http + r.cpu.threads.store, r))} (HTTP ${f.ms(perRender(r.cpu.threads.http, r))}, storing ${f.ms(perRender(r.cpu.threads.store, r))})`
      : ''
  const ofEngine = (ratios) => (ratios && ratios.length ? `${f.num(f.median(ratios), 2)}×` : DASH)
  const cpu = (r) =>
    r && r.cpu
      ? `CPU ${f.num(r.cpu.server + r.cpu.client, 2)} of ${opts.workers} cores (server ${f.num(r.cpu.server, 2)} = ${f.ms(perRender(r.cpu.server, r))} per render${threads(r)}, load generator ${f.num(r.cpu.client, 2)}); worker event loops busy ${r.cpu.workerLoops.length ? r.cpu.workerLoops.map(pct).join(' / ') : '— (recycled during the run)'}`
      : ''
  return [
    '8',
    `render scaling: cold distinct pages, ${opts.connections} clients — renders/s · p50 / p99 with **1** render worker → with **${s.workers}** (one per core)`,
    `1 worker: ${cell(s.one)} (${cpu(s.one)}) → ${s.workers} workers: ${cell(s.many)}${split} (${cpu(s.many)}) — **${s.workers} / 1 = ${Number.isFinite(ratio) ? `${f.num(ratio, 2)}×` : DASH}**` +
      (s.engine && s.engine.one && s.engine.many
        ? `<br>Gatsby's engine alone, no server: 1 thread ${f.rps(s.engine.one.rendersPerSecond)} renders/s (CPU ${f.num(s.engine.one.cores, 2)} cores = ${f.ms(perRender(s.engine.one.cores, s.engine.one))} per render) → ${s.workers} threads ${f.rps(s.engine.many.rendersPerSecond)} renders/s (CPU ${f.num(s.engine.many.cores, 2)} cores = ${f.ms(perRender(s.engine.many.cores, s.engine.many))} per render) — **${f.num(s.engine.many.rendersPerSecond / s.engine.one.rendersPerSecond, 2)}×**` +
          (s.ofEngine
            ? `<br>served / engine alone, same round: 1 worker / 1 thread **${ofEngine(s.ofEngine.one)}**, ${s.workers} workers / ${s.workers} threads **${ofEngine(s.ofEngine.many)}** (goal ≥ 0.85×)`
            : '')
        : ''),
    DASH,
    cell(s.gatsby),
    DASH,
    DASH,
    `${s.workers} workers: ${f.ratio(s.many && s.many.rendersPerSecond, s.gatsby && s.gatsby.rendersPerSecond)} · 1 worker: ${f.ratio(s.one && s.one.rendersPerSecond, s.gatsby && s.gatsby.rendersPerSecond)}`,
    DASH,
  ]
}

function legend(opts) {
  return `- Row 8: two fresh gatsby-dsg processes, \`--render-workers 1\` and \`--render-workers ${opts.workers}\` (one per core; 1 first in odd rounds, ${opts.workers} first in even ones; \`sync\` before each, as both write every page to disk), each with an empty cache directory, started and waited on until all its workers are ready, warmed for ${Math.max(1, opts.warmup)} s on other pages, then ${opts.connections} connections of one wrk thread (bench/lib/wrk.js \`distinct\`: a client that leaves the server the CPU Node's HTTP client took) each asking a page never asked before, for ${opts.duration} s or until the pages run out; renders/s = the server's renders over the elapsed time (renders per worker shows the spread); CPU = cores used over the measured seconds by the gatsby-dsg process (/proc/<pid>/stat) and by the load generator (wrk's own, from getrusage), and each render worker's event-loop utilization (busy share of its time: 100% means that thread was the limit). gatsby serve gets the same list over and over, as in row 5. Gatsby's engine alone: bench/lib/engine-threads.js, a fresh process whose 1 or ${opts.workers} worker threads each load the engine as gatsby-dsg's workers do, render one page, then share the same list (8 renders at a time per thread, page-data and HTML) with no server: the ceiling the engine itself sets, measured right before and right after each gatsby-dsg at the same count (this VM's speed drifts within a minute). What is counted where: both do getData + renderPageData + JSON.stringify + renderHTML on the same pages, 8 at a time per worker (gatsby-dsg's render slots: 8 in all); gatsby-dsg also answers HTTP, hashes (ETag) and stores every page (its HTML and page-data files; while renders wait for a slot, as here, uncompressed: brotli and gzip are made once the page is asked for again with the store threads idle), and all of that is inside its renders/s and its CPU per render (CPU ms of the process per render), split by thread name into Node's threads (the render workers, V8's helper threads, the main thread) and the server's own (HTTP: tokio and the accept thread; storing: the store threads). Served / engine alone is the median of the rounds' ratios, each gatsby-dsg over the mean of the two engine runs around it. The ${opts.workers} / 1 ratio is the median of the rounds' ratios.`
}

module.exports = { renderScaling, row, legend }
