'use strict'
// Running gatsby-dsg in production, on the example site built by real Gatsby: purging generated
// pages over the admin API, revalidation (STALE while one background render refreshes), metrics,
// health and the access log, a SIGTERM in the middle of a burst, and the bounded render queue.

const path = require('path')
const { trackedTempDir, removeTempDirs, exampleDeferredPages, EXAMPLE } = require('./support/site')
const { runCli, serveArgs, baseOf, lines } = require('./support/cli')
const { killAll } = require('./support/processes')
const { requestText: request, tracedGet } = require('./support/http')
const { waitFor, sleep, idle } = require('../scripts/support/wait')
const { startOpsServer, parseMetrics, filesUnder } = require('./support/ops')

const TOKEN = 's3cret-admin-token'
const AUTH = { authorization: `Bearer ${TOKEN}` }
const DEFERRED = exampleDeferredPages()

const makeTempDir = () => trackedTempDir('gatsby-dsg-ops-test-')

afterAll(async () => {
  await killAll()
  removeTempDirs()
})

/** Renders done by `server` while `action` ran (after the renders it started finished). */
async function rendersDuring(server, action) {
  const before = (await server.stats()).renders
  const result = await action()
  await idle(server)
  return { result, renders: (await server.stats()).renders - before }
}

/** The files stored for a page (HTML and page-data, every encoding) in a build's cache dir. */
function storedFiles(buildDir, pagePath) {
  const trimmed = pagePath.replace(/^\/|\/$/g, '')
  return filesUnder(buildDir).filter(
    (f) =>
      f.startsWith(path.join(trimmed, 'index.html')) || f.startsWith(path.join('page-data', trimmed, 'page-data.json')),
  )
}

describe('purge', () => {
  let server
  let buildDir
  const purge = (query, headers = AUTH) => server.get(`/__dsg/purge?${query}`, { method: 'POST', headers })

  /** Generates each page (HTML, which also stores its page-data) and waits until it is on disk. */
  async function generate(...pagePaths) {
    for (const p of pagePaths) expect((await server.get(p)).status).toBe(200)
    await idle(server)
    for (const p of pagePaths) expect(storedFiles(buildDir, p).length).toBeGreaterThanOrEqual(2)
  }

  beforeAll(async () => {
    server = await startOpsServer({ cacheDir: makeTempDir(), adminToken: TOKEN })
    buildDir = server.summary.cacheDir
  })
  afterAll(async () => {
    if (server) await server.close()
  })

  test('without the bearer token is refused with 401 and WWW-Authenticate, and removes nothing', async () => {
    await generate('/blog/post-00002/')
    const attempts = [
      await purge('all=1', {}),
      await purge('all=1', { authorization: 'Bearer wrong-token' }),
      await purge('all=1', { authorization: `Basic ${TOKEN}` }),
      await server.get('/__dsg/health'),
      await server.get('/__dsg/metrics', { headers: { authorization: 'Bearer wrong-token' } }),
    ]
    expect(attempts.map((r) => r.status)).toEqual([401, 401, 401, 401, 401])
    for (const r of attempts) expect(r.headers['www-authenticate']).toMatch(/^Bearer /)
    expect(storedFiles(buildDir, '/blog/post-00002/').length).toBeGreaterThanOrEqual(2)
    expect((await server.get('/blog/post-00002/')).headers['x-dsg-cache']).toBe('HIT')
  })

  test('of one path: answers {"purged": 2}, its files leave the cache dir, the next request is a MISS that renders again', async () => {
    await generate('/blog/post-00002/', '/blog/post-00004/')
    const before = await server.get('/blog/post-00002/')
    expect(before.headers['x-dsg-cache']).toBe('HIT')

    const res = await purge('path=/blog/post-00002/')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(JSON.parse(res.body)).toEqual({ purged: 2 })
    expect(storedFiles(buildDir, '/blog/post-00002/')).toEqual([])
    // Only that page.
    expect(storedFiles(buildDir, '/blog/post-00004/').length).toBeGreaterThanOrEqual(2)
    expect((await server.get('/blog/post-00004/')).headers['x-dsg-cache']).toBe('HIT')

    const again = await rendersDuring(server, () => server.get('/blog/post-00002/'))
    expect(again.result.status).toBe(200)
    expect(again.result.headers['x-dsg-cache']).toBe('MISS')
    expect(again.result.body).toBe(before.body)
    expect(again.renders).toBe(1)
    expect(storedFiles(buildDir, '/blog/post-00002/').length).toBeGreaterThanOrEqual(2)
  })

  test('by glob removes the matching pages only', async () => {
    const guides = ['/guides/guide-01/', '/guides/guide-02/', '/guides/guide-03/']
    await generate(...guides, '/blog/post-00006/')

    const res = await purge(`glob=${encodeURIComponent('/guides/**')}`)
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ purged: 2 * guides.length })
    for (const g of guides) expect(storedFiles(buildDir, g)).toEqual([])
    expect(storedFiles(buildDir, '/blog/post-00006/').length).toBeGreaterThanOrEqual(2)

    const { result, renders } = await rendersDuring(server, async () => [
      await server.get('/guides/guide-01/'),
      await server.get('/page-data/guides/guide-02/page-data.json'),
      await server.get('/blog/post-00006/'),
    ])
    expect(result.map((r) => r.status)).toEqual([200, 200, 200])
    expect(result.map((r) => r.headers['x-dsg-cache'])).toEqual(['MISS', 'MISS', 'HIT'])
    expect(renders).toBe(2)
  })

  test('of all empties the memory and the cache dir; every page renders again', async () => {
    await generate('/blog/post-00008/', '/products/product-01/')
    const stats = await server.stats()
    expect(stats.diskEntries).toBeGreaterThanOrEqual(4)

    const res = await purge('all=1')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body).purged).toBeGreaterThanOrEqual(stats.diskEntries)
    expect(filesUnder(buildDir)).toEqual([])
    const after = await server.stats()
    expect([after.memoryEntries, after.diskEntries, after.diskBytes]).toEqual([0, 0, 0])

    const { result, renders } = await rendersDuring(server, async () => [
      await server.get('/blog/post-00008/'),
      await server.get('/products/product-01/'),
      await server.get('/blog/post-00002/'),
    ])
    expect(result.map((r) => r.headers['x-dsg-cache'])).toEqual(['MISS', 'MISS', 'MISS'])
    expect(renders).toBe(3)
  })

  test('from the server handle: purge({path}) and purge({glob}) resolve to the artifacts removed', async () => {
    await generate('/blog/post-00010/', '/products/product-02/')
    expect(await server.purge({ path: '/blog/post-00010/' })).toBe(2)
    expect(await server.purge({ glob: '/products/**' })).toBeGreaterThanOrEqual(2)
    expect(storedFiles(buildDir, '/blog/post-00010/')).toEqual([])
    expect(storedFiles(buildDir, '/products/product-02/')).toEqual([])
    expect((await server.get('/blog/post-00010/')).headers['x-dsg-cache']).toBe('MISS')
  })

  test('without saying what, or with GET, is refused and removes nothing', async () => {
    await generate('/blog/post-00012/')
    const none = await purge('')
    expect(none.status).toBe(400)
    expect(JSON.parse(none.body).error).toContain('?path=')
    const get = await server.get('/__dsg/purge?all=1', { headers: AUTH })
    expect(get.status).toBe(405)
    expect((await server.get('/blog/post-00012/')).headers['x-dsg-cache']).toBe('HIT')
  })
})

describe('the admin endpoints without a configured token', () => {
  test('are all a 404, even with a bearer token, and nothing is purged', async () => {
    const server = await startOpsServer({ cacheDir: makeTempDir() })
    try {
      await server.get('/blog/post-00002/')
      await idle(server)
      const responses = [
        await server.get('/__dsg/health', { headers: AUTH }),
        await server.get('/__dsg/metrics', { headers: AUTH }),
        await server.get('/__dsg/purge?all=1', { method: 'POST', headers: AUTH }),
        await server.get('/__dsg/purge?all=1', { method: 'POST' }),
        await server.get('/__dsg/'),
      ]
      expect(responses.map((r) => r.status)).toEqual([404, 404, 404, 404, 404])
      for (const r of responses) expect(r.headers['www-authenticate']).toBeUndefined()
      expect((await server.get('/blog/post-00002/')).headers['x-dsg-cache']).toBe('HIT')
    } finally {
      await server.close()
    }
  })

  test('GATSBY_DSG_ADMIN_TOKEN in the environment enables them', async () => {
    const server = await startOpsServer({ cacheDir: makeTempDir() }, { env: { GATSBY_DSG_ADMIN_TOKEN: 'from-env' } })
    try {
      expect((await server.get('/__dsg/health')).status).toBe(401)
      const res = await server.get('/__dsg/health', { headers: { authorization: 'Bearer from-env' } })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body).status).toBe('ok')
    } finally {
      await server.close()
    }
  })
})

describe('revalidation (revalidate: 1)', () => {
  let server

  beforeAll(async () => {
    server = await startOpsServer({ cacheDir: makeTempDir(), revalidate: 1 })
  })
  afterAll(async () => {
    if (server) await server.close()
  })

  test('a page older than 1 s is served STALE to concurrent requests while exactly one background render refreshes it, then HIT', async () => {
    const first = await rendersDuring(server, () => server.get('/blog/post-00014/'))
    expect(first.result.headers['x-dsg-cache']).toBe('MISS')
    expect(first.renders).toBe(1)
    expect((await server.get('/blog/post-00014/')).headers['x-dsg-cache']).toBe('HIT')

    await sleep(1200) // past the revalidation age
    const staleBefore = (await server.stats()).stale
    const burst = await rendersDuring(server, () =>
      Promise.all(Array.from({ length: 8 }, () => server.get('/blog/post-00014/'))),
    )
    expect(burst.result.map((r) => r.status)).toEqual(Array(8).fill(200))
    for (const r of burst.result) expect(r.body).toBe(first.result.body)
    const outcomes = burst.result.map((r) => r.headers['x-dsg-cache'])
    expect(outcomes).toContain('STALE')
    // While the refresh runs the old page is STALE; once it is stored the fresh one is a HIT.
    for (const o of outcomes) expect(['STALE', 'HIT']).toContain(o)
    expect(burst.renders).toBe(1)
    expect((await server.stats()).stale - staleBefore).toBe(outcomes.filter((o) => o === 'STALE').length)

    const after = await server.get('/blog/post-00014/')
    expect(after.status).toBe(200)
    expect(after.headers['x-dsg-cache']).toBe('HIT')
    expect(after.body).toBe(first.result.body)
  })

  test('a failed revalidation keeps serving the old page, counts the failure and names the page', async () => {
    // Gatsby's engines in the server's own thread, where setGlobal makes the flaky template throw
    // (render workers have globals of their own).
    const server = await startOpsServer({ cacheDir: makeTempDir(), revalidate: 1, renderWorkers: 0 })
    try {
      await failedRevalidation(server)
    } finally {
      await server.close()
    }
  })

  async function failedRevalidation(server) {
    const first = await rendersDuring(server, () => server.get('/flaky/'))
    expect(first.result.status).toBe(200)
    expect(first.result.headers['x-dsg-cache']).toBe('MISS')
    expect(first.result.body).toContain('<h1>Flaky page</h1>')

    await server.setGlobal('__gatsbyDsgExampleFail', true)
    await sleep(1200)
    const failuresBefore = (await server.stats()).renderFailures
    const stale = await rendersDuring(server, () => server.get('/flaky/'))
    expect(stale.result.status).toBe(200)
    expect(stale.result.headers['x-dsg-cache']).toBe('STALE')
    expect(stale.result.body).toBe(first.result.body)
    expect(stale.renders).toBe(1)
    expect((await server.stats()).renderFailures - failuresBefore).toBe(1)

    for (let i = 0; i < 3; i++) {
      const later = await server.get('/flaky/')
      expect(later.status).toBe(200)
      expect(later.body).toBe(first.result.body)
    }
    await idle(server)
    expect(server.stderr()).toContain('/flaky/')
    expect(server.stderr()).toContain('flaky template asked to fail')

    // Once the template renders again, the next refresh replaces the old page.
    await server.setGlobal('__gatsbyDsgExampleFail', false)
    const recovered = await rendersDuring(server, () => server.get('/flaky/'))
    expect(recovered.result.headers['x-dsg-cache']).toBe('STALE')
    expect(recovered.renders).toBe(1)
    expect((await server.get('/flaky/')).headers['x-dsg-cache']).toBe('HIT')
  }
})

describe('observability', () => {
  let server

  beforeAll(async () => {
    server = await startOpsServer({ cacheDir: makeTempDir(), adminToken: TOKEN, accessLog: 'text' })
  })
  afterAll(async () => {
    if (server) await server.close()
  })

  async function scrape() {
    const res = await server.get('/__dsg/metrics', { headers: AUTH })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    return parseMetrics(res.body)
  }

  test('/__dsg/health answers JSON with the build and the render queue', async () => {
    const res = await server.get('/__dsg/health', { headers: AUTH })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    const health = JSON.parse(res.body)
    expect(health).toEqual({
      status: 'ok',
      buildId: expect.any(String),
      deferredPages: DEFERRED.length,
      rendersInFlight: 0,
      rendersQueued: 0,
    })
    expect(health.buildId).not.toBe('')
  })

  test('/__dsg/metrics values change with the requests made', async () => {
    const m0 = await scrape()
    const miss = await server.get('/blog/post-00016/')
    expect(miss.headers['x-dsg-cache']).toBe('MISS')
    await idle(server)
    expect((await server.get('/blog/post-00016/')).headers['x-dsg-cache']).toBe('HIT')
    expect((await server.get('/page-data/blog/post-00016/page-data.json')).headers['x-dsg-cache']).toBe('HIT')
    expect((await server.get('/about/')).status).toBe(200)
    expect((await server.get('/no/such/page/')).status).toBe(404)
    const m1 = await scrape()

    const delta = (name, labels) => m1.value(name, labels) - m0.value(name, labels)
    const requests = (route, status, cache) => delta('gatsby_dsg_requests_total', { route, status, cache })
    expect(requests('deferred_html', 200, 'miss')).toBe(1)
    expect(requests('deferred_html', 200, 'hit')).toBe(1)
    expect(requests('deferred_page_data', 200, 'hit')).toBe(1)
    expect(requests('static_file', 200, 'none')).toBe(1)
    expect(requests('not_found', 404, 'none')).toBe(1)
    expect(requests('admin', 200, 'none')).toBe(1) // the first scrape
    expect(delta('gatsby_dsg_renders_total')).toBe(1)
    expect(delta('gatsby_dsg_render_duration_seconds_count')).toBe(1)
    expect(delta('gatsby_dsg_render_duration_seconds_sum')).toBeGreaterThan(0)
    expect(delta('gatsby_dsg_cache_entries', { tier: 'memory' })).toBeGreaterThanOrEqual(2)
    expect(delta('gatsby_dsg_cache_bytes', { tier: 'memory' })).toBeGreaterThan(Buffer.byteLength(miss.body))
    expect(delta('gatsby_dsg_cache_entries', { tier: 'disk' })).toBe(2)
    expect(delta('gatsby_dsg_cache_bytes', { tier: 'disk' })).toBeGreaterThan(Buffer.byteLength(miss.body))
    for (const name of [
      'gatsby_dsg_render_failures_total',
      'gatsby_dsg_render_rejections_total',
      'gatsby_dsg_renders_in_flight',
      'gatsby_dsg_renders_queued',
    ]) {
      expect(m1.has(name)).toBe(true)
    }

    // The server handle's metrics() is the same exposition, agreeing with stats().
    const fromHandle = parseMetrics(await server.metrics())
    const stats = await server.stats()
    expect(fromHandle.value('gatsby_dsg_renders_total')).toBe(stats.renders)
    expect(fromHandle.value('gatsby_dsg_cache_entries', { tier: 'disk' })).toBe(stats.diskEntries)
  })

  test('the text access log has one line per request with status, cache, bytes and duration', async () => {
    const marker = `log-${Date.now()}`
    const sent = [
      ['/blog/post-00018/', 200, 'MISS'],
      ['/blog/post-00018/', 200, 'HIT'],
      ['/page-data/blog/post-00018/page-data.json', 200, 'HIT'],
      ['/about/', 200, '-'],
      ['/no/such/page/', 404, '-'],
    ]
    const bodies = []
    for (const [p] of sent) {
      bodies.push((await server.get(`${p}?m=${marker}`)).body)
      await idle(server)
    }
    const logged = () => lines(server.stdout()).filter((l) => l.includes(marker))
    await waitFor(() => logged().length >= sent.length, { what: 'access log lines' })
    const entries = logged()
    expect(entries).toHaveLength(sent.length)
    entries.forEach((line, i) => {
      const [p, status, cache] = sent[i]
      const m = line.match(/^(.+ GMT) 127\.0\.0\.1 "GET (\S+)" (\d{3}) (HIT|MISS|STALE|-) (\d+) (\d+\.\d{2})ms$/)
      expect(m).not.toBeNull()
      expect(Number.isNaN(Date.parse(m[1]))).toBe(false)
      expect({ path: m[2], status: Number(m[3]), cache: m[4] }).toEqual({ path: `${p}?m=${marker}`, status, cache })
      expect(Number(m[5])).toBe(Buffer.byteLength(bodies[i]))
    })
  })
})

describe('the bounded render queue (renderSlots: 1, maxQueuedRenders: 1)', () => {
  test('turns away first requests past the queue with 503 and Retry-After, caches none of them, and counts them', async () => {
    const server = await startOpsServer({ cacheDir: makeTempDir(), renderSlots: 1, maxQueuedRenders: 1 })
    try {
      const pages = DEFERRED.filter((p) => p.startsWith('/blog/post-')).slice(20, 44)
      const first = await Promise.all(pages.map((p) => server.get(p)))
      await idle(server)
      const rejected = pages.filter((_, i) => first[i].status === 503)
      const served = pages.filter((_, i) => first[i].status === 200)
      expect(rejected.length + served.length).toBe(pages.length)
      expect(rejected.length).toBeGreaterThan(0)
      expect(served.length).toBeGreaterThanOrEqual(2)
      for (const res of first) {
        if (res.status !== 503) continue
        expect(res.headers['retry-after']).toMatch(/^\d+$/)
        expect(res.headers['x-dsg-cache']).toBe('MISS')
        expect(res.body).not.toContain('<h1>Blog post')
      }
      const stats = await server.stats()
      expect(stats.renderRejections).toBe(rejected.length)
      expect(stats.renders).toBe(served.length)

      // Nothing was stored for a rejected page: one at a time, each renders now and is served.
      for (const p of rejected) {
        const again = await rendersDuring(server, () => server.get(p))
        expect(again.result.status).toBe(200)
        expect(again.result.headers['x-dsg-cache']).toBe('MISS')
        expect(again.renders).toBe(1)
      }
      expect((await server.stats()).renderRejections).toBe(rejected.length)
    } finally {
      await server.close()
    }
  })
})

describe('the command line in production', () => {
  /** Starts `gatsby-dsg serve` on the example; resolves to the CLI handle and its base URL. */
  async function serveCli(extra) {
    const cli = runCli(serveArgs(EXAMPLE, makeTempDir(), ...extra))
    const line = await cli.firstLine()
    return { cli, base: baseOf(line), startup: line }
  }

  test('--log-format json writes one parseable JSON line per request', async () => {
    const { cli, base, startup } = await serveCli(['--log-format', 'json'])
    const sent = [
      ['/blog/post-00020/', 200, 'MISS'],
      ['/blog/post-00020/', 200, 'HIT'],
      ['/about/', 200, null],
      ['/no/such/page/', 404, null],
    ]
    const bodies = []
    for (const [p] of sent) bodies.push((await request(base, p)).body)
    const logLines = () => lines(cli.stdout()).slice(1)
    await waitFor(() => logLines().length >= sent.length, { what: 'access log lines' })
    cli.signal('SIGTERM')
    const { code, signal, stdout } = await cli.exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    const [first, ...log] = lines(stdout)
    expect(first).toBe(startup)
    expect(log).toHaveLength(sent.length)
    log.forEach((line, i) => {
      const entry = JSON.parse(line)
      const [p, status, cache] = sent[i]
      expect(entry).toEqual({
        time: expect.any(String),
        remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        method: 'GET',
        path: p,
        status,
        cache,
        bytes: Buffer.byteLength(bodies[i]),
        ms: expect.any(Number),
      })
      expect(entry.ms).toBeGreaterThanOrEqual(0)
      expect(Number.isNaN(Date.parse(entry.time))).toBe(false)
    })
  })

  test('SIGTERM during a burst of ~100 requests loses no response, and the process exits 0', async () => {
    const { cli, base } = await serveCli(['--no-access-log'])
    const blog = DEFERRED.filter((p) => p.startsWith('/blog/post-'))
    const hitPages = blog.slice(0, 10)
    const missPages = [...blog.slice(10, 50), ...DEFERRED.filter((p) => p.startsWith('/products/'))]
    for (const p of hitPages) expect((await request(base, p)).status).toBe(200)

    // Interleaved: 50 hits (answered at once) and 50 first renders (in flight for a while).
    const burst = []
    for (let i = 0; i < 50; i++) {
      burst.push({ kind: 'hit', ...tracedGet(base, hitPages[i % hitPages.length]) })
      burst.push({ kind: 'miss', ...tracedGet(base, missPages[i]) })
    }
    expect(await Promise.all(burst.map((r) => r.sent))).toEqual(Array(burst.length).fill(true))
    // Every hit answered means the server has read the whole burst; the renders are under way.
    for (const r of burst) r.done.then(() => (r.finished = true))
    await Promise.all(burst.filter((r) => r.kind === 'hit').map((r) => r.done))
    const outstanding = burst.filter((r) => !r.finished).length
    expect(outstanding).toBeGreaterThan(0) // SIGTERM really lands while renders are in flight
    cli.signal('SIGTERM')
    // Sent after the signal: answered, or refused once the listener is closed.
    const late = Array.from({ length: 10 }, (_, i) => tracedGet(base, blog[50 + (i % 10)] || blog[i]))

    const results = await Promise.all(burst.map((r) => r.done))
    const { code, signal } = await cli.exited
    const lateResults = await Promise.all(late.map((r) => r.done))

    const summary = (list) => list.reduce((acc, r) => ({ ...acc, [r.outcome]: (acc[r.outcome] || 0) + 1 }), {})
    expect(summary(results)).toEqual({ complete: burst.length })
    for (const [i, r] of results.entries()) {
      expect({ path: r.path, status: r.status }).toEqual({ path: r.path, status: 200 })
      expect(r.cache).toBe(burst[i].kind === 'hit' ? 'HIT' : 'MISS')
      expect(r.body).toContain('</html>')
    }
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    // Late requests are either served in full or refused; never cut off mid-response.
    const late_ = summary(lateResults)
    expect(late_.broken).toBeUndefined()
    for (const r of lateResults.filter((l) => l.outcome === 'complete')) expect(r.status).toBe(200)
    expect(lines(cli.stdout())).toHaveLength(1) // --no-access-log: the start-up line only
  })
})
