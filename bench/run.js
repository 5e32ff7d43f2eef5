#!/usr/bin/env node
'use strict'
// `npm run bench`: prepares everything (the addon, the example's packages, a copy of the example
// site built with N pages, nginx and wrk from Debian), measures gatsby-dsg against nginx and
// `gatsby serve` side by side, prints one table and writes it to BENCHMARKS.md, with its ratios
// as a chart (bench/charts/ratios.svg).
//
//   npm run bench                       2000 pages, 50 connections, 10 s per measurement
//   npm run bench -- --pages 10000      a bigger site (built once per page count, kept in bench/.work)
//   npm run bench:smoke                 tiny site, 1 s per measurement: proves the bench still works
//
//   npm run bench -- --scale 10000,50000   the same site at several sizes, beside gatsby serve
//                                       (bench/lib/scale.js: a table and SVG charts in BENCHMARKS.md)
//
// Options: --pages N, --duration S, --connections C, --rounds R, --warmup S, --threads T (wrk),
// --stampede N, --first-requests N, --rss-pages N, --cache-size SIZE (row 6), --out FILE,
// --json FILE, --only 1,3,6 (some measurements; the table then has only their rows), --smoke, --no-prepare (skip scripts/prepare: use the addon and example as they are —
// only for working on the bench itself while the engine's sources do not build; also
// GATSBY_DSG_BENCH_NO_PREPARE=1).

const fs = require('fs')
const os = require('os')
const path = require('path')
const { parseArgs } = require('util')
const { problemsText } = require('./lib/issues')
const { writeSection, writeCharts, chartLink } = require('./lib/sections')

const ROOT = path.resolve(__dirname, '..')
// Where a run's report goes in BENCHMARKS.md (bench/lib/sections.js).
const REPORT_MARKERS = ['<!-- report:start -->', '<!-- report:end -->']

const USAGE = `usage: npm run bench -- [--pages 2000|10000] [--duration 10] [--connections 50] [--rounds 1]
       [--warmup 2] [--threads <cores>] [--stampede 200] [--first-requests 300]
       [--rss-pages 10000] [--cache-size 64MB] [--out BENCHMARKS.md] [--json FILE] [--only 1,3,...] [--smoke] [--no-prepare]
       [--scale 10000,50000]`

function parseSize(text) {
  const m = String(text)
    .trim()
    .match(/^(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?$/i)
  if (!m) throw new Error(`--cache-size: not a size: ${text}`)
  const unit = (m[2] || 'b').toLowerCase().replace(/i?b$/, '')
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit]
  return Math.round(Number(m[1]) * 1024 ** power)
}

/** `--only 1,3,6`: the measurements to run (all by default). */
function parseOnly(text) {
  const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
  if (text === undefined) return new Set(all)
  const picked = text.split(',').map((x) => Number(x.trim()))
  if (picked.some((n) => !all.includes(n))) throw new Error(`--only takes measurement numbers 1-11, got ${text}`)
  return new Set(picked)
}

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      pages: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      threads: { type: 'string' },
      stampede: { type: 'string' },
      'first-requests': { type: 'string' },
      'rss-pages': { type: 'string' },
      'cache-size': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      only: { type: 'string' },
      scale: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      'no-prepare': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const smoke = values.smoke
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  const int = (name, fallback, min = 1) => {
    if (values[name] === undefined) return fallback
    const n = Number(values[name])
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${values[name]}`)
    return n
  }
  const scale = values.scale === undefined ? null : values.scale.split(',').map((x) => Number(x.trim()))
  if (scale && scale.some((n) => !Number.isInteger(n) || n < 100))
    throw new Error(`--scale takes page counts ≥ 100, got ${values.scale}`)
  const opts = {
    smoke,
    scale,
    only: parseOnly(values.only),
    prepare: !values['no-prepare'] && process.env.GATSBY_DSG_BENCH_NO_PREPARE !== '1',
    pages: int('pages', smoke ? 100 : 2000, 4),
    duration: int('duration', smoke ? 1 : 10),
    connections: int('connections', 50),
    rounds: int('rounds', 1),
    warmup: int('warmup', smoke ? 1 : 2, 0),
    threads: int('threads', cores),
    stampede: int('stampede', 200),
    firstRequests: int('first-requests', smoke ? 20 : scale ? 100 : 300),
    rssPages: int('rss-pages', smoke ? 100 : 10000),
    cacheSize: parseSize(values['cache-size'] || '64MB'),
    // gatsby-dsg's server runs on napi's tokio runtime: one worker thread per core.
    workers: cores,
    // A smoke or partial run never overwrites the full table in BENCHMARKS.md unless asked to.
    out: path.resolve(
      values.out ||
        (smoke
          ? path.join(ROOT, 'bench', '.work', 'BENCHMARKS.smoke.md')
          : values.only !== undefined
            ? path.join(ROOT, 'bench', '.work', 'BENCHMARKS.partial.md')
            : path.join(ROOT, 'BENCHMARKS.md')),
    ),
    json: path.resolve(values.json || path.join(ROOT, 'bench', '.work', smoke ? 'results.smoke.json' : 'results.json')),
  }
  return opts
}

function log(message) {
  process.stderr.write(`[bench] ${message}\n`)
}

function commandLine() {
  const args = process.argv.slice(2)
  const script = process.env.npm_lifecycle_event
  if (script === 'bench' || script === 'bench:smoke')
    return `npm run ${script}${args.length ? ` -- ${args.join(' ')}` : ''}`
  return `node bench/run.js${args.length ? ` ${args.join(' ')}` : ''}`
}

function document({
  chart,
  renderThreads,
  opts,
  machine,
  versions,
  table,
  legend,
  issues,
  startedAt,
  seconds,
  site,
  nginxConf,
  loadEnd,
}) {
  return `${REPORT_MARKERS[0]}
# Benchmarks

Generated by \`${commandLine()}\` on ${startedAt
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')};
the whole run took ${Math.round(seconds)} s. Regenerate with \`npm run bench\` (\`-- --pages 10000\` for a bigger site).

**Machine**: ${machine.cpu}, ${machine.nproc} cores (nproc), ${machine.memory} RAM, ${machine.kernel}; cache directories on ${machine.fileSystem};
load average ${machine.loadavg} at the start, ${loadEnd} at the end (absolute numbers move between runs
on a shared machine; the ratios are measured side by side).
**Versions**: gatsby-dsg ${versions.gatsbyDsg} (addon built ${versions.addonBuiltAt}), Node ${versions.node}, gatsby ${versions.gatsby}, ${versions.nginx}, ${versions.wrk}.
**Site**: a copy of \`example/\` built with \`EXAMPLE_PAGES=${opts.pages}\`: ${site.totalPages.deferred} deferred pages and ${site.totalPages.ssg} static (SSG)
pages (${site.deferredPosts.length} of the ${opts.pages} blog posts are deferred: the example defers the even-numbered ones, the copy's
plugin options \`defer\` the odd-numbered ones too, except \`${site.staticPosts[0]}\`, the static page of rows 1 and 7b).
**Load**: ${opts.connections} connections, ${opts.duration} s per measurement after ${opts.warmup} s of warm-up, ${opts.rounds} round${opts.rounds > 1 ? 's' : ''};
nginx \`worker_processes ${opts.workers}\`, gatsby-dsg ${opts.workers} server threads (tokio, one per core) and ${renderThreads ?? '?'} JavaScript render thread${renderThreads === 1 ? '' : 's'}.

${table}

![each row's ratios as a chart](${chart})

How each row is measured:

${legend}

${problemsText(issues)}

<details><summary>nginx configuration used</summary>

\`\`\`nginx
${(nginxConf || '').trim()}
\`\`\`
</details>
${REPORT_MARKERS[1]}
`
}

/** Run directories left by runs that were killed (their process is gone). */
function removeStaleRunDirs(work) {
  let names = []
  try {
    names = fs.readdirSync(work)
  } catch {}
  for (const name of names) {
    const m = name.match(/^run-(\d+)$/)
    if (!m) continue
    let alive = true
    try {
      process.kill(Number(m[1]), 0)
    } catch (error) {
      alive = error.code === 'EPERM'
    }
    if (!alive) fs.rmSync(path.join(work, name), { recursive: true, force: true })
  }
}

/**
 * This run's own directory under `work` (cache directories, nginx, scripts), so two runs at once
 * do not collide; removed when the process exits. It holds a copy of gatsby-dsg's addon as it is
 * now, loaded for the whole run: a rebuild of the repository's addon while the bench runs then
 * neither mixes two engines nor rewrites a library a server has mapped.
 */
function openRunDir(work) {
  removeStaleRunDirs(work)
  const runDir = path.join(work, `run-${process.pid}`)
  fs.rmSync(runDir, { recursive: true, force: true })
  fs.mkdirSync(runDir, { recursive: true })
  process.on('exit', () => fs.rmSync(runDir, { recursive: true, force: true }))
  const addon = path.join(runDir, 'gatsby-dsg.linux-x64-gnu.node')
  fs.copyFileSync(path.join(ROOT, 'gatsby-dsg.linux-x64-gnu.node'), addon)
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = addon
  return runDir
}

/** `--scale`: bench/lib/scale.js at every size, into the scale section of BENCHMARKS.md. */
async function scaleMain(opts, bins, tools, work, t0) {
  const runDir = openRunDir(work)
  const out = opts.out === path.join(ROOT, 'BENCHMARKS.md') || !opts.out ? path.join(ROOT, 'BENCHMARKS.md') : opts.out
  const ctx = { opts, tools: bins, runDir, issues: [], log }
  const results = await require('./lib/scale').scaleRun(ctx, opts.scale, {
    out,
    chartDir: path.join(ROOT, 'bench', 'charts'),
    command: commandLine(),
    machine: tools.machine(runDir),
  })
  fs.mkdirSync(path.dirname(opts.json), { recursive: true })
  fs.writeFileSync(opts.json.replace(/\.json$/, '.scale.json'), JSON.stringify({ opts, results }, null, 2))
  log(
    `wrote the scale section of ${path.relative(process.cwd(), out)} and bench/charts/ — ${Math.round((Date.now() - t0) / 1000)} s in all`,
  )
}

async function main() {
  const startedAt = new Date()
  const t0 = Date.now()
  const opts = options(process.argv.slice(2))
  const procs = require('./lib/procs')
  procs.installExitHandlers()

  // 1. Everything the repository needs: packages, the addon, the example site.
  if (opts.prepare) require('../scripts/prepare').prepare()
  else log('--no-prepare: using the addon and example/ as they are')
  // 2. The peers and the load generator.
  const tools = require('./lib/tools')
  const bins = tools.ensureTools({ log })
  // 3. The bench site (rebuilt only when the page count or the example's sources change).
  const { ensureSite, pageDataUrl, WORK } = require('./lib/site')
  if (opts.scale) return scaleMain(opts, bins, tools, WORK, t0)
  const site = ensureSite(opts.pages, { log })
  if (site.deferredPosts.length < 4 || site.staticPosts.length < 1)
    throw new Error(`--pages ${opts.pages} is too small`)

  const runDir = openRunDir(WORK)

  const pages = {
    static: site.staticPosts[0],
    staticData: pageDataUrl(site.staticPosts[0]),
    generated: site.deferredPosts[0],
    generatedData: pageDataUrl(site.deferredPosts[0]),
    pool: site.deferredPosts.slice(1), // never requested from a fresh gatsby-dsg
  }
  const machine = tools.machine(runDir)
  const versions = tools.versions(bins, ROOT)
  log(
    `${machine.cpu}, ${machine.nproc} cores; site: ${site.totalPages.ssg} SSG + ${site.totalPages.deferred} deferred pages`,
  )

  const scenarios = require('./lib/scenarios')
  const { startGatsbyServe } = require('./lib/servers')
  const ctx = { opts, site, tools: bins, runDir, pages, issues: [], log }
  const results = {}
  ctx.gatsby = await startGatsbyServe(site)
  try {
    const only = opts.only
    if (only.has(1) || only.has(2) || only.has(7) || only.has(9)) results.steady = await scenarios.steadyState(ctx)
    if (only.has(3) || only.has(5)) results.first = await scenarios.firstRequest(ctx)
    if (only.has(4)) results.stampede = await scenarios.stampede(ctx)
    if (only.has(5)) results.cold = await scenarios.coldPages(ctx, results.first.engine)
    if (only.has(6)) results.memory = await scenarios.memory(ctx)
    // 8: cold renders/s with 1 render worker vs one per core vs gatsby serve (bench/lib/render-scaling.js).
    if (only.has(8)) results.scaling = await require('./lib/render-scaling').renderScaling(ctx)
    // 11: HITs with the Redis tier: none, plain TCP, TLS (bench/lib/redis-tier.js).
    if (only.has(11)) results.redis = await require('./lib/redis-tier').redisTier(ctx)
    // 10: SSR pages per request and shared-cached, and deferred pages writing images.
    if (only.has(10)) results.ssr = await scenarios.ssr(ctx)
    if (!only.has(3)) delete results.first
  } finally {
    const out = ctx.gatsby.output()
    if (/error|exception/i.test(out)) log(`gatsby serve output (tail): ${out.slice(-1000)}`)
    await ctx.gatsby.close()
  }
  const nginxConf = results.steady ? results.steady.nginxConf : ''
  if (results.steady) delete results.steady.nginxConf

  const report = require('./lib/report')
  const table = report.markdownTable(results, opts, pages)
  const seconds = (Date.now() - t0) / 1000
  const loadEnd = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')
  process.stdout.write(`\n${table}\n\n`)
  if (ctx.issues.length) process.stdout.write(`Problems seen:\n${ctx.issues.map((i) => `- ${i}`).join('\n')}\n\n`)
  fs.mkdirSync(path.dirname(opts.out), { recursive: true })
  // The ratios as a chart, beside the report: bench/charts/ for BENCHMARKS.md, else charts/ next to --out.
  const chartDir =
    opts.out === path.join(ROOT, 'BENCHMARKS.md')
      ? path.join(ROOT, 'bench', 'charts')
      : path.join(path.dirname(opts.out), 'charts')
  writeCharts(chartDir, { 'ratios.svg': report.ratiosChart(results) })
  const chart = chartLink(opts.out, chartDir, 'ratios.svg')
  // The rest of the file (the scale section, analyses written by hand) is kept as it is.
  writeSection(
    opts.out,
    REPORT_MARKERS,
    document({
      chart,
      renderThreads: ctx.renderThreads,
      opts,
      machine,
      versions,
      table,
      legend: report.legend(opts, pages, results),
      issues: ctx.issues,
      startedAt,
      seconds,
      site,
      nginxConf,
      loadEnd,
    }),
    { at: 'start' },
  )
  fs.mkdirSync(path.dirname(opts.json), { recursive: true })
  const slim = JSON.parse(JSON.stringify(results, (k, v) => (k === 'text' || k === 'runs' ? undefined : v)))
  fs.writeFileSync(
    opts.json,
    JSON.stringify(
      {
        opts,
        machine,
        versions,
        pages: { ...pages, pool: pages.pool.length },
        issues: ctx.issues,
        seconds,
        results: slim,
      },
      null,
      2,
    ),
  )
  log(
    `wrote ${path.relative(process.cwd(), opts.out)} and ${path.relative(process.cwd(), opts.json)} — ${Math.round(seconds)} s in all`,
  )
  fs.rmSync(runDir, { recursive: true, force: true })
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`[bench] ${error && error.stack ? error.stack : error}`)
    process.exit(1)
  },
)
