#!/usr/bin/env node
'use strict'
// `npm run soak [-- --seconds 60 --connections 256]`: gatsby-dsg (bin/gatsby-dsg.js serve) on the
// example site, on loopback, under a steady mix of requests from `--connections` keep-alive
// connections for `--seconds`: static pages and assets, generated (deferred, already rendered)
// pages, their page-data, first renders (deferred pages purged every few seconds through the
// admin endpoint, so that they are rendered again), and 404s. Every response's status is checked
// against what its request expects; the server's RSS is sampled each second.
//
// Prints the request mix, statuses, throughput, and RSS at start, middle and end. Exits 1 if any
// response was unexpected (a wrong status or a network error) or the server died; stops by itself.

const { spawn } = require('child_process')
const crypto = require('crypto')
const fs = require('fs')
const http = require('http')
const os = require('os')
const path = require('path')

const ROOT = path.resolve(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'gatsby-dsg.js')
const HOST = '127.0.0.1' // loopback only

function parseArgs(argv) {
  const options = { seconds: 60, connections: 256, root: path.join(ROOT, 'example'), purgeEvery: 5 }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=')
    const value = () => (inline !== undefined ? inline : argv[++i])
    if (flag === '--seconds') options.seconds = Number(value())
    else if (flag === '--connections') options.connections = Number(value())
    else if (flag === '--root') options.root = path.resolve(value())
    else if (flag === '--purge-every') options.purgeEvery = Number(value())
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: node scripts/soak.js [--seconds 60] [--connections 256] [--root example] [--purge-every 5]')
      process.exit(0)
    } else throw new Error(`unknown option ${argv[i]}`)
  }
  for (const key of ['seconds', 'connections', 'purgeEvery']) {
    if (!Number.isFinite(options[key]) || options[key] <= 0) throw new Error(`--${key} must be a positive number`)
  }
  return options
}

const urlOf = (page) => page.split('/').map(encodeURIComponent).join('/')
const pageDataUrlOf = (page) => `/page-data/${urlOf(page.replace(/^\/|\/$/g, '') || 'index')}/page-data.json`

/** The request mix: [category, weight, [[url, expected status], ...]]. */
function requestMix(root) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'))
  const deferred = manifest.pages.map((p) => p.path).filter((p) => !['/broken/', '/flaky/', '/app/'].includes(p))
  const publicDir = path.join(root, 'public')
  const staticPages = ['/', '/about/', '/404/']
  for (const dir of fs.readdirSync(path.join(publicDir, 'blog'))) staticPages.push(`/blog/${dir}/`)
  const assets = fs
    .readdirSync(publicDir)
    .filter((f) => /\.(js|json|css|html)$/.test(f) && fs.statSync(path.join(publicDir, f)).isFile())
    .map((f) => `/${f}`)
  // Generated: the ASCII blog posts, rendered once at warm-up. First renders: the rest (guides,
  // products, the non-ASCII post), purged every few seconds.
  const generated = deferred.filter((p) => /^\/blog\/[\x20-\x7e]+$/.test(p))
  const firstRenders = deferred.filter((p) => !generated.includes(p))
  return {
    generated,
    firstRenders,
    mix: [
      ['static page', 20, staticPages.map((u) => [urlOf(u), 200])],
      ['static asset', 10, assets.map((u) => [u, 200])],
      ['static page-data', 5, staticPages.filter((p) => p !== '/404/').map((p) => [pageDataUrlOf(p), 200])],
      ['generated page', 25, generated.map((p) => [urlOf(p), 200])],
      ['generated page-data', 15, generated.map((p) => [pageDataUrlOf(p), 200])],
      [
        'first render',
        10,
        firstRenders.flatMap((p) => [
          [urlOf(p), 200],
          [pageDataUrlOf(p), 200],
        ]),
      ],
      [
        '404',
        15,
        [
          ...Array.from({ length: 50 }, (_, i) => [`/nope-${i}/`, 404]),
          ['/blog/post-99999/', 404],
          ['/page-data/nope/page-data.json', 404],
          ['/static/missing-0123456789abcdef.js', 404],
          ['/page-data/blog/post-99998/page-data.json', 404],
        ],
      ],
    ],
  }
}

function pick(mix) {
  const total = mix.reduce((sum, [, weight]) => sum + weight, 0)
  let r = Math.random() * total
  for (const [category, weight, requests] of mix) {
    r -= weight
    if (r < 0) return [category, ...requests[Math.floor(Math.random() * requests.length)]]
  }
  const [category, , requests] = mix[mix.length - 1]
  return [category, ...requests[0]]
}

function request(agent, port, method, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port, method, path: urlPath, agent, headers }, (res) => {
      res.on('data', () => {})
      res.on('end', () => resolve({ status: res.statusCode, cache: res.headers['x-dsg-cache'] }))
      res.on('error', reject)
    })
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')))
    req.on('error', reject)
    req.end()
  })
}

function rssOf(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : NaN
  } catch {
    return NaN
  }
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

function startServer(root, cacheDir, token) {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--root',
      root,
      '-H',
      HOST,
      '-p',
      '0',
      '--cache-dir',
      cacheDir,
      '--no-access-log',
      '--admin-token',
      token,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (c) => (stderr += c))
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const match = /serving http:\/\/[^:]+:(\d+)\//.exec(stdout)
      if (match) resolve(Number(match[1]))
    })
    exited.then(({ code, signal }) =>
      reject(new Error(`server exited (${code ?? signal}) before serving:\n${stdout}\n${stderr}`)),
    )
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
  ready.finally(() => clearTimeout(timer)).catch(() => {})
  return { child, ready, exited, stderr: () => stderr }
}

async function main() {
  const options = parseArgs(process.argv.slice(2))
  const { mix, generated, firstRenders } = requestMix(options.root)
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatsby-dsg-soak-'))
  const token = crypto.randomBytes(16).toString('hex')
  const server = startServer(options.root, cacheDir, token)
  const stop = async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM')
      const killer = setTimeout(() => server.child.kill('SIGKILL'), 15_000)
      await server.exited
      clearTimeout(killer)
    }
    fs.rmSync(cacheDir, { recursive: true, force: true })
  }
  process.on('SIGINT', () => stop().then(() => process.exit(130)))

  try {
    const port = await server.ready
    const pid = server.child.pid
    const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections })
    console.log(
      `soak: gatsby-dsg pid ${pid} on http://${HOST}:${port}/, ${options.connections} connections, ${options.seconds} s`,
    )

    // Warm-up: the generated pages rendered once (they are the "generated" part of the mix).
    for (let i = 0; i < generated.length; i += 8) {
      await Promise.all(generated.slice(i, i + 8).map((p) => request(agent, port, 'GET', urlOf(p))))
    }
    const purge = async () => {
      const results = []
      for (const glob of ['/guides/**', '/products/**', '/blog/안녕하세요/']) {
        const res = await request(agent, port, 'POST', `/__dsg/purge?glob=${encodeURIComponent(glob)}`, {
          authorization: `Bearer ${token}`,
        }).catch((error) => ({ status: error.message }))
        results.push(res.status)
      }
      return results
    }
    const purgeWorks = (await purge()).every((s) => s === 200)
    if (!purgeWorks)
      console.log('soak: the admin purge endpoint did not answer 200; first renders happen only once per page')

    const counts = new Map() // category → { requests, statuses: {status: n}, misses }
    const unexpected = []
    let total = 0
    const rss = []
    const started = Date.now()
    const deadline = started + options.seconds * 1000
    rss.push({ t: 0, bytes: rssOf(pid) })
    const sampler = setInterval(() => rss.push({ t: (Date.now() - started) / 1000, bytes: rssOf(pid) }), 1000)
    const purger = purgeWorks ? setInterval(() => purge().catch(() => {}), options.purgeEvery * 1000) : null

    async function loop() {
      while (Date.now() < deadline) {
        const [category, url, expected] = pick(mix)
        const entry = counts.get(category) || { requests: 0, statuses: {}, misses: 0 }
        counts.set(category, entry)
        entry.requests++
        total++
        try {
          const res = await request(agent, port, 'GET', url)
          entry.statuses[res.status] = (entry.statuses[res.status] || 0) + 1
          if (res.cache === 'MISS') entry.misses++
          if (res.status !== expected) unexpected.push(`${url}: ${res.status}, expected ${expected}`)
        } catch (error) {
          entry.statuses[error.code || error.message] = (entry.statuses[error.code || error.message] || 0) + 1
          unexpected.push(`${url}: ${error.message}`)
          if (server.child.exitCode !== null || server.child.signalCode !== null) return
        }
      }
    }
    await Promise.all(Array.from({ length: options.connections }, loop))
    clearInterval(sampler)
    if (purger) clearInterval(purger)
    const elapsed = (Date.now() - started) / 1000
    rss.push({ t: elapsed, bytes: rssOf(pid) })
    agent.destroy()

    // Report.
    const at = (t) => rss.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best))
    const [start, middle, end] = [at(0), at(elapsed / 2), rss[rss.length - 1]]
    const peak = rss.reduce((m, s) => Math.max(m, s.bytes || 0), 0)
    console.log(
      `\nsoak: ${total} requests in ${elapsed.toFixed(1)} s (${Math.round(total / elapsed)} req/s), ${unexpected.length} unexpected`,
    )
    console.log('\n| requests | count | statuses | renders seen (MISS) |\n|---|---:|---|---:|')
    for (const [category, entry] of counts) {
      const statuses = Object.entries(entry.statuses)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ')
      console.log(`| ${category} | ${entry.requests} | ${statuses} | ${entry.misses} |`)
    }
    console.log(
      `\n(first-render pool: ${firstRenders.length} pages, purged every ${options.purgeEvery} s: ${purgeWorks ? 'yes' : 'no'})`,
    )
    console.log('\n| server RSS | at | MiB |\n|---|---:|---:|')
    for (const [name, sample] of [
      ['start', start],
      ['middle', middle],
      ['end', end],
    ]) {
      console.log(`| ${name} | ${sample.t.toFixed(0)} s | ${(sample.bytes / 1024 / 1024).toFixed(1)} |`)
    }
    console.log(`| peak | | ${(peak / 1024 / 1024).toFixed(1)} |`)
    const growth = ((end.bytes - middle.bytes) / middle.bytes) * 100
    console.log(
      `\nsoak: RSS middle → end ${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% (${mib(middle.bytes)} → ${mib(end.bytes)})`,
    )
    if (unexpected.length > 0) {
      console.log(`\nsoak: first unexpected responses:\n  ${[...new Set(unexpected)].slice(0, 20).join('\n  ')}`)
    }
    const alive = server.child.exitCode === null && server.child.signalCode === null
    if (!alive) console.log(`soak: the server died during the run:\n${server.stderr()}`)
    await stop()
    process.exitCode = unexpected.length === 0 && alive ? 0 : 1
  } catch (error) {
    await stop()
    throw error
  }
}

main().catch((error) => {
  console.error(`soak: ${error.message}`)
  process.exit(1)
})
