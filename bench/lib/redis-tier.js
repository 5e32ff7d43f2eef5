'use strict'
// 10: HITs of a generated page with the Redis tier — none, a plain-TCP redis-server, a TLS-only
// one (certificates made with openssl in the run directory) — each a fresh gatsby-dsg process
// whose page was rendered and stored before wrk starts, interleaved per round. A HIT is answered
// from the instance's memory, so the goal is ≥ 0.95× of the no-Redis figure for both.

const path = require('path')
const http = require('./http')
const wrk = require('./wrk')
const { startDsg } = require('./servers')
const { medianBy } = require('./format')
const { issue } = require('./issues')
const { startRedis, startTlsRedis, makeCertificates } = require('../../scripts/support/redis')
const { sleep } = require('../../scripts/support/wait')

const ENCODINGS = { 'Accept-Encoding': 'br, gzip' }

async function redisTier(ctx) {
  const { opts, pages } = ctx
  const certs = makeCertificates(path.join(ctx.runDir, 'redis-tls'), { bin: ctx.tools.openssl })
  const plain = await startRedis(0, { bin: ctx.tools.redis })
  const secure = await startTlsRedis(certs, { bin: ctx.tools.redis })
  const variants = [
    { key: 'none', options: {} },
    { key: 'plain', options: { redis: plain.url } },
    { key: 'tls', options: { redis: secure.url, redisCa: certs.ca } },
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
          if (first.status !== 200) issue(ctx, `redis tier ${v.key}: first GET → ${first.status}`)
          await sleep(500)
          const check = await http.request(dsg.base, pages.generated, { headers: ENCODINGS })
          if (check.headers['x-dsg-cache'] !== 'HIT')
            issue(ctx, `redis tier ${v.key}: x-dsg-cache ${check.headers['x-dsg-cache']}`)
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
          if (/Redis/.test(out)) issue(ctx, `redis tier ${v.key}: ${out.slice(0, 300)}`)
        } finally {
          await dsg.close()
        }
      }
    }
  } finally {
    await plain.stop()
    await secure.stop()
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
