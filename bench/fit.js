#!/usr/bin/env node
'use strict'
// Does `gatsby-dsg serve` with its default settings fit a machine of a given memory on a given
// site, and does the README's memory budget hold? Runs the command line (as deployed: default
// render workers and recycling) inside a hard memory limit (bench/lib/memory-limit.js: a cgroup the
// server sees and the kernel enforces), renders N distinct deferred pages, and reports peak RSS,
// the cgroup's peak, OOM kills, recycles and every status, and the README's formula
// C + B + (W + 1) × E + W × G evaluated with the W, E, G and C the server chose and printed on its
// start-up line (bench/lib/memory-budget.js) against the peak RSS. One run per size (`--pages` a
// list, `--site` given more than once, one after the other), then a summary table.
// Exit code 0 when every run fit — the server alive, no OOM kill, peak RSS ≤ the limit, every
// request answered (a page whose template throws answers 500: the site's, not memory; listed) —
// and the formula held (a run whose formula cannot be evaluated, e.g. `--recycle-memory 0`, says
// why and does not fail).
//
//   node bench/fit.js --pages 10000,100000 [--limit 4GiB] [--renders 5000] [--concurrency 8] [--json FILE]
//   node bench/fit.js --site /path/to/built/site [--site another] [...] [-- <more serve options>]
//
// --pages N,M uses (and builds once, ~3 min at 10k) the bench's copy of the example with N posts
// (bench/lib/site.js); --site any built Gatsby site using the plugin. --renders: distinct pages
// per run (default: every deferred page; never more than there are). The server's cache dir is a
// temporary directory; the run lists any file of the site written meanwhile (Gatsby's jobs may
// write into public/), so a read-only use of a site can be checked.

const crypto = require('crypto')
const fs = require('fs')
const http = require('http')
const os = require('os')
const path = require('path')
const { parseArgs } = require('util')
const parseBytes = require('bytes')
const { ensureSite, ROOT } = require('./lib/site')
const { start, stop, installExitHandlers } = require('./lib/procs')
const { memoryLimit } = require('./lib/memory-limit')
const { memoryOf } = require('./lib/servers')
const { sleep } = require('../scripts/support/wait')
const { evaluateBudget, describeBudget } = require('./lib/memory-budget')
const { table } = require('./lib/format')

const MiB = 2 ** 20
const mib = (bytes) => (bytes === null || bytes === undefined ? 'n/a' : `${Math.round(bytes / MiB)} MiB`)

/** A bad command line: said in one line, without a stack. */
function usage(message) {
  return Object.assign(new Error(message), { usage: true })
}

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      pages: { type: 'string' },
      site: { type: 'string', multiple: true },
      limit: { type: 'string', default: '4GiB' },
      renders: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      json: { type: 'string' },
    },
  })
  const pages = values.pages ? values.pages.split(',').map((n) => Number(n.trim())) : []
  for (const [i, n] of pages.entries())
    if (!Number.isInteger(n) || n < 1) throw usage(`--pages: not a page count: ${values.pages.split(',')[i]}`)
  const sites = (values.site || []).map((s) => path.resolve(s))
  if (pages.length + sites.length === 0) throw usage('give --pages N[,M…] or --site DIR (or both)')
  const limit = parseBytes.parse(values.limit.replace(/iB$/i, 'B'))
  if (!limit) throw usage(`--limit: not a size: ${values.limit}`)
  return {
    pages,
    sites,
    limit,
    renders: values.renders ? Number(values.renders) : Infinity,
    concurrency: Number(values.concurrency),
    json: values.json,
    serveArgs: positionals,
  }
}

/** The site's deferred pages a plain GET renders (no matchPath patterns). */
function deferredPaths(root) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'))
  return manifest.pages.map((p) => p.path).filter((p) => !/[:*]/.test(p))
}

/** GETs every path, `concurrency` at a time on keep-alive connections; counts statuses. */
async function renderAll(port, paths, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const statuses = {}
  const failures = []
  let next = 0
  const get = (p) =>
    new Promise((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: encodeURI(p), agent, headers: { 'accept-encoding': 'gzip' } }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode))
        })
        .on('error', (error) => resolve(error.code || 'error'))
    })
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < paths.length) {
        const p = paths[next++]
        const s = await get(p)
        statuses[s] = (statuses[s] || 0) + 1
        if (s !== 200 && failures.length < 10) failures.push(`${p}: ${s}`)
      }
    }),
  )
  agent.destroy()
  return { statuses, failures }
}

/**
 * Every file of the site (not following symlinks: node_modules is the example's), as
 * path → "mtime size", to see what a run wrote.
 */
function siteFiles(root) {
  const files = new Map()
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (entry.isFile()) {
        const st = fs.statSync(file)
        files.set(path.relative(root, file), `${st.mtimeMs} ${st.size}`)
      }
    }
  }
  walk(root)
  return files
}

/** What changed between two siteFiles: added, changed and removed paths. */
function changedFiles(before, after) {
  const changed = []
  for (const [file, stamp] of after) if (before.get(file) !== stamp) changed.push(file)
  for (const file of before.keys()) if (!after.has(file)) changed.push(`${file} (removed)`)
  return changed.sort()
}

/** The memory cache's bytes now, from the Prometheus metrics (`/__dsg/metrics`, admin token). */
function memoryCacheBytes(port, token) {
  return new Promise((resolve) => {
    http
      .get(
        { host: '127.0.0.1', port, path: '/__dsg/metrics', headers: { authorization: `Bearer ${token}` } },
        (res) => {
          let body = ''
          res.on('data', (d) => (body += d))
          res.on('end', () => {
            const m = body.match(/^gatsby_dsg_cache_bytes\{tier="memory"\} (\d+)$/m)
            resolve(res.statusCode === 200 && m ? Number(m[1]) : null)
          })
        },
      )
      .on('error', () => resolve(null))
  })
}

/** The admin token the server runs with: the one given among the serve options, else a fresh one. */
function adminTokenOf(serveArgs) {
  const i = serveArgs.indexOf('--admin-token')
  if (i >= 0) return { token: serveArgs[i + 1], env: {} }
  const given = serveArgs.find((a) => a.startsWith('--admin-token='))
  if (given) return { token: given.slice('--admin-token='.length), env: {} }
  const token = crypto.randomBytes(16).toString('hex')
  return { token, env: { GATSBY_DSG_ADMIN_TOKEN: token } }
}

/** One run on the built site at `root`: the report. */
async function runSite(root, opts) {
  const all = deferredPaths(root)
  const paths = all.slice(0, Math.min(all.length, opts.renders))
  const filesBefore = siteFiles(root)
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatsby-dsg-fit-'))
  const limit = memoryLimit(opts.limit)
  const cli = path.join(ROOT, 'bin', 'gatsby-dsg.js')
  const serveArgs = ['serve', '--root', root, '-p', '0', '-H', '127.0.0.1', '--cache-dir', cacheDir, ...opts.serveArgs]
  const [command, args] = limit.wrap(process.execPath, [cli, ...serveArgs])
  // An admin token only for the metrics (the memory cache's bytes): it costs no memory.
  const admin = adminTokenOf(opts.serveArgs)
  const report = {
    site: path.relative(process.cwd(), root) || root,
    deferredPages: all.length,
    limitBytes: opts.limit,
    limit: limit.kind || 'none could be made: the server sees the whole machine (peak RSS is still measured)',
    serveArgs: opts.serveArgs,
  }
  const startedAt = Date.now()
  const server = start(command, args, { env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1', ...admin.env } })
  let stdout = ''
  let stderr = ''
  server.stdout.on('data', (d) => (stdout += d))
  server.stderr.on('data', (d) => (stderr += d))
  let exited = null
  server.exited.then((e) => (exited = e))
  // The watcher: the server's RSS and the cgroup's usage, every 250 ms (VmHWM is the exact peak).
  let peakRss = 0
  let peakUsage = 0
  const watcher = setInterval(() => {
    try {
      const { hwm } = memoryOf(server.pid)
      // (A process being killed has a status without its memory lines.)
      if (Number.isFinite(hwm)) peakRss = Math.max(peakRss, hwm)
    } catch {}
    peakUsage = Math.max(peakUsage, limit.usage() || 0)
  }, 250)
  try {
    while (!stdout.includes('\n') && exited === null) await sleep(50)
    if (exited !== null)
      throw new Error(`the server exited at start (${JSON.stringify(exited)}): ${stderr.slice(-2000)}`)
    report.startupLine = stdout.split('\n')[0]
    report.startupSeconds = (Date.now() - startedAt) / 1000
    const port = Number(report.startupLine.match(/http:\/\/127\.0\.0\.1:(\d+)\//)[1])
    report.rssAfterStartBytes = memoryOf(server.pid).rss
    const renderStart = Date.now()
    const { statuses, failures } = await renderAll(port, paths, opts.concurrency)
    report.renders = paths.length
    report.renderSeconds = (Date.now() - renderStart) / 1000
    report.statuses = statuses
    report.failures = failures
    await sleep(1000)
    report.alive = exited === null
    if (report.alive) {
      report.memoryCacheBytesAtEnd = await memoryCacheBytes(port, admin.token)
      const s = memoryOf(server.pid)
      report.rssAtEndBytes = s.rss
      peakRss = Math.max(peakRss, s.hwm)
    }
  } finally {
    clearInterval(watcher)
    await stop(server, { graceMs: 10_000 })
    report.exit = exited
    report.peakRssBytes = peakRss
    report.cgroupPeakBytes = limit.peak() ?? (peakUsage || null)
    report.oomKills = limit.oomKills()
    limit.remove()
    fs.rmSync(cacheDir, { recursive: true, force: true })
  }
  report.siteFilesWritten = changedFiles(filesBefore, siteFiles(root))
  const recycles = stderr.match(/^gatsby-dsg: render worker \d+ recycled .*$/gm) || []
  const grown = recycles.map((l) => Number((l.match(/, grown (\d+) MiB/) || [])[1])).filter(Number.isFinite)
  report.recycles = {
    total: recycles.length,
    memory: recycles.filter((l) => l.includes('(memory)')).length,
    renders: recycles.filter((l) => l.includes('(renders)')).length,
    // The most a recycled worker had grown (RSS terms) when it ended: what G bounds.
    maxGrownBytes: grown.length ? Math.max(...grown) * MiB : null,
    lines: recycles,
  }
  // What else the server said: its first lines (stack frames left out).
  report.otherStderr = stderr
    .split('\n')
    .filter((l) => l.trim() && !recycles.includes(l) && !/^\s+at /.test(l))
    .slice(0, 10)
    .map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l))
  report.budget = evaluateBudget({
    startupLine: report.startupLine,
    serveArgs: opts.serveArgs,
    peakRssBytes: report.peakRssBytes,
  })
  // Each term beside what the run measured of it, to say which is off when the bound does not hold:
  // B against the RSS at start less the workers ready then; G against the most a worker had grown
  // when recycled; C against what the memory cache held at the end.
  const { terms, readyAtStart } = report.budget
  report.budget.measured = {
    baseAtStartBytes:
      terms.E !== null && readyAtStart !== null ? report.rssAfterStartBytes - readyAtStart * terms.E : null,
    maxGrownAtRecycleBytes: report.recycles.maxGrownBytes,
    memoryCacheBytesAtEnd: report.memoryCacheBytesAtEnd ?? null,
  }
  report.fit =
    report.alive === true &&
    !report.oomKills &&
    report.peakRssBytes <= opts.limit &&
    Object.keys(report.statuses).every((s) => /^\d+$/.test(s))
  return report
}

async function main() {
  const opts = options()
  installExitHandlers()
  const roots = [...opts.pages.map((n) => ensureSite(n).dir), ...opts.sites]
  const runs = []
  for (const root of roots) {
    const report = await runSite(root, opts)
    print(report, opts)
    process.stdout.write('\n')
    runs.push(report)
  }
  process.stdout.write(`${summary(runs)}\n`)
  const ok = runs.every((r) => r.fit && r.budget.holds !== false)
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify({ runs, ok }, null, 2)}\n`)
  process.exitCode = ok ? 0 : 1
}

function print(r, opts) {
  const out = (line) => process.stdout.write(`${line}\n`)
  out(`site ${r.site}: ${r.deferredPages} deferred pages; limit ${mib(r.limitBytes)} (${r.limit})`)
  out(`serve ${r.serveArgs.length ? r.serveArgs.join(' ') : '(default settings)'}, started in ${r.startupSeconds} s:`)
  out(`  ${r.startupLine}`)
  const statuses = Object.entries(r.statuses || {}).map(([s, n]) => `${n} × ${s}`)
  out(
    `rendered ${r.renders} distinct deferred pages, ${opts.concurrency} at a time, in ${r.renderSeconds} s: ${statuses.join(', ')}`,
  )
  for (const f of r.failures || []) out(`  not 200: ${f}`)
  out(
    `RSS after start ${mib(r.rssAfterStartBytes)}, at the end ${mib(r.rssAtEndBytes)}, peak ${mib(r.peakRssBytes)} ` +
      `(VmHWM); cgroup peak ${mib(r.cgroupPeakBytes)} (page cache included); OOM kills ${r.oomKills ?? 'n/a'}`,
  )
  out(`recycles: ${r.recycles.total} (memory ${r.recycles.memory}, renders ${r.recycles.renders})`)
  for (const l of r.recycles.lines.slice(0, 10)) out(`  ${l}`)
  if (r.recycles.lines.length > 10) out(`  … and ${r.recycles.lines.length - 10} more`)
  for (const l of r.otherStderr) out(`  stderr: ${l}`)
  out(describeBudget(r.budget))
  const { terms, measured, cacheFrom } = r.budget
  out(
    `  measured: B at start ${mib(measured.baseAtStartBytes)} (RSS after start − ${r.budget.readyAtStart ?? '?'} × E; B ${mib(terms.B)}), ` +
      `most grown at a recycle ${mib(measured.maxGrownAtRecycleBytes)} (G ${mib(terms.G)}), ` +
      `memory cache at the end ${mib(measured.memoryCacheBytesAtEnd)} (C ${mib(terms.C)}, from ${cacheFrom})`,
  )
  out(
    `  site files written during the run: ${r.siteFilesWritten.length ? r.siteFilesWritten.slice(0, 10).join(', ') : 'none'}`,
  )
  out(
    `${r.fit ? 'FITS' : 'DOES NOT FIT'} ${mib(r.limitBytes)}: server ${r.alive ? 'alive' : `gone (${JSON.stringify(r.exit)})`}`,
  )
}

/** One row per run: size, the terms, the bound, what was measured, and whether it held. */
function summary(runs) {
  const m = (bytes) => (bytes === null || bytes === undefined ? '—' : String(Math.round(bytes / MiB)))
  return table(
    [
      'deferred pages',
      'site',
      'E MiB',
      'W',
      'G MiB',
      'C MiB',
      'bound MiB',
      'peak RSS MiB',
      'cgroup peak MiB',
      'recycles',
      'OOM kills',
      'formula holds',
      'fits',
    ],
    runs.map((r) => [
      r.deferredPages.toLocaleString('en-US'),
      path.basename(r.site),
      m(r.budget.terms.E),
      r.budget.terms.W ?? '—',
      m(r.budget.terms.G),
      m(r.budget.terms.C),
      m(r.budget.boundBytes),
      m(r.peakRssBytes),
      m(r.cgroupPeakBytes),
      r.recycles.total,
      r.oomKills ?? 'n/a',
      r.budget.holds === null ? `not evaluated: ${r.budget.notEvaluated}` : r.budget.holds ? 'yes' : 'no',
      r.fit ? 'yes' : 'no',
    ]),
  )
}

main().catch((error) => {
  const usageError = error.usage || String(error.code).startsWith('ERR_PARSE_ARGS')
  console.error(usageError ? `bench/fit.js: ${error.message}` : error.stack || error.message)
  process.exit(2)
})
