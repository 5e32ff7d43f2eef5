'use strict'
// The results as one table (printed, and written to BENCHMARKS.md with the machine and settings).

const f = require('./format')

const HEADER = [
  '#',
  'measurement',
  'gatsby-dsg',
  'nginx',
  'gatsby serve',
  'engine in-process',
  'dsg / nginx',
  'dsg / gatsby serve',
  'dsg / engine',
]
const DASH = '—'

function wrkCell(s) {
  const b = s && s.best
  if (!b) return DASH
  if (b.requests === 0) return `no response within the measurement (${f.num(b.errors ? b.errors.timeout : 0)} timeouts)`
  return `${f.rps(b.rps)} req/s · ${f.ms(b.p50)} / ${f.ms(b.p99)}`
}

/** A server that answered nothing while the other answered: wrk's rps is 0 and the ratio unbounded. */
const answeredNothing = (a, b) => a && a.best && a.best.requests > 0 && b && b.best && b.best.requests === 0

function rpsRatio(a, b) {
  if (answeredNothing(a, b)) return '∞ (no response from it)'
  return f.ratio(a && a.best && a.best.rps, b && b.best && b.best.rps)
}

/**
 * A row measuring the three servers side by side: `cell` of each, then `ratio` of gatsby-dsg to
 * nginx and to gatsby serve.
 */
function serversRow(id, label, r, cell, ratio) {
  const s = r.servers
  return [
    id,
    label,
    cell(s.dsg),
    cell(s.nginx),
    cell(s.gatsby),
    DASH,
    ratio(s.dsg, s.nginx),
    ratio(s.dsg, s.gatsby),
    DASH,
  ]
}

/** req/s · p50 / p99 of each server (wrk). */
function throughputRow(id, label, r) {
  return serversRow(id, label, r, wrkCell, rpsRatio)
}

function compressionCell(s) {
  if (!s || !s.best) return DASH
  return `${f.num(s.check.bodyBytes)} B ${s.check.encoding} · ${f.rps(s.best.rps)} req/s`
}

function compressionRatio(a, b) {
  if (!a || !b || !a.best || !b.best) return DASH
  return `req/s ${f.ratio(a.best.rps, b.best.rps)} · bytes ${f.ratio(a.check.bodyBytes, b.check.bodyBytes)}`
}

/** Body bytes as sent and req/s of each server. */
function compressionRow(id, label, r) {
  return serversRow(id, label, r, compressionCell, compressionRatio)
}

function signed(n) {
  return `${n >= 0 ? '+' : '−'}${f.bytes(Math.abs(n))}`
}

function latencyCell(r) {
  return r ? `${f.ms(r.p50)} / ${f.ms(r.p99)}` : DASH
}

/** The table's rows from the results of bench/lib/scenarios.js. */
function rows(results, opts, pages) {
  const out = []
  const s = results.steady
  if (s && s['1a']) {
    out.push(throughputRow('1a', `static SSG page, HTML \`${pages.static}\` — req/s · p50 / p99`, s['1a']))
    out.push(throughputRow('1b', 'static SSG page, page-data — req/s · p50 / p99', s['1b']))
  }
  if (s && s['2a']) {
    out.push(
      throughputRow(
        '2a',
        `deferred page already generated, HTML \`${pages.generated}\` — req/s · p50 / p99 (nginx: the file gatsby-dsg wrote)`,
        s['2a'],
      ),
    )
    out.push(throughputRow('2b', 'deferred page already generated, page-data — req/s · p50 / p99', s['2b']))
  }
  const fr = results.first
  // Row 3's second client: wrk on one connection, other pages (see the legend).
  const wrkCell = (r, engine) =>
    r && r.wrk && r.wrk.count
      ? `<br>wrk, one connection, ${f.num(r.wrk.count)} other pages: ${latencyCell(r.wrk)}${engine ? ` (${r.wrk.p50 - engine.p50 >= 0 ? '+' : ''}${f.ms(r.wrk.p50 - engine.p50)} over the engine)` : ''}`
      : ''
  if (fr) {
    const overhead =
      fr.dsg && fr.engine ? ` (${fr.dsg.p50 - fr.engine.p50 >= 0 ? '+' : ''}${f.ms(fr.dsg.p50 - fr.engine.p50)})` : ''
    out.push([
      '3',
      `first request of a deferred page, ${fr.pages} distinct pages one at a time — latency p50 / p99 (ratios on p50: lower is better)`,
      (fr.dsg && fr.dsg.split && fr.dsg.split.count
        ? `${latencyCell(fr.dsg)} (p50s: request → render callback ${f.ms(fr.dsg.split.toCallback)}, in the callback, i.e. Gatsby's engine in gatsby-dsg's process, ${f.ms(fr.dsg.split.inCallback)}, HTML → response received ${f.ms(fr.dsg.split.afterHtml)})`
        : latencyCell(fr.dsg)) + wrkCell(fr.dsg, fr.engine),
      DASH,
      latencyCell(fr.gatsby) + wrkCell(fr.gatsby),
      fr.engine
        ? `${latencyCell(fr.engine)} (getData ${f.ms(fr.engine.stages.getData)} + renderPageData ${f.ms(fr.engine.stages.renderPageData)} + renderHTML ${f.ms(fr.engine.stages.renderHTML)})${fr.engine.idle ? `; each after ${fr.engine.idle.ms} ms idle, as a server's render thread between these requests: ${latencyCell(fr.engine.idle)}${fr.dsg ? ` (gatsby-dsg ${fr.dsg.p50 - fr.engine.idle.p50 >= 0 ? '+' : ''}${f.ms(fr.dsg.p50 - fr.engine.idle.p50)})` : ''}` : ''}`
        : DASH,
      DASH,
      f.ratio(fr.dsg && fr.dsg.p50, fr.gatsby && fr.gatsby.p50),
      `${f.ratio(fr.dsg && fr.dsg.p50, fr.engine && fr.engine.p50)}${overhead}`,
    ])
  }
  const st = results.stampede
  if (st) {
    out.push([
      '4',
      `stampede: ${st.requests} simultaneous first requests of one page — renders · p99 (ratio on p99: lower is better)`,
      st.dsg ? `**${st.dsg.renders} render${st.dsg.renders === 1 ? '' : 's'}** · p99 ${f.ms(st.dsg.p99)}` : DASH,
      DASH,
      st.gatsby ? `${st.requests} renders (no dedupe) · p99 ${f.ms(st.gatsby.p99)}` : DASH,
      DASH,
      DASH,
      f.ratio(st.dsg && st.dsg.p99, st.gatsby && st.gatsby.p99),
      DASH,
    ])
  }
  const c = results.cold
  if (c) {
    const cell = (r) =>
      r
        ? `${f.rps(r.rendersPerSecond)} renders/s · ${f.ms(r.p50)} / ${f.ms(r.p99)}${r.exhausted ? ` (all ${f.num(r.completed)} pages in ${f.num(r.elapsedMs / 1000, 1)} s)` : ''}`
        : DASH
    out.push([
      '5',
      `cold distinct pages: ${opts.connections} clients, every request a page not generated yet — renders/s · p50 / p99`,
      cell(c.dsg),
      DASH,
      cell(c.gatsby),
      c.engine ? `${f.rps(c.engine.rendersPerSecond)} renders/s (one after another, in one process)` : DASH,
      DASH,
      f.ratio(c.dsg && c.dsg.rendersPerSecond, c.gatsby && c.gatsby.rendersPerSecond),
      f.ratio(c.dsg && c.dsg.rendersPerSecond, c.engine && c.engine.rendersPerSecond),
    ])
  }
  const m = results.memory
  if (m) {
    const d = m.dsg
    const n = d.neverRecycled
    const short =
      m.siteDeferred < m.wanted
        ? ` — the site has only ${f.num(m.siteDeferred)} deferred pages (\`--pages ${m.wanted}\` gives ${f.num(m.wanted)})`
        : ''
    // Every generated page is two artifacts (HTML, page-data): fewer in memory means evictions.
    const reached =
      d.memoryEntries < 2 * d.generated
        ? `bound reached: ${f.num(d.memoryEntries)} of ${f.num(2 * d.generated)} artifacts kept`
        : `bound not reached: all ${f.num(d.memoryEntries)} artifacts kept (${f.bytes(d.disk.bytes)} on disk, all encodings)`
    const series = (run) => run.series.map((p) => `${f.num(p.pages)}: ${f.bytes(p.rss)}`).join(' · ')
    const run = (run, how) =>
      `${how}: RSS ${f.bytes(run.rssBefore)} → **${f.bytes(run.rssAfter)}** (${signed(run.rssAfter - run.rssBefore)}; peak ${f.bytes(run.peak)}; ` +
      `anonymous ${signed(run.anonAfter - run.anonBefore)}, mapped files ${signed(run.fileAfter - run.fileBefore)}); ` +
      `RSS after each fifth of the pages ${series(run)}`
    out.push([
      '6',
      `RSS after generating ${f.num(d.generated)} distinct deferred pages with \`--cache-size ${f.bytes(m.cacheSize)}\`${short}`,
      `${run(d, `render workers recycled every ${f.num(m.recycleAfter)} renders or by memory (default; ${d.recycled} recycles)`)}` +
        (n ? `<br>${run(n, 'never recycled (`--recycle-after 0 --recycle-memory 0`)')}` : '') +
        `<br>memory cache holds ${f.bytes(d.memoryBytes)}; ${reached}`,
      DASH,
      m.gatsby
        ? `same pages: RSS ${f.bytes(m.gatsby.rssBefore)} → ${f.bytes(m.gatsby.rssAfter)} (${signed(m.gatsby.rssAfter - m.gatsby.rssBefore)}; anonymous ${signed(m.gatsby.anonAfter - m.gatsby.anonBefore)}; caches nothing)`
        : DASH,
      DASH,
      DASH,
      DASH,
      DASH,
    ])
  }
  if (s && s['7a']) {
    out.push(
      compressionRow(
        '7a',
        '`Accept-Encoding: br, gzip`, generated deferred page HTML — body bytes as sent · req/s',
        s['7a'],
      ),
    )
    out.push(
      compressionRow('7b', '`Accept-Encoding: br, gzip`, static SSG page HTML — body bytes as sent · req/s', s['7b']),
    )
  }
  if (results.scaling) out.push(require('./render-scaling').row(results.scaling, opts))
  if (s && s['9']) {
    out.push(throughputRow('9', `Gatsby Function answering JSON \`${s['9'].url}\` — req/s · p50 / p99`, s['9']))
  }
  if (results.redis) out.push(require('./redis-tier').row(results.redis))
  const ssr = results.ssr
  if (ssr) {
    out.push(
      throughputRow(
        '10a',
        'SSR page (`getServerData`), rendered for every request `/ssr/?bench=1` — req/s · p50 / p99',
        ssr['10a'],
      ),
    )
    out.push(
      throughputRow(
        '10b',
        'SSR page with `s-maxage` `/ssr/cached/?bench=1` (gatsby-dsg: its shared cache; nginx: the same bytes as a file) — req/s · p50 / p99',
        ssr['10b'],
      ),
    )
    const c = ssr['10c']
    out.push([
      '10c',
      `first request of a deferred page whose render writes an image, then that image, ${c.pages} pages one at a time — latency p50 / p99 (ratio on p50: lower is better)`,
      latencyCell(c.dsg),
      DASH,
      latencyCell(c.gatsby),
      DASH,
      DASH,
      f.ratio(c.dsg && c.dsg.p50, c.gatsby && c.gatsby.p50),
      DASH,
    ])
  }
  return out
}

/** The chart's series: who gatsby-dsg is compared with. */
const PEERS = ['against nginx', 'against gatsby serve', "against Gatsby's engine alone"]

/**
 * The table's ratios as numbers for the chart (bench/lib/svg.js ratioChart), each turned so that
 * above 1× means gatsby-dsg did better: req/s and renders/s are gatsby-dsg's over the other's,
 * latencies the other's over gatsby-dsg's. Rows 6 and 11 compare no peer and are left out.
 */
function advantages(results) {
  const groups = []
  // A peer at 0 req/s beside gatsby-dsg answering is an unbounded advantage (Infinity, drawn to
  // the chart's edge); gatsby-dsg at 0 (or a missing number) is no ratio.
  const more = (dsg, other) => (dsg > 0 ? dsg / other : NaN)
  const fewer = (dsg, other) => (dsg > 0 ? other / dsg : NaN)
  const add = (id, label, [nginx, gatsby, engine]) =>
    groups.push({
      id,
      label,
      bars: [nginx, gatsby, engine].map((value, i) => ({ series: PEERS[i], value })),
    })
  const rps = (r) => r && r.best && r.best.rps
  const servers = (id, label, r) =>
    r &&
    r.servers &&
    add(id, label, [more(rps(r.servers.dsg), rps(r.servers.nginx)), more(rps(r.servers.dsg), rps(r.servers.gatsby))])
  const s = results.steady || {}
  const p50 = (r) => r && r.p50
  servers('1a', 'static page, HTML, req/s', s['1a'])
  servers('1b', 'static page, page-data, req/s', s['1b'])
  servers('2a', 'generated page, HTML, req/s', s['2a'])
  servers('2b', 'generated page, page-data, req/s', s['2b'])
  const fr = results.first
  if (fr) {
    add('3', 'first request, p50', [NaN, fewer(p50(fr.dsg), p50(fr.gatsby)), fewer(p50(fr.dsg), p50(fr.engine))])
    if (fr.dsg && fr.dsg.wrk && fr.dsg.wrk.count)
      add('3', 'first request, p50 (wrk)', [
        NaN,
        fewer(p50(fr.dsg.wrk), p50(fr.gatsby && fr.gatsby.wrk)),
        fewer(p50(fr.dsg.wrk), p50(fr.engine)),
      ])
  }
  const st = results.stampede
  if (st && st.dsg && st.gatsby) add('4', 'stampede of one page, p99', [NaN, fewer(st.dsg.p99, st.gatsby.p99)])
  const c = results.cold
  const perSecond = (r) => r && r.rendersPerSecond
  if (c)
    add('5', 'cold pages, renders/s', [
      NaN,
      more(perSecond(c.dsg), perSecond(c.gatsby)),
      more(perSecond(c.dsg), perSecond(c.engine)),
    ])
  servers('7a', 'generated page, br, req/s', s['7a'])
  servers('7b', 'static page, br, req/s', s['7b'])
  const sc = results.scaling
  if (sc) {
    const ofEngine = (ratios) => (ratios && ratios.length ? f.median(ratios) : NaN)
    const engine = sc.ofEngine || {}
    add('8', 'cold renders/s, 1 worker', [NaN, more(perSecond(sc.one), perSecond(sc.gatsby)), ofEngine(engine.one)])
    add('8', `cold renders/s, ${sc.workers} workers`, [
      NaN,
      more(perSecond(sc.many), perSecond(sc.gatsby)),
      ofEngine(engine.many),
    ])
  }
  servers('9', 'Gatsby Function, req/s', s['9'])
  const ssr = results.ssr
  if (ssr) {
    servers('10a', 'SSR page, req/s', ssr['10a'])
    servers('10b', 'SSR page, s-maxage, req/s', ssr['10b'])
    const i = ssr['10c']
    if (i) add('10c', 'page writing an image, p50', [NaN, fewer(p50(i.dsg), p50(i.gatsby))])
  }
  return groups
}

/** The chart of the table's ratios (SVG text). */
function ratiosChart(results) {
  return require('./svg').ratioChart({
    title: 'gatsby-dsg against each peer, measured side by side in this run',
    note: 'a bar to the right of 1×: gatsby-dsg did better (more req/s or renders/s, or a lower latency)',
    series: PEERS,
    groups: advantages(results),
  })
}

function markdownTable(results, opts, pages) {
  return f.table(HEADER, rows(results, opts, pages))
}

function legend(opts, pages, results) {
  const fr = results.first
  return [
    `- Servers, all on 127.0.0.1 and the same \`public/\`: **gatsby-dsg** (\`lib/serve.js\` in its own Node process, a fresh empty cache directory for rows 3–6), **nginx** (Debian's; \`worker_processes ${opts.workers}\` = gatsby-dsg's worker threads, sendfile on, access log off; requests that \`public/\` cannot answer fall back to gatsby-dsg's cache directory, so in rows 2 and 7a it serves the files gatsby-dsg generated, as a CDN synced with that directory would), **gatsby serve** (\`gatsby serve\`, which re-runs the query and the render of a deferred page on every request), and Gatsby's **engine in-process** (\`getData\` + \`renderPageData\` + \`JSON.stringify\` + \`renderHTML\` called directly in a separate Node process, template warmed first: the least a first request can cost).`,
    `- Row 9: as rows 1 and 2, gatsby-dsg and gatsby serve only: a Gatsby Function (\`example/src/api/hello.js\`, \`res.json\` of the query). gatsby serve runs it inside its Express app; gatsby-dsg routes it in Rust and forwards it over a unix socket to its functions process (Express and Gatsby's middleware chain).`,
    `- Rows 1, 2, 7: wrk, ${opts.connections} connections, ${opts.threads} threads, ${opts.warmup} s warm-up (discarded) then ${opts.duration} s, servers interleaved (gatsby-dsg, nginx, gatsby serve)${opts.rounds > 1 ? `, ${opts.rounds} rounds, the run with the median req/s is shown` : ''}. Cells: req/s · p50 / p99 latency. Ratios compare req/s (above 1× = gatsby-dsg serves more).`,
    `- Row 3: Node's HTTP client on one keep-alive connection asks ${fr ? fr.pages : opts.firstRequests} distinct never-generated deferred pages (\`/blog/post-…\`, same template) one after another, after one request that warms the template; gatsby serve gets the same list; the engine is timed on the same list, one render right after another (the goal's reference), then on as many other pages each after 1 ms idle (setTimeout), about what gatsby-dsg's render thread idles between two of these requests: on this VM a thread's next render is slower after it idled. Then, in the same gatsby-dsg and against gatsby serve, as many other never-generated pages one at a time over one connection of wrk (bench/lib/wrk.js \`distinct\`, latency from wrk's own histogram): Node's HTTP client adds time of its own to each request it times, on the same two cores (a stored page one at a time: p50 0.07–0.18 ms through it, 0.01–0.07 ms through wrk); wrk's latency is the server's.`,
    `- Row 4: ${opts.stampede} requests of one never-generated page sent at once, one connection each; renders = the server's own count of calls into Gatsby's engine (\`stats().renders\`).`,
    `- Row 5: ${opts.connections} concurrent Node clients, each request a page that was never asked before (after a warm-up on other pages), for ${opts.duration} s or until the site's deferred pages run out; gatsby-dsg's renders/s is its own render count over the elapsed time, gatsby serve's is its responses per second (it renders every one; as it keeps nothing, it gets the same list over and over for the whole ${opts.duration} s).`,
    `- Row 6: VmRSS of the gatsby-dsg process (/proc) after start and one render, once steady (less than 1 MiB change over 1 s), after each fifth of the pages, then again once steady after generating them all (HTML requests, ${opts.connections} clients), twice: with render workers recycled (the default) and never recycled, each a fresh process with an empty cache; peak = VmHWM; anonymous = RssAnon (the process's own memory), mapped files = RssFile (e.g. Gatsby's LMDB datastore, which the kernel can reclaim). gatsby serve (one process, which caches nothing) is sent the same pages after it, and its RSS read the same way: the growth of Gatsby's engine itself.`,
    `- Row 7: bytes = the response body as sent (compressed if the server compressed it) of one request with \`Accept-Encoding: br, gzip\`; req/s with that header in wrk. nginx: \`gzip on\` (level 6, \`gzip_static\` too; Debian's nginx has no brotli unless \`libnginx-mod-http-brotli-filter\` is installed); gatsby serve: Express \`compression\`.`,
    ...(results.scaling ? [require('./render-scaling').legend(opts)] : []),
    ...(results.redis ? [require('./redis-tier').legend()] : []),
    ...(results.ssr
      ? [
          `- Row 10: 10a, 10b as rows 1–2 (wrk). 10a: the example's \`/ssr/\` page, whose \`getServerData\` returns Gatsby's default (revalidate) headers, so both servers render it for every request (gatsby-dsg on its render workers). 10b: \`/ssr/cached/\`, whose \`getServerData\` sends \`public, s-maxage=60\`: gatsby-dsg answers from its SSR shared cache (HIT), nginx serves the bytes of gatsby-dsg's first response as a file, gatsby serve renders every request. 10c: a fresh gatsby-dsg and gatsby serve are each asked the 24 \`/gallery/photo-NN/\` deferred pages one at a time, each followed by the PNG its HTML links, which the page's query wrote into \`public/static/\` during the render (the images are removed before each server's turn).`,
        ]
      : []),
    `- Percentile p99 of 200 samples (row 4) is the 198th slowest; a 2-core machine shared with the load generator and other work gives noisy absolute numbers: compare the ratios, measured side by side.`,
  ].join('\n')
}

module.exports = { markdownTable, legend, rows, HEADER, advantages, ratiosChart, PEERS }
