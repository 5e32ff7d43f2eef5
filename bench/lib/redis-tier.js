'use strict'
// 10: HITs of a generated page with the Redis tier — none, a plain-TCP redis-server, a TLS-only
// one (certificates made with openssl in the run directory) — each a fresh gatsby-dsg process
// whose page was rendered and stored before wrk starts, interleaved per round. A HIT is answered
// from the instance's memory, so the goal is ≥ 0.95× of the no-Redis figure for both.

const { execFileSync } = require('child_process')
const fs = require('fs')
const net = require('net')
const path = require('path')
const http = require('./http')
const wrk = require('./wrk')
const procs = require('./procs')
const { startDsg } = require('./servers')
const { medianBy } = require('./format')

const ENCODINGS = { 'Accept-Encoding': 'br, gzip' }

function certificates(ctx, dir) {
  fs.mkdirSync(dir, { recursive: true })
  const openssl = (...args) => execFileSync(ctx.tools.openssl, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=gatsby-dsg bench CA',
  )
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n')
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  )
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    'server.pem',
    '-extfile',
    'server.ext',
  )
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') }
}

async function startRedis(ctx, tls) {
  const port = await procs.freePort()
  const listen = tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        tls.cert,
        '--tls-key-file',
        tls.key,
        '--tls-ca-cert-file',
        tls.ca,
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(port)]
  const child = procs.start(ctx.tools.redis, [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  const listening = () =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(() => resolve(true)))
      socket.on('error', () => resolve(false))
    })
  const deadline = Date.now() + 10_000
  while (!(await listening())) {
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`)
    await procs.sleep(50)
  }
  return { child, url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}/` }
}

async function redisTier(ctx) {
  const { opts, pages } = ctx
  const tls = certificates(ctx, path.join(ctx.runDir, 'redis-tls'))
  const plain = await startRedis(ctx, null)
  const secure = await startRedis(ctx, tls)
  const variants = [
    { key: 'none', options: {} },
    { key: 'plain', options: { redis: plain.url } },
    { key: 'tls', options: { redis: secure.url, redisCa: tls.ca } },
  ]
  const result = { url: pages.generated, variants: {} }
  try {
    for (const v of variants) result.variants[v.key] = { runs: [] }
    for (let round = 0; round < opts.rounds; round += 1) {
      for (const v of variants) {
        const cacheDir = path.join(ctx.runDir, `cache-redis-${v.key}-${round}`)
        const dsg = await startDsg(ctx.site, { cacheDir, ...v.options })
        try {
          // Rendered (and stored in Redis when there is one), then every request is a HIT.
          const first = await http.request(dsg.base, pages.generated, { headers: ENCODINGS })
          if (first.status !== 200) ctx.issues.push(`redis tier ${v.key}: first GET → ${first.status}`)
          await procs.sleep(500)
          const check = await http.request(dsg.base, pages.generated, { headers: ENCODINGS })
          if (check.headers['x-dsg-cache'] !== 'HIT')
            ctx.issues.push(`redis tier ${v.key}: x-dsg-cache ${check.headers['x-dsg-cache']}`)
          ctx.log(`  10 ${v.key}${opts.rounds > 1 ? ` (round ${round + 1})` : ''}: wrk ${pages.generated}`)
          const r = await wrk.measure(ctx.tools.wrk, dsg.base + pages.generated, {
            workDir: ctx.runDir,
            connections: opts.connections,
            threads: opts.threads,
            seconds: opts.duration,
            warmupSeconds: opts.warmup,
            headers: ENCODINGS,
          })
          result.variants[v.key].runs.push(r)
          const out = dsg.output().trim()
          if (/Redis/.test(out)) ctx.issues.push(`redis tier ${v.key}: ${out.slice(0, 300)}`)
        } finally {
          await dsg.close()
        }
      }
    }
  } finally {
    await procs.stop(plain.child)
    await procs.stop(secure.child)
  }
  for (const v of Object.values(result.variants)) v.best = medianBy(v.runs, 'rps')
  return result
}

const DASH = '—'

/** Row 11 of the table. */
function row(r) {
  const f = require('./format')
  const cell = (v) => (v && v.best ? `${f.rps(v.best.rps)} req/s · ${f.ms(v.best.p50)} / ${f.ms(v.best.p99)}` : DASH)
  const ratio = (v) => f.ratio(v && v.best && v.best.rps, r.variants.none.best && r.variants.none.best.rps)
  const { none, plain, tls } = r.variants
  return [
    '11',
    `Redis tier: HIT of a generated page \`${r.url}\` (br) with no Redis → plain redis:// → TLS rediss:// — req/s · p50 / p99 (goal: ≥ 0.95× of no Redis)`,
    `${cell(none)} → ${cell(plain)} (**${ratio(plain)}**) → ${cell(tls)} (**${ratio(tls)}**)`,
    DASH,
    DASH,
    DASH,
    DASH,
    DASH,
    DASH,
  ]
}

function legend() {
  return '- Row 11: three fresh gatsby-dsg processes per round (no Redis; a plain-TCP `redis-server`; a TLS-only `redis-server` with a CA made by openssl, given as `redisCa`), each rendering the page once (stored in Redis too) and then measured with wrk as rows 1, 2, 7 (`Accept-Encoding: br, gzip`); every response is a memory HIT, so Redis is not on the measured path: the row checks that the tier costs HITs nothing.'
}

module.exports = { redisTier, row, legend }
