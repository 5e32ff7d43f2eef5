#!/usr/bin/env node
'use strict'
// Does `gatsby-dsg serve` with its default settings fit a machine of a given memory on a given
// site? Runs the command line (as deployed: default render workers and recycling) inside a hard
// memory limit (bench/lib/memory-limit.js: a cgroup the server sees and the kernel enforces), renders
// N distinct deferred pages, and reports peak RSS, the cgroup's peak, OOM kills, recycles and every
// status. Exit code 0 when it fit: the server alive, no OOM kill, peak RSS ≤ the limit, every
// request answered (a page whose template throws answers 500: the site's, not memory; listed).
//
//   node bench/fit.js --pages 10000 [--limit 4GiB] [--renders 20000] [--concurrency 8] [--json FILE]
//   node bench/fit.js --site /path/to/built/site [...] [-- <more serve options>]
//
// --pages N uses (and builds once, ~3 min at 10k) the bench's copy of the example with N posts
// (bench/lib/site.js); --site any built Gatsby site using the plugin. --renders: distinct pages
// (default: every deferred page; never more than there are).

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

const MiB = 2 ** 20
const mib = (bytes) => (bytes === null || bytes === undefined ? 'n/a' : `${Math.round(bytes / MiB)} MiB`)

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      pages: { type: 'string' },
      site: { type: 'string' },
      limit: { type: 'string', default: '4GiB' },
      renders: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      json: { type: 'string' },
    },
  })
  if (!values.pages === !values.site) throw new Error('give one of --pages N or --site DIR')
  const limit = parseBytes.parse(values.limit.replace(/iB$/i, 'B'))
  if (!limit) throw new Error(`--limit: not a size: ${values.limit}`)
  return {
    pages: values.pages ? Number(values.pages) : null,
    site: values.site ? path.resolve(values.site) : null,
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

async function main() {
  const opts = options()
  installExitHandlers()
  const root = opts.site || ensureSite(opts.pages).dir
  const all = deferredPaths(root)
  const paths = all.slice(0, Math.min(all.length, opts.renders))
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatsby-dsg-fit-'))
  const limit = memoryLimit(opts.limit)
  const cli = path.join(ROOT, 'bin', 'gatsby-dsg.js')
  const serveArgs = ['serve', '--root', root, '-p', '0', '-H', '127.0.0.1', '--cache-dir', cacheDir, ...opts.serveArgs]
  const [command, args] = limit.wrap(process.execPath, [cli, ...serveArgs])
  const report = {
    site: path.relative(process.cwd(), root) || root,
    deferredPages: all.length,
    limitBytes: opts.limit,
    limit: limit.kind || 'none could be made: the server sees the whole machine (peak RSS is still measured)',
    serveArgs: opts.serveArgs,
  }
  const startedAt = Date.now()
  const server = start(command, args, { env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1' } })
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
  const recycles = stderr.match(/^gatsby-dsg: render worker \d+ recycled .*$/gm) || []
  report.recycles = {
    total: recycles.length,
    memory: recycles.filter((l) => l.includes('(memory)')).length,
    renders: recycles.filter((l) => l.includes('(renders)')).length,
    lines: recycles,
  }
  // What else the server said: its first lines (stack frames left out).
  report.otherStderr = stderr
    .split('\n')
    .filter((l) => l.trim() && !recycles.includes(l) && !/^\s+at /.test(l))
    .slice(0, 10)
    .map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l))
  report.fit =
    report.alive === true &&
    !report.oomKills &&
    report.peakRssBytes <= opts.limit &&
    Object.keys(report.statuses).every((s) => /^\d+$/.test(s))
  print(report, opts)
  if (opts.json) fs.writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`)
  process.exitCode = report.fit ? 0 : 1
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
  out(
    `${r.fit ? 'FITS' : 'DOES NOT FIT'} ${mib(r.limitBytes)}: server ${r.alive ? 'alive' : `gone (${JSON.stringify(r.exit)})`}`,
  )
}

main().catch((error) => {
  console.error(error.stack || error.message)
  process.exit(2)
})
