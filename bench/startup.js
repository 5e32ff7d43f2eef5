'use strict'
// `node bench/startup.js --pages 1000000 --stored 1000000`: start-up and memory of the server at a
// scale no build on this machine reaches. A synthetic site: a small public/ and a deferred-page
// manifest of N pages written by the plugin's own onPostBuild (gatsby-plugin/gatsby-node.js) from
// N SitePage nodes, and a disk tier holding S stored artifacts (HTML and page-data of S/2 pages)
// in the layout crates/engine/src/cache/disk.rs writes (`<build dir>/blog/post-1/index.html`,
// `<build dir>/page-data/blog/post-1/page-data.json`), the build directory named by the server
// itself. Gatsby's engines and render workers are not part of it (bench/lib/startup-child.js):
// their load is measured on real builds by `npm run bench -- --scale`.
//
// Reports, per N (and N = 0, the baseline): time from spawning the process to the first static
// 200 (`/`), to startServer resolving (the start-up line, before workers), where the time went,
// the RSS after start (after a GC) and (RSS(N) − RSS(0)) / N, the deferred-page table's own bytes
// and that a stored page is a HIT at once and an unknown path a 404.

const fs = require('fs')
const path = require('path')
const { parseArgs } = require('util')
const http = require('./lib/http')
const procs = require('./lib/procs')
const { sleep } = require('../scripts/support/wait')
const { freePort } = require('../scripts/support/ports')

const ROOT = path.resolve(__dirname, '..')
const WORK = path.join(ROOT, 'bench', '.work')
const plugin = require('../gatsby-plugin/gatsby-node')

const pagePath = (i) => `/blog/post-${i}/`

/** A site of `n` deferred pages (made once per n, kept in bench/.work). */
function ensureSite(n, log) {
  const dir = path.join(WORK, `startup-${n}`)
  const done = path.join(dir, '.complete')
  if (fs.existsSync(done)) return dir
  fs.rmSync(dir, { recursive: true, force: true })
  const write = (rel, body) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
    fs.writeFileSync(path.join(dir, rel), body)
  }
  write('public/index.html', '<!doctype html><title>home</title><h1>home</h1>')
  write('public/404.html', '<!doctype html><title>404</title>')
  write('public/page-data/app-data.json', JSON.stringify({ webpackCompilationHash: 'startup-bench' }))
  // Present because a site with deferred pages has them; never loaded by the bench.
  write('.cache/query-engine/index.js', '')
  write('.cache/page-ssr/index.js', '')
  const started = Date.now()
  const nodes = Array.from({ length: n }, (_, i) => ({
    path: pagePath(i),
    mode: 'DSG',
    componentChunkName: 'component---src-templates-post-js',
  }))
  const state = { program: { directory: dir }, config: {}, redirects: [], functions: [] }
  const reporter = { info: () => {}, warn: () => {} }
  plugin.onPostBuild({ getNodesByType: () => nodes, reporter, store: { getState: () => state } })
  log(`site of ${n} deferred pages written in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  fs.writeFileSync(done, '')
  return dir
}

async function startChild(site, cacheDir) {
  const port = await freePort()
  const spawnedAt = Date.now()
  const child = procs.start(
    process.execPath,
    ['--expose-gc', path.join(__dirname, 'lib', 'startup-child.js'), site, String(port), cacheDir || ''],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const base = `http://127.0.0.1:${port}`
  let firstStaticMs
  for (;;) {
    if (child.exitCode !== null) throw new Error('the server exited while starting')
    try {
      const res = await http.request(base, '/', { timeoutMs: 5000 })
      if (res.status === 200) {
        firstStaticMs = Date.now() - spawnedAt
        break
      }
    } catch {}
    if (Date.now() - spawnedAt > 120_000) throw new Error('no answer within 120 s')
    await sleep(2)
  }
  const report = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))))
    })
    child.exited.then(() => reject(new Error('the server exited')))
  })
  return { child, base, report: { ...report, firstStaticMs } }
}

/** `stored` artifacts in the disk tier's layout under the server's own build directory. */
function ensureStored(buildDir, stored, log) {
  const done = path.join(buildDir, `.bench-stored-${stored}`)
  if (fs.existsSync(done)) return
  const started = Date.now()
  const html = '<!doctype html><title>stored</title>' + 'x'.repeat(2000)
  for (let i = 0; i < stored / 2; i++) {
    const rel = pagePath(i).slice(1)
    fs.mkdirSync(path.join(buildDir, rel), { recursive: true })
    fs.writeFileSync(path.join(buildDir, rel, 'index.html'), html)
    fs.mkdirSync(path.join(buildDir, 'page-data', rel), { recursive: true })
    fs.writeFileSync(path.join(buildDir, 'page-data', rel, 'page-data.json'), `{"path":"${pagePath(i)}","result":{}}`)
    if (i % 100000 === 0 && i > 0) log(`  ${i * 2} artifacts stored`)
  }
  fs.writeFileSync(done, '')
  log(`${stored} artifacts stored in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

async function measure(n, stored, repeat, log) {
  const site = ensureSite(n, log)
  const cacheRoot = path.join(WORK, `startup-${n}-cache`)
  if (stored > 0) {
    // The server names its build directory; the artifacts are put there.
    const { child, report } = await startChild(site, cacheRoot)
    await procs.stop(child)
    ensureStored(report.cacheDir, stored, log)
  }
  const runs = []
  for (let r = 0; r < repeat; r++) {
    const { child, base, report } = await startChild(site, stored > 0 ? cacheRoot : null)
    if (stored > 0) {
      const hit = await http.request(base, pagePath(0))
      report.storedPage = `${hit.status} ${hit.headers['x-cache'] || hit.headers['x-dsg-cache'] || ''}`.trim()
    }
    const unknown = await http.request(base, '/blog/not-a-page/')
    report.unknownPath = unknown.status
    await procs.stop(child)
    runs.push(report)
  }
  const median = (key) => {
    const values = runs.map((r) => r[key]).sort((a, b) => a - b)
    return values[Math.floor(values.length / 2)]
  }
  return {
    n,
    stored,
    runs,
    ...Object.fromEntries(
      ['firstStaticMs', 'startedMs', 'readSiteMs', 'startServerMs', 'addonLoadedMs', 'rss', 'heapUsed'].map((k) => [
        k,
        median(k),
      ]),
    ),
    last: runs[runs.length - 1],
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      pages: { type: 'string', default: '100000,1000000' },
      stored: { type: 'string', default: '1000000' },
      repeat: { type: 'string', default: '3' },
      json: { type: 'string' },
    },
  })
  procs.installExitHandlers()
  const log = (line) => process.stderr.write(`${line}\n`)
  const sizes = values.pages.split(',').map(Number)
  const stored = Number(values.stored)
  const repeat = Number(values.repeat)
  const base = await measure(0, 0, repeat, log)
  const results = []
  for (const n of sizes) results.push(await measure(n, Math.min(stored, n * 2), repeat, log))
  const MiB = 2 ** 20
  const rows = [base, ...results].map((r) => ({
    pages: r.n,
    stored: r.stored,
    manifestMiB: r.last.manifestBytes ? +(r.last.manifestBytes / MiB).toFixed(1) : 0,
    firstStaticMs: Math.round(r.firstStaticMs),
    startedMs: Math.round(r.startedMs),
    readSiteMs: Math.round(r.readSiteMs),
    startServerMs: Math.round(r.startServerMs),
    rssMiB: +(r.rss / MiB).toFixed(1),
    bytesPerPage: r.n ? Math.round((r.rss - base.rss) / r.n) : null,
    tableBytesPerPage: r.n && r.last.pageTableBytes ? +(r.last.pageTableBytes / r.n).toFixed(1) : null,
    storedPage: r.last.storedPage,
    unknownPath: r.last.unknownPath,
  }))
  console.table(rows)
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ rows, results: [base, ...results] }, null, 2))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
