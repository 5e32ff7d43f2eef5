'use strict'
// The seven measurements. Each takes the bench context `ctx`:
//   { opts, site, tools, runDir, pages, gatsby, issues, log }
// and returns plain results; bench/lib/report.js turns them into the table. Servers are
// interleaved inside every measurement (gatsby-dsg, nginx, gatsby serve, then again for each
// round), so a slow phase of a shared machine hits all of them alike.

const fs = require('fs')
const path = require('path')
const http = require('./http')
const wrk = require('./wrk')
const procs = require('./procs')
const { sleep } = require('../../scripts/support/wait')
const { startDsg, startNginx } = require('./servers')
const { medianBy } = require('./format')
const { issue, expectAll200, statusText } = require('./issues')
const { DEFAULT_RECYCLE_AFTER } = require('../../lib/render-workers')

const ENCODINGS = { 'Accept-Encoding': 'br, gzip' }

function cacheDirFor(ctx, name) {
  const dir = path.join(ctx.runDir, `cache-${name}`)
  fs.rmSync(dir, { recursive: true, force: true })
  return dir
}

function dirBytes(dir) {
  let total = 0
  let files = 0
  const visit = (d) => {
    let entries
    try {
      entries = fs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) visit(p)
      else {
        total += fs.statSync(p).size
        files += 1
      }
    }
  }
  visit(dir)
  return { bytes: total, files }
}

/** A fresh gatsby-dsg with its own empty cache directory; `fn(dsg)`; then closed and checked. */
async function withFreshDsg(ctx, name, options, fn) {
  const cacheDir = cacheDirFor(ctx, name)
  const dsg = await startDsg(ctx.site, { cacheDir, ...options })
  ctx.renderThreads = dsg.renderThreads
  try {
    return await fn(dsg, cacheDir)
  } finally {
    checkOutput(ctx, dsg, name)
    await dsg.close()
    // Kept until the run ends (run.js removes the run directory): ext4 allocating inodes right
    // after thousands were deleted burns kernel CPU in the writing threads (perf: ext4_create →
    // recently_deleted, find_inode_bit), which slowed the next cold-page measurement 2–3×.
  }
}

function checkOutput(ctx, server, name) {
  const out = server.output().trim()
  if (!server.alive || server.alive()) {
    if (out) issue(ctx, `${server.name} (${name}) wrote to stdout/stderr: ${out.slice(0, 600)}`)
  } else {
    issue(ctx, `${server.name} (${name}) died: ${out.slice(0, 600)}`)
  }
}

// ---------------------------------------------------------------------------------------------
// 1, 2, 7: steady-state throughput with wrk against one long-lived instance of each server.

/**
 * Starts gatsby-dsg (long-lived, one cache dir) and generates the deferred page; then nginx on the
 * same public/, falling back to gatsby-dsg's cache directory for the generated page's files.
 */
async function startWarmServers(ctx) {
  const { site, pages } = ctx
  const dsg = await startDsg(site, { cacheDir: cacheDirFor(ctx, 'warm') })
  ctx.renderThreads = dsg.renderThreads
  const generated = [pages.generated, pages.generatedData]
  for (const url of generated) {
    const res = await http.request(dsg.base, url)
    if (res.status !== 200) issue(ctx, `gatsby-dsg: GET ${url} (first request) → ${res.status}`)
  }
  // The artifacts are written to disk after the response: wait (bounded) for nginx's sake.
  const files = [
    path.join(dsg.summary.cacheDir, pages.generated, 'index.html'),
    path.join(dsg.summary.cacheDir, pages.generatedData),
  ]
  const deadline = Date.now() + 10_000
  while (!files.every((f) => fs.existsSync(f)) && Date.now() < deadline) await sleep(50)
  for (const f of files) {
    if (!fs.existsSync(f)) issue(ctx, `gatsby-dsg did not write ${path.relative(ctx.runDir, f)} within 10 s`)
    else if ((fs.statSync(f).mode & 0o044) !== 0o044) {
      issue(
        ctx,
        `gatsby-dsg wrote ${path.basename(f)} with mode ${(fs.statSync(f).mode & 0o777).toString(8)}: not readable by another user (a web server or CDN sync)`,
      )
    }
  }
  const nginx = await startNginx(site, {
    workDir: ctx.runDir,
    workers: ctx.opts.workers,
    generatedDir: dsg.summary.cacheDir,
    nginxBin: ctx.tools.nginx,
  })
  return { dsg, nginx, gatsby: ctx.gatsby }
}

async function throughput(ctx, servers, target) {
  const { opts } = ctx
  const order = [
    ['dsg', servers.dsg],
    ['nginx', servers.nginx],
    ['gatsby', servers.gatsby],
  ].filter(([key, server]) => server && (!target.servers || target.servers.includes(key)))
  const headers = target.headers || {}
  const result = { id: target.id, url: target.url, headers, servers: {} }
  // One plain request first: status, encoding and body size as sent.
  for (const [key, server] of order) {
    const res = await http.request(server.base, target.url, { headers })
    result.servers[key] = {
      check: {
        status: res.status,
        encoding: res.headers['content-encoding'] || 'identity',
        bodyBytes: res.body.length,
        cache: res.headers['x-dsg-cache'],
      },
      runs: [],
    }
    if (res.status !== 200)
      issue(
        ctx,
        `${server.name}: GET ${target.url}${target.headers ? ' (Accept-Encoding: br, gzip)' : ''} → ${res.status}`,
      )
    if (key === 'dsg' && target.expectHit && res.headers['x-dsg-cache'] !== 'HIT') {
      issue(ctx, `gatsby-dsg: GET ${target.url} after generation → x-dsg-cache ${res.headers['x-dsg-cache']}`)
    }
  }
  for (let round = 0; round < opts.rounds; round += 1) {
    for (const [key, server] of order) {
      ctx.log(`  ${target.id} ${server.name}${opts.rounds > 1 ? ` (round ${round + 1})` : ''}: wrk ${target.url}`)
      const r = await wrk.measure(ctx.tools.wrk, server.base + target.url, {
        workDir: ctx.runDir,
        connections: opts.connections,
        threads: opts.threads,
        seconds: opts.duration,
        warmupSeconds: opts.warmup,
        headers,
      })
      const errors = Object.entries(r.errors).filter(([, n]) => n > 0)
      if (errors.length > 0) {
        issue(
          ctx,
          `${server.name}: wrk ${target.url}: ${errors.map(([k, n]) => `${n} ${k === 'status' ? 'non-2xx/3xx responses' : `${k} errors`}`).join(', ')}`,
        )
      }
      result.servers[key].runs.push(r)
    }
  }
  for (const key of Object.keys(result.servers)) {
    result.servers[key].best = medianBy(result.servers[key].runs, 'rps')
  }
  return result
}

async function steadyState(ctx) {
  const { pages } = ctx
  const targets = [
    { id: '1a', url: pages.static },
    { id: '1b', url: pages.staticData },
    { id: '2a', url: pages.generated, expectHit: true },
    { id: '2b', url: pages.generatedData, expectHit: true },
    { id: '7a', url: pages.generated, headers: ENCODINGS, expectHit: true },
    { id: '7b', url: pages.static, headers: ENCODINGS },
    // A Gatsby Function answering JSON (example/src/api/hello.js); nginx has none.
    { id: '9', url: '/api/hello?from=bench', servers: ['dsg', 'gatsby'] },
  ].filter((t) => ctx.opts.only.has(Number(t.id[0])))
  ctx.log('measurements 1, 2, 7: starting gatsby-dsg and nginx, generating the deferred page')
  const servers = await startWarmServers(ctx)
  const results = {}
  try {
    for (const target of targets) results[target.id] = await throughput(ctx, servers, target)
    results.nginxConf = servers.nginx.conf
  } finally {
    checkOutput(ctx, servers.dsg, 'steady state')
    const nginxOut = servers.nginx.output().trim()
    if (/\[(emerg|alert|crit|error)\]/.test(nginxOut)) issue(ctx, `nginx logged: ${nginxOut.slice(0, 400)}`)
    await servers.nginx.close()
    await servers.dsg.close()
  }
  return results
}

// ---------------------------------------------------------------------------------------------
// 3: first request of a deferred page, one at a time, against Gatsby's engine called in-process.

function runEngineDirect(ctx, warm, paths, maxMs, { idleMs, idlePaths } = {}) {
  const input = path.join(ctx.runDir, 'engine-input.json')
  const output = path.join(ctx.runDir, 'engine-output.json')
  fs.writeFileSync(input, JSON.stringify({ warm, paths, maxMs, idleMs, idlePaths }))
  fs.rmSync(output, { force: true })
  return new Promise((resolve, reject) => {
    const child = procs.start(
      process.execPath,
      [path.join(__dirname, 'engine-direct.js'), ctx.site.dir, input, output],
      {
        cwd: ctx.site.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1' },
      },
    )
    let out = ''
    child.stdout.on('data', (c) => (out += c))
    child.stderr.on('data', (c) => (out += c))
    const killer = setTimeout(() => procs.stop(child, { signal: 'SIGKILL' }), maxMs + 120_000)
    child.exited.then(({ code }) => {
      clearTimeout(killer)
      if (code !== 0 || !fs.existsSync(output))
        return reject(new Error(`the direct engine run failed (exit ${code}): ${out.slice(-2000)}`))
      const r = JSON.parse(fs.readFileSync(output, 'utf8'))
      const summary = http.summarize(r.timings.map((t) => t.total))
      const stage = (k) => http.summarize(r.timings.map((t) => t[k])).p50
      resolve({
        ...summary,
        rendersPerSecond: r.timings.length / (r.elapsedMs / 1000),
        stages: { getData: stage('getData'), renderPageData: stage('renderPageData'), renderHTML: stage('renderHTML') },
        startMs: r.startMs,
        firstUseMs: r.firstUseMs,
        rss: r.rss,
        // The same renders, each after the thread idled `idleMs` (what a server's render thread
        // does between first requests one at a time): their p50.
        idle:
          r.idleTimings && r.idleTimings.length
            ? { ms: r.idleMs, ...http.summarize(r.idleTimings.map((t) => t.total)) }
            : undefined,
      })
    })
  })
}

async function firstRequest(ctx) {
  const { opts, pages } = ctx
  const warm = pages.pool[0]
  const list = pages.pool.slice(1, 1 + opts.firstRequests)
  // Pages neither list above asks (the engine's idle run takes the next ones), for wrk.
  const wrkList = pages.pool.slice(1 + 2 * list.length, 1 + 3 * list.length)
  const maxMs = Math.max(30_000, opts.duration * 3000)
  const runs = { dsg: [], gatsby: [], engine: [] }
  for (let round = 0; round < opts.rounds; round += 1) {
    ctx.log(`measurement 3 (first request): gatsby-dsg, ${list.length} distinct deferred pages one at a time`)
    runs.dsg.push(
      await withFreshDsg(ctx, `first-${round}`, { instrument: true }, async (dsg) => {
        await http.request(dsg.base, warm)
        const before = (await dsg.stats()).renders
        await dsg.renderTimings()
        const r = await http.sequential(dsg.base, list, { maxMs })
        const renders = (await dsg.stats()).renders - before
        await sleep(100)
        const timings = await dsg.renderTimings()
        // Inside gatsby-dsg's process: from the call of the render callback to its HTML.
        r.callback = http.summarize(timings.map((t) => t.htmlMs))
        r.callbackPageData = http.summarize(timings.map((t) => t.pageDataMs))
        // Where the time goes, per request: client sent → callback called → HTML resolved → client got it.
        const byPath = new Map(timings.map((t) => [t.pagePath, t]))
        const split = r.samples.map((s) => [s, byPath.get(decodeURI(s.path))]).filter(([, t]) => t)
        r.split = {
          count: split.length,
          toCallback: http.summarize(split.map(([s, t]) => t.at - s.send)).p50,
          inCallback: http.summarize(split.map(([, t]) => t.htmlMs)).p50,
          afterHtml: http.summarize(split.map(([s, t]) => s.end - (t.at + t.htmlMs))).p50,
        }
        delete r.samples
        expectAll200(ctx, 'gatsby-dsg, first requests', r)
        if (renders !== r.count)
          issue(ctx, `gatsby-dsg: ${r.count} first requests of distinct pages made ${renders} renders`)
        if (wrkList.length) {
          const before = (await dsg.stats()).renders
          r.wrk = await wrk.oneAtATime(ctx.tools.wrk, dsg.base, wrkList, { workDir: ctx.runDir, maxMs })
          expectAll200(ctx, 'gatsby-dsg, first requests (wrk)', r.wrk)
          const made = (await dsg.stats()).renders - before
          if (made !== r.wrk.count)
            issue(ctx, `gatsby-dsg: ${r.wrk.count} first requests of distinct pages (wrk) made ${made} renders`)
        }
        return { ...r, renders }
      }),
    )
    ctx.log(`measurement 3 (first request): gatsby serve, the same pages`)
    await http.request(ctx.gatsby.base, warm)
    const g = await http.sequential(ctx.gatsby.base, list, { maxMs })
    delete g.samples
    expectAll200(ctx, 'gatsby serve, first requests', g)
    if (wrkList.length) {
      g.wrk = await wrk.oneAtATime(ctx.tools.wrk, ctx.gatsby.base, wrkList, { workDir: ctx.runDir, maxMs })
      expectAll200(ctx, 'gatsby serve, first requests (wrk)', g.wrk)
    }
    runs.gatsby.push(g)
    ctx.log(`measurement 3 (first request): Gatsby's engine in-process, the same pages`)
    // Then on as many other pages, each after 1 ms idle: about what gatsby-dsg's render thread
    // idles between two of these requests (the response's way out, the next request's way in).
    const idlePaths = pages.pool.slice(1 + list.length, 1 + 2 * list.length)
    runs.engine.push(await runEngineDirect(ctx, warm, list, maxMs, { idleMs: 1, idlePaths }))
  }
  return {
    pages: list.length,
    dsg: medianBy(runs.dsg, 'p50'),
    gatsby: medianBy(runs.gatsby, 'p50'),
    engine: medianBy(runs.engine, 'p50'),
  }
}

// ---------------------------------------------------------------------------------------------
// 4: stampede — N simultaneous first requests of one page.

async function stampede(ctx) {
  const { opts, pages } = ctx
  const warm = pages.pool[0]
  const runs = { dsg: [], gatsby: [] }
  for (let round = 0; round < opts.rounds; round += 1) {
    const target = pages.pool[1 + round] // never generated by this fresh instance
    ctx.log(`measurement 4 (stampede): gatsby-dsg, ${opts.stampede} simultaneous first requests of ${target}`)
    runs.dsg.push(
      await withFreshDsg(ctx, `stampede-${round}`, {}, async (dsg) => {
        await http.request(dsg.base, warm)
        const before = (await dsg.stats()).renders
        const r = await http.stampede(dsg.base, target, opts.stampede)
        // The HTML of a render finishes after its page-data: let in-flight work settle (bounded).
        let stats = await dsg.stats()
        for (let i = 0; i < 100 && stats.rendersInFlight > 0; i += 1) {
          await sleep(50)
          stats = await dsg.stats()
        }
        const renders = stats.renders - before
        expectAll200(ctx, 'gatsby-dsg, stampede', r)
        if (renders !== 1)
          issue(
            ctx,
            `gatsby-dsg: stampede of ${opts.stampede} first requests to ${target} made ${renders} renders (must be 1)`,
          )
        if (r.distinctBodies > 1)
          issue(ctx, `gatsby-dsg: stampede answered ${r.distinctBodies} different bodies for ${target}`)
        return { ...r, renders }
      }),
    )
    ctx.log(`measurement 4 (stampede): gatsby serve, the same`)
    const g = await http.stampede(ctx.gatsby.base, target, opts.stampede)
    expectAll200(ctx, 'gatsby serve, stampede', g)
    runs.gatsby.push(g)
  }
  return { requests: opts.stampede, dsg: medianBy(runs.dsg, 'p99'), gatsby: medianBy(runs.gatsby, 'p99') }
}

// ---------------------------------------------------------------------------------------------
// 5: cold distinct pages — many clients, each request a different page nobody asked before.

async function coldPages(ctx, engine) {
  const { opts, pages } = ctx
  const warm = pages.pool[0]
  const warmupList = pages.pool.slice(1, 1 + Math.min(2 * opts.connections, Math.floor(pages.pool.length / 4)))
  const list = pages.pool.slice(1 + warmupList.length)
  const maxMs = opts.duration * 1000
  const runs = { dsg: [], gatsby: [] }
  for (let round = 0; round < opts.rounds; round += 1) {
    ctx.log(
      `measurement 5 (cold pages): gatsby-dsg, ${opts.connections} clients over up to ${list.length} distinct pages, ${opts.duration} s`,
    )
    runs.dsg.push(
      await withFreshDsg(ctx, `cold-${round}`, {}, async (dsg) => {
        await http.request(dsg.base, warm)
        await http.pool(dsg.base, warmupList, { concurrency: opts.connections, maxMs: opts.warmup * 1000 })
        const before = (await dsg.stats()).renders
        const r = await http.pool(dsg.base, list, { concurrency: opts.connections, maxMs })
        const renders = (await dsg.stats()).renders - before
        expectAll200(ctx, 'gatsby-dsg, cold pages', r)
        return {
          ...r,
          renders,
          rendersPerSecond: renders / (r.elapsedMs / 1000),
          exhausted: r.completed >= list.length,
        }
      }),
    )
    ctx.log(`measurement 5 (cold pages): gatsby serve, the same`)
    await http.pool(ctx.gatsby.base, warmupList, { concurrency: opts.connections, maxMs: opts.warmup * 1000 })
    // gatsby serve keeps nothing: every request of any page is a first one, so it gets the list
    // again and again for the whole duration (bounded), not only until the list runs out.
    const cycled = Array.from({ length: 50 }, () => list).flat()
    const g = await http.pool(ctx.gatsby.base, cycled, { concurrency: opts.connections, maxMs })
    expectAll200(ctx, 'gatsby serve, cold pages', g)
    runs.gatsby.push({
      ...g,
      rendersPerSecond: g.completed / (g.elapsedMs / 1000),
      exhausted: g.completed >= cycled.length,
    })
  }
  return {
    available: list.length,
    dsg: medianBy(runs.dsg, 'rendersPerSecond'),
    gatsby: medianBy(runs.gatsby, 'rendersPerSecond'),
    engine: engine ? { rendersPerSecond: engine.rendersPerSecond, meanMs: engine.mean } : null,
  }
}

// ---------------------------------------------------------------------------------------------
// 6: memory after generating many distinct deferred pages with a bounded memory cache.

/** Memory once RSS moved less than 1 MiB over a second (at most 20 s). */
async function settled(server) {
  let last = server.memory()
  for (let i = 0; i < 20; i += 1) {
    await sleep(1000)
    const now = server.memory()
    if (Math.abs(now.rss - last.rss) < 2 ** 20) return now
    last = now
  }
  return last
}

/**
 * Requests every page of `list` (HTML, `opts.connections` clients), reading RSS after each fifth
 * of them; then once the server is idle and steady.
 */
async function generateMeasuringMemory(ctx, dsg, cacheDir, list) {
  const { opts } = ctx
  await http.request(dsg.base, list[0])
  // gatsby-dsg does work of its own after start (e.g. compressed variants of public/): read the
  // baseline once RSS is steady (bounded).
  const before = await settled(dsg)
  const statsBefore = await dsg.stats()
  const rest = list.slice(1)
  const step = Math.ceil(rest.length / 5)
  const series = []
  let elapsedMs = 0
  for (let at = 0; at < rest.length; at += step) {
    const r = await http.pool(dsg.base, rest.slice(at, at + step), {
      concurrency: opts.connections,
      maxMs: 30 * 60 * 1000,
    })
    expectAll200(ctx, 'gatsby-dsg, RSS generation', r)
    elapsedMs += r.elapsedMs
    series.push({ pages: 1 + Math.min(at + step, rest.length), rss: dsg.memory().rss })
  }
  // Let the background HTML renders and disk writes finish (bounded), then read memory.
  let stats = await dsg.stats()
  for (let i = 0; i < 100 && stats.rendersInFlight > 0; i += 1) {
    await sleep(50)
    stats = await dsg.stats()
  }
  const after = await settled(dsg)
  const { recycled } = await dsg.renderWorkers()
  return {
    recycled,
    generated: stats.renders,
    requested: list.length,
    seconds: elapsedMs / 1000,
    series,
    rssBefore: before.rss,
    rssAfter: after.rss,
    peak: after.hwm,
    anonBefore: before.anon,
    anonAfter: after.anon,
    fileBefore: before.file,
    fileAfter: after.file,
    memoryBytes: stats.memoryBytes,
    memoryEntries: stats.memoryEntries,
    rendersBefore: statsBefore.renders,
    disk: dirBytes(cacheDir),
  }
}

async function memory(ctx) {
  const { opts, site } = ctx
  const candidates = site.deferred.filter((p) => p !== '/broken/' && !p.includes('*'))
  const list = candidates.slice(0, opts.rssPages).map((p) => encodeURI(p))
  // Twice: render workers never recycled, then recycled by lib/serve.js's defaults (after a number
  // of renders or a memory growth: Gatsby's engine grows with every distinct page; only ending a
  // worker gives it back).
  const runs = {}
  for (const [name, recycleAfter, recycleMemory] of [
    ['neverRecycled', 0, 0],
    ['recycled', DEFAULT_RECYCLE_AFTER, undefined],
  ]) {
    ctx.log(
      `measurement 6 (RSS): gatsby-dsg with --cache-size ${opts.cacheSize} B, ${name}, generating ${list.length} distinct deferred pages`,
    )
    runs[name] = await withFreshDsg(
      ctx,
      `rss-${name}`,
      { memoryCacheBytes: opts.cacheSize, recycleAfter, recycleMemory },
      (dsg, cacheDir) => generateMeasuringMemory(ctx, dsg, cacheDir, list),
    )
  }
  const result = { ...runs.recycled, neverRecycled: runs.neverRecycled }
  // The same pages through gatsby serve: how much Gatsby's engine itself grows, caching nothing.
  ctx.log(`measurement 6 (RSS): gatsby serve, the same ${list.length} pages`)
  let gatsby = null
  try {
    await http.request(ctx.gatsby.base, list[0])
    const before = await settled(ctx.gatsby)
    const g = await http.pool(ctx.gatsby.base, list.slice(1), { concurrency: opts.connections, maxMs: 30 * 60 * 1000 })
    expectAll200(ctx, 'gatsby serve, RSS generation', g)
    const after = await settled(ctx.gatsby)
    gatsby = {
      rssBefore: before.rss,
      rssAfter: after.rss,
      peak: after.hwm,
      anonBefore: before.anon,
      anonAfter: after.anon,
      seconds: g.elapsedMs / 1000,
    }
  } catch (error) {
    issue(ctx, `gatsby serve, RSS: ${error.message}`)
  }
  return {
    cacheSize: opts.cacheSize,
    recycleAfter: DEFAULT_RECYCLE_AFTER,
    wanted: opts.rssPages,
    siteDeferred: candidates.length,
    dsg: result,
    gatsby,
  }
}

// ---------------------------------------------------------------------------------------------
// 10: SSR pages (getServerData) and a deferred page whose render writes an image.

/** The example's SSR page rendered per request, and its s-maxage page (shared-cached). */
const SSR_PAGE = '/ssr/?bench=1'
const SSR_CACHED = '/ssr/cached/?bench=1'
const GALLERY_PAGES = 24

/** Removes the gallery images a render wrote into the bench site's public/static/. */
function removeGalleryImages(site) {
  const dir = path.join(site.dir, 'public', 'static')
  let names
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    const full = path.join(dir, name)
    let files
    try {
      files = fs.readdirSync(full)
    } catch {
      continue
    }
    if (files.length > 0 && files.every((f) => /^photo-\d+\.png$/.test(f)))
      fs.rmSync(full, { recursive: true, force: true })
  }
}

/** Each gallery page, then the image its HTML links, one page at a time: total latency. */
async function galleryFirstRequests(ctx, server, slugs, maxMs) {
  const timings = []
  const statuses = {}
  const started = Date.now()
  for (const slug of slugs) {
    if (Date.now() - started > maxMs) break
    const t0 = process.hrtime.bigint()
    const page = await http.request(server.base, `/gallery/${slug}/`)
    const src = (page.body.toString('utf8').match(/src="(\/static\/[0-9a-f]{32}\/photo-\d+\.png)"/) || [])[1]
    const image = src ? await http.request(server.base, src) : { status: 'no image link' }
    timings.push(Number(process.hrtime.bigint() - t0) / 1e6)
    const key = `${page.status}/${image.status}`
    statuses[key] = (statuses[key] || 0) + 1
  }
  const bad = Object.keys(statuses).filter((k) => k !== '200/200')
  if (bad.length > 0) issue(ctx, `${server.name}: gallery page then image → ${statusText(statuses)}`)
  return { ...http.summarize(timings), statuses }
}

async function ssr(ctx) {
  const results = {}
  ctx.log('measurement 10 (SSR): gatsby-dsg and gatsby serve on an SSR page rendered per request')
  const dsg = await startDsg(ctx.site, { cacheDir: cacheDirFor(ctx, 'ssr') })
  ctx.renderThreads = dsg.renderThreads
  let nginx
  try {
    results['10a'] = await throughput(ctx, { dsg, gatsby: ctx.gatsby }, { id: '10a', url: SSR_PAGE })
    // 10b: nginx serves the bytes gatsby-dsg's shared cache holds, as a file.
    const first = await http.request(dsg.base, SSR_CACHED)
    if (first.headers['x-dsg-cache'] !== 'MISS')
      issue(ctx, `gatsby-dsg: first GET ${SSR_CACHED} → x-dsg-cache ${first.headers['x-dsg-cache']}`)
    const bytesDir = path.join(ctx.runDir, 'ssr-bytes')
    fs.mkdirSync(path.join(bytesDir, 'ssr', 'cached'), { recursive: true })
    fs.writeFileSync(path.join(bytesDir, 'ssr', 'cached', 'index.html'), first.body)
    nginx = await startNginx(ctx.site, {
      workDir: path.join(ctx.runDir, 'nginx-ssr'),
      workers: ctx.opts.workers,
      generatedDir: bytesDir,
      nginxBin: ctx.tools.nginx,
    })
    ctx.log(
      'measurement 10 (SSR): an SSR page with s-maxage (gatsby-dsg: shared cache; nginx: the same bytes as a file)',
    )
    results['10b'] = await throughput(
      ctx,
      { dsg, nginx, gatsby: ctx.gatsby },
      { id: '10b', url: SSR_CACHED, expectHit: true },
    )
  } finally {
    checkOutput(ctx, dsg, 'ssr')
    if (nginx) await nginx.close()
    await dsg.close()
  }
  // 10c: first request of a deferred page whose render writes an image, then that image.
  const slugs = Array.from({ length: GALLERY_PAGES }, (_, i) => `photo-${String(i + 1).padStart(2, '0')}`)
  const maxMs = Math.max(30_000, ctx.opts.duration * 3000)
  removeGalleryImages(ctx.site)
  ctx.log(`measurement 10 (image pages): gatsby-dsg, ${slugs.length} deferred pages writing an image, one at a time`)
  results['10c'] = {
    pages: slugs.length,
    dsg: await withFreshDsg(ctx, 'gallery', {}, (fresh) => galleryFirstRequests(ctx, fresh, slugs, maxMs)),
  }
  removeGalleryImages(ctx.site)
  ctx.log('measurement 10 (image pages): gatsby serve, the same pages')
  results['10c'].gatsby = await galleryFirstRequests(ctx, ctx.gatsby, slugs, maxMs)
  return results
}

module.exports = { steadyState, firstRequest, stampede, coldPages, memory, ssr, runEngineDirect, ENCODINGS }
