'use strict'
// `npm run bench -- --scale 10000,50000`: the same site at several sizes, gatsby-dsg side by side
// with `gatsby serve`: what the build costs, what the server holds and how fast it starts, and the
// request figures that must not depend on the size. Writes the table and SVG charts (bench/lib/svg.js)
// into BENCHMARKS.md between the `scale` markers; 1,000,000 pages are extrapolated on paper from
// the two largest sizes measured (a straight line through them, for the rows that grow with the
// size; the rest are per request and stay as measured).

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const http = require('./http')
const wrk = require('./wrk')
const { sleep } = require('../../scripts/support/wait')
const { freePort } = require('../../scripts/support/ports')
const { ensureSite, pageDataUrl } = require('./site')
const { startDsg, startGatsbyServe } = require('./servers')
const { runEngineDirect } = require('./scenarios')
const { num, rps, ms, bytes, table } = require('./format')
const { lineChart } = require('./svg')
const { expectAll200, problemsText } = require('./issues')
const { writeSection, writeCharts, chartLink } = require('./sections')

const EXTRAPOLATE_TO = 1_000_000
const MiB = 2 ** 20
const MARKERS = ['<!-- scale:start -->', '<!-- scale:end -->']

function fileBytes(file) {
  try {
    return fs.statSync(file).size
  } catch {
    return NaN
  }
}

/** GET `url` until it answers 200 (connection refused meanwhile); resolves to the ms it took. */
async function firstAnswer(base, url, startedAt, timeoutMs = 120_000) {
  for (;;) {
    try {
      const res = await http.request(base, url, { timeoutMs: 5000 })
      if (res.status === 200) return Date.now() - startedAt
    } catch {}
    if (Date.now() - startedAt > timeoutMs) return NaN
    await sleep(5)
  }
}

async function measureSize(ctx, n) {
  const { opts, log } = ctx
  const site = ensureSite(n, { log })
  // A size built just now leaves gigabytes of its build dirty in the page cache, written back
  // while its servers are measured: in a run that built 100,000 and 200,000 pages right before
  // measuring them, gatsby-dsg's first request over wrk was 2.29 and 2.34 ms (10,000, built
  // earlier: 1.60 ms); over the same builds in a later run, 1.53 and 1.56 ms. Flushed first.
  spawnSync('sync', { timeout: 300_000 })
  const sctx = { ...ctx, site }
  const deferred = site.deferredPosts.map((p) => encodeURI(p))
  const warm = deferred[0]
  const firstList = deferred.slice(1, 1 + opts.firstRequests)
  // As many other first requests, over one wrk connection (bench/lib/wrk.js oneAtATime).
  const wrkFirstList = deferred.slice(1 + opts.firstRequests, 1 + 2 * opts.firstRequests)
  const coldList = deferred.slice(1 + 2 * opts.firstRequests)
  const maxMs = opts.duration * 1000
  const cacheDir = path.join(ctx.runDir, `scale-cache-${n}`)
  fs.rmSync(cacheDir, { recursive: true, force: true })
  const r = {
    pages: n,
    deferred: site.deferred.length,
    buildSeconds: site.buildSeconds,
    createPagesSeconds: site.createPagesSeconds,
    manifestBytes: fileBytes(path.join(site.dir, '.cache', 'gatsby-dsg', 'deferred-pages.json')),
    pageSsrBytes: fileBytes(path.join(site.dir, '.cache', 'page-ssr', 'index.js')),
    reduxBytes: dirSize(path.join(site.dir, '.cache', 'redux')),
  }

  log(`scale ${n}: gatsby-dsg, start-up and ${firstList.length} first requests`)
  let started = Date.now()
  const dsg = await startDsg(site, { cacheDir })
  r.dsgStartSeconds = (Date.now() - started) / 1000
  r.dsgRssAfterStart = (await settledMemory(dsg)).rss
  r.workers = dsg.renderThreads
  r.firstWorkerBytes = dsg.choice ? dsg.choice.firstWorkerBytes : NaN
  try {
    const m = await measureRequests(ctx, `gatsby-dsg at ${n} pages`, dsg.base, {
      warm,
      firstList,
      wrkFirstList,
      coldList,
      maxMs,
    })
    r.dsgFirstP50 = m.firstP50
    r.dsgFirstWrkP50 = m.firstWrkP50
    r.dsgSecondP50 = m.secondP50
    r.dsgColdPerSecond = m.coldPerSecond
    r.dsgHitRps = m.rps
    r.stored = (await dsg.stats()).renders
  } finally {
    await dsg.close()
  }

  log(`scale ${n}: gatsby-dsg restarted over ${r.stored} stored pages, first static answer`)
  const port = await freePort()
  started = Date.now()
  const base = `http://127.0.0.1:${port}`
  const answered = firstAnswer(base, encodeURI(site.staticPosts[0]), started)
  const again = await startDsg(site, { cacheDir, port })
  r.restartFirstStaticMs = await answered
  r.restartReadySeconds = (Date.now() - started) / 1000
  const stored = await http.request(again.base, firstList[1])
  r.restartStoredCache = stored.headers['x-dsg-cache']
  await again.close()

  log(`scale ${n}: gatsby serve, start-up and the same requests`)
  started = Date.now()
  const gatsby = await startGatsbyServe(site)
  r.gatsbyStartSeconds = (Date.now() - started) / 1000
  r.gatsbyRssAfterStart = (await settledMemory(gatsby)).rss
  try {
    const m = await measureRequests(ctx, `gatsby serve at ${n} pages`, gatsby.base, {
      warm,
      firstList,
      wrkFirstList,
      coldList,
      maxMs,
    })
    r.gatsbyFirstP50 = m.firstP50
    r.gatsbyFirstWrkP50 = m.firstWrkP50
    r.gatsbySecondP50 = m.secondP50
    r.gatsbyColdPerSecond = m.coldPerSecond
    r.gatsbyRps = m.rps
  } finally {
    await gatsby.close()
  }

  log(`scale ${n}: Gatsby's engine in-process, the same first requests`)
  const engine = await runEngineDirect(
    sctx,
    decodeURI(warm),
    firstList.map((p) => decodeURI(p)),
    Math.max(60_000, maxMs * 3),
  )
  r.engineFirstP50 = engine.p50
  r.engineStartMs = engine.startMs
  r.engineRss = engine.rss
  fs.rmSync(cacheDir, { recursive: true, force: true })
  log(`scale ${n}: ${JSON.stringify(r)}`)
  return r
}

/**
 * The requests both servers are measured with, at `base`: `warm` once, then `firstList` one after
 * another (their p50: first requests), `wrkFirstList` as well over one wrk connection, `coldList`
 * by `opts.connections` connections of wrk (pages per second) and wrk on `firstList[0]` (req/s, a
 * page asked before). Any answer but a 200 is one of the run's problems (`server` names it).
 */
async function measureRequests(ctx, server, base, { warm, firstList, wrkFirstList, coldList, maxMs }) {
  const { opts } = ctx
  await http.request(base, warm)
  const first = await http.sequential(base, firstList, { maxMs: Math.max(60_000, maxMs * 3) })
  const firstWrk = await wrk.oneAtATime(ctx.tools.wrk, base, wrkFirstList, {
    workDir: ctx.runDir,
    maxMs: Math.max(60_000, maxMs * 3),
  })
  // The same pages again, one at a time: for gatsby-dsg each is stored now, so this is what the
  // HTTP round trip and the answer cost without a render — the floor the first request stands on.
  const second = await http.sequential(base, firstList, { maxMs: Math.max(60_000, maxMs * 3) })
  // wrk, as row 8 (bench/lib/render-scaling.js coldPages): the client takes little of the CPU.
  const cold = await wrk.distinct(ctx.tools.wrk, base, coldList, {
    workDir: ctx.runDir,
    connections: opts.connections,
    seconds: Math.max(1, Math.round(maxMs / 1000)),
  })
  const again = await wrk.measure(ctx.tools.wrk, base + firstList[0], {
    workDir: ctx.runDir,
    connections: opts.connections,
    threads: opts.threads,
    seconds: opts.duration,
    warmupSeconds: opts.warmup,
  })
  for (const [what, result] of Object.entries({
    'first requests': first,
    'first requests (wrk)': firstWrk,
    'stored pages': second,
    'cold pages': cold,
  }))
    expectAll200(ctx, `${server}, ${what}`, result)
  return {
    firstP50: first.p50,
    firstWrkP50: firstWrk.p50,
    secondP50: second.p50,
    coldPerSecond: cold.completed / (cold.elapsedMs / 1000),
    rps: again.rps,
  }
}

function dirSize(dir) {
  let total = 0
  try {
    for (const name of fs.readdirSync(dir)) total += fileBytes(path.join(dir, name)) || 0
  } catch {
    return NaN
  }
  return total
}

/** RSS once it moved less than 2 MiB over half a second (at most 10 s). */
async function settledMemory(server) {
  let last = server.memory()
  for (let i = 0; i < 20; i++) {
    await sleep(500)
    const now = server.memory()
    if (Math.abs(now.rss - last.rss) < 2 * MiB) return now
    last = now
  }
  return last
}

/** The value at EXTRAPOLATE_TO on the straight line through the two largest sizes measured. */
function extrapolate(results, key) {
  const points = results.filter((r) => Number.isFinite(r[key])).sort((a, b) => a.pages - b.pages)
  if (points.length < 2) return NaN
  const [a, b] = points.slice(-2)
  const slope = (b[key] - a[key]) / (b.pages - a.pages)
  return b[key] + slope * (EXTRAPOLATE_TO - b.pages)
}

const s = (x) => (Number.isFinite(x) ? `${num(x, x < 10 ? 1 : 0)} s` : '—')

/** Rows of the scale table: [label, format, key(s)…, grows with the size?]. */
const ROWS = [
  ['`gatsby build` wall time', s, 'buildSeconds', true],
  ['… of which `createPages` (the plugin defers half the posts by glob)', s, 'createPagesSeconds', true],
  ['`deferred-pages.json` (read by gatsby-dsg at start)', bytes, 'manifestBytes', true],
  ['`.cache/page-ssr/index.js` (loaded by every engine)', bytes, 'pageSsrBytes', true],
  ['`.cache/redux` (not loaded by render workers)', bytes, 'reduxBytes', true],
  ['start-up, listening and workers ready: gatsby-dsg', s, 'dsgStartSeconds', true],
  ['start-up: `gatsby serve`', s, 'gatsbyStartSeconds', true],
  ['restart over the pages stored by this run: first static answer', ms, 'restartFirstStaticMs', false],
  ['RSS after start: gatsby-dsg (default workers)', bytes, 'dsgRssAfterStart', true],
  ['RSS after start: `gatsby serve`', bytes, 'gatsbyRssAfterStart', true],
  ["first render worker's cost (RSS growth while it loaded)", bytes, 'firstWorkerBytes', true],
  ['render workers chosen', (x) => num(x), 'workers', false],
  ['first request p50: gatsby-dsg', ms, 'dsgFirstP50', false],
  ["first request p50: Gatsby's engine in-process", ms, 'engineFirstP50', false],
  ['first request p50: `gatsby serve`', ms, 'gatsbyFirstP50', false],
  ['first request p50, over one wrk connection (other pages): gatsby-dsg', ms, 'dsgFirstWrkP50', false],
  ['first request p50, over one wrk connection: `gatsby serve`', ms, 'gatsbyFirstWrkP50', false],
  ['the same pages again, p50: gatsby-dsg (stored: the HTTP round trip alone)', ms, 'dsgSecondP50', false],
  ['the same pages again, p50: `gatsby serve` (rendered again)', ms, 'gatsbySecondP50', false],
  ['cold renders/s (wrk, 50 connections, distinct pages): gatsby-dsg', rps, 'dsgColdPerSecond', false],
  ['cold renders/s: `gatsby serve`', rps, 'gatsbyColdPerSecond', false],
  ['generated page, HIT req/s: gatsby-dsg', rps, 'dsgHitRps', false],
  ['the same page, req/s: `gatsby serve` (renders every time)', rps, 'gatsbyRps', false],
]

function scaleTable(results) {
  const sizes = results.map((r) => r.pages)
  const header = ['', ...sizes.map((n) => `${num(n)} pages`), `${num(EXTRAPOLATE_TO)} (extrapolated)`]
  const rows = ROWS.map(([labelText, format, key, grows]) => [
    labelText,
    ...results.map((r) => format(r[key])),
    grows && results.length >= 2 ? format(extrapolate(results, key)) : '—',
  ])
  // The table helper right-aligns from the third column: keep the first size column right-aligned too.
  return table(header, rows).replace(/^\|---\|---\|/m, '|---|---:|')
}

function charts(results) {
  const line = (name, key, scale = 1) => ({
    name,
    points: [
      ...results.map((r) => ({ x: r.pages, y: r[key] / scale })),
      ...(results.length >= 2 ? [{ x: EXTRAPOLATE_TO, y: extrapolate(results, key) / scale, extrapolated: true }] : []),
    ],
  })
  const flat = (name, key) => ({ name, points: results.map((r) => ({ x: r.pages, y: r[key] })) })
  return {
    'scale-build.svg': lineChart({
      title: 'gatsby build with the plugin deferring by glob',
      yLabel: 'seconds',
      series: [line('build wall time', 'buildSeconds'), line('createPages', 'createPagesSeconds')],
    }),
    'scale-memory.svg': lineChart({
      title: 'Memory after start',
      yLabel: 'MiB',
      series: [
        line('gatsby-dsg RSS', 'dsgRssAfterStart', MiB),
        line('gatsby serve RSS', 'gatsbyRssAfterStart', MiB),
        line('one render worker', 'firstWorkerBytes', MiB),
      ],
    }),
    'scale-startup.svg': lineChart({
      title: 'Start-up',
      yLabel: 'seconds',
      series: [
        line('gatsby-dsg, workers ready', 'dsgStartSeconds'),
        line('gatsby serve', 'gatsbyStartSeconds'),
        flat('gatsby-dsg restart: first static answer', 'restartFirstStaticSeconds'),
      ],
    }),
    'scale-requests.svg': lineChart({
      title: 'Per request: must not depend on the size',
      yLabel: 'requests/s (thousands)',
      series: [
        { name: 'gatsby-dsg HIT', points: results.map((r) => ({ x: r.pages, y: r.dsgHitRps / 1000 })) },
        { name: 'gatsby-dsg cold', points: results.map((r) => ({ x: r.pages, y: r.dsgColdPerSecond / 1000 })) },
        { name: 'gatsby serve', points: results.map((r) => ({ x: r.pages, y: r.gatsbyRps / 1000 })) },
      ],
    }),
  }
}

/** The section between the scale markers of BENCHMARKS.md. */
function section(results, { command, machine, chartDir, out, issues = [] }) {
  const rel = (name) => chartLink(out, chartDir, name)
  return `${MARKERS[0]}
## Scale: the same site from ${num(results[0].pages)} to ${num(results[results.length - 1].pages)} pages

Generated by \`${command}\` on ${machine.cpu}, ${machine.nproc} cores, ${machine.memory} RAM, cache directories on ${machine.fileSystem} (load average
${machine.loadavg} at the start). Each size is a copy of \`example/\` built with
\`EXAMPLE_PAGES=N\` (half of the posts deferred by the site, half by the plugin's \`defer\` glob); the last
column is a straight line through the two largest sizes, for the rows that grow with the size.

${scaleTable(results)}

${problemsText(issues)}

![gatsby build](${rel('scale-build.svg')}) ![memory](${rel('scale-memory.svg')})
![start-up](${rel('scale-startup.svg')}) ![per request](${rel('scale-requests.svg')})
${MARKERS[1]}
`
}

async function scaleRun(ctx, sizes, { out, chartDir, command, machine }) {
  const results = []
  for (const n of sizes) {
    const r = await measureSize(ctx, n)
    r.restartFirstStaticSeconds = r.restartFirstStaticMs / 1000
    results.push(r)
  }
  writeCharts(chartDir, charts(results))
  writeSection(out, MARKERS, section(results, { command, machine, chartDir, out, issues: ctx.issues }))
  return results
}

module.exports = { scaleRun, scaleTable, extrapolate, section, charts, pageDataUrl }
