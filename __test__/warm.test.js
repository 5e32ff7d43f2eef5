'use strict'
// Warm-up on the example site built by real Gatsby: `gatsby-dsg warm` generates the deferred
// pages into the cache directory ahead of traffic, so a server started afterwards on that
// directory answers them all from the cache; `serve --warm <globs>` does it in the background.
// (That warm renders yield to live requests is proven in Rust, by cache::gate's tests.)

const { trackedTempDir, removeTempDirs, exampleDeferredPages, EXAMPLE } = require('./support/site')
const { runCli, runCliToEnd, serveArgs, baseOf, lines } = require('./support/cli')
const { killAll } = require('./support/processes')
const { requestText: request } = require('./support/http')
const { waitFor } = require('../scripts/support/wait')
const { startOpsServer, parseMetrics } = require('./support/ops')

const DEFERRED = exampleDeferredPages()
const BROKEN = '/broken/'
const PROGRESS = /^warm: (\d+)\/(\d+) pages, \d+\.\d pages\/s, ETA (\d+|\?)s$/

const makeTempDir = () => trackedTempDir('gatsby-dsg-warm-test-')

afterEach(async () => {
  await killAll()
})

afterAll(() => {
  removeTempDirs()
})

/** A page path as sent over HTTP (the example has a Korean one). */
const url = (pagePath) => encodeURI(pagePath)

describe('gatsby-dsg warm', () => {
  let cacheDir
  let warmed

  beforeAll(async () => {
    cacheDir = makeTempDir()
    warmed = await runCliToEnd(['warm', '--root', EXAMPLE, '--cache-dir', cacheDir, '--concurrency', '4'])
  }, 300_000)

  test('renders every deferred page once, names the one whose template throws, and exits 1', () => {
    expect(DEFERRED.length).toBe(117) // incl. the 24 /gallery/ pages
    expect(lines(warmed.stdout)).toEqual([
      `gatsby-dsg: warmed ${DEFERRED.length} pages: ${DEFERRED.length - 1} rendered, 0 already stored, 1 failed`,
    ])
    const failures = lines(warmed.stderr).filter((l) => /^gatsby-dsg: \/\S*: /.test(l))
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatch(/^gatsby-dsg: \/broken\/: .*boom from broken template/)
    expect({ code: warmed.code, signal: warmed.signal }).toEqual({ code: 1, signal: null })
  })

  test('prints progress lines when its output is not a terminal, ending at the total', () => {
    const progress = lines(warmed.stderr).filter((l) => l.startsWith('warm: '))
    expect(progress.length).toBeGreaterThanOrEqual(1)
    const done = progress.map((l) => {
      const m = l.match(PROGRESS)
      expect({ line: l, matches: m !== null }).toEqual({ line: l, matches: true })
      expect(Number(m[2])).toBe(DEFERRED.length)
      return Number(m[1])
    })
    // Counting up, each count once, the last at the total.
    expect(done).toEqual([...new Set(done)].sort((a, b) => a - b))
    expect(done[done.length - 1]).toBe(DEFERRED.length)
    // Plain lines, no terminal control sequences.
    // eslint-disable-next-line no-control-regex -- ESC, the start of a terminal control sequence
    expect(warmed.stderr).not.toMatch(/\x1b\[/)
  })

  test('a server started afterwards on the same cache dir answers every page with HIT and zero renders', async () => {
    const server = await startOpsServer({ cacheDir })
    try {
      expect(server.summary.generatedPages).toBe(DEFERRED.length - 1)
      const pages = DEFERRED.filter((p) => p !== BROKEN)
      const outcomes = {}
      for (const p of pages) {
        const html = await server.get(url(p))
        const data = await server.get(`/page-data${url(p === '/' ? '/index/' : p)}page-data.json`)
        for (const res of [html, data]) {
          const key = `${res.status} ${res.headers['x-dsg-cache']}`
          outcomes[key] = (outcomes[key] || 0) + 1
        }
        expect(html.body).toContain('</html>')
      }
      expect(outcomes).toEqual({ '200 HIT': 2 * pages.length })
      const stats = await server.stats()
      expect(stats.renders).toBe(0)
      expect(stats.hits).toBe(2 * pages.length)
    } finally {
      await server.close()
    }
  })

  test('run again with globs, finds those pages already stored, renders none and exits 0', async () => {
    const guides = DEFERRED.filter((p) => p.startsWith('/guides/'))
    const products = DEFERRED.filter((p) => p.startsWith('/products/'))
    const again = await runCliToEnd(['warm', '/guides/**', '/products/*/', '--root', EXAMPLE, '--cache-dir', cacheDir])
    expect(lines(again.stdout)).toEqual([
      `gatsby-dsg: warmed ${guides.length + products.length} pages: 0 rendered, ${guides.length + products.length} already stored, 0 failed`,
    ])
    expect({ code: again.code, signal: again.signal }).toEqual({ code: 0, signal: null })
  }, 120_000)
})

describe('gatsby-dsg serve --warm', () => {
  test("'/guides/**' generates the guides in the background: they are HITs, other pages are not warmed", async () => {
    const token = 'warm-test-token'
    const guides = DEFERRED.filter((p) => p.startsWith('/guides/'))
    expect(guides.length).toBe(19)
    const cli = runCli(
      serveArgs(EXAMPLE, makeTempDir(), '--admin-token', token, '--no-access-log', '--warm', '/guides/**'),
    )
    const base = baseOf(await cli.firstLine())
    await waitFor(() => cli.stderr().includes('gatsby-dsg: warmed'), { attempts: 1200, what: 'warm-up to finish' })
    // Its own line (not through Gatsby's reporter, which would prefix it with `error`).
    expect(lines(cli.stderr())).toContain(`gatsby-dsg: warmed ${guides.length} pages (0 already stored, 0 failed)`)
    const progress = lines(cli.stderr()).filter((l) => l.startsWith('warm: '))
    expect(progress[progress.length - 1]).toMatch(new RegExp(`^warm: ${guides.length}/${guides.length} pages`))

    const metrics = async () =>
      parseMetrics((await request(base, '/__dsg/metrics', { headers: { authorization: `Bearer ${token}` } })).body)
    expect((await metrics()).value('gatsby_dsg_renders_total')).toBe(guides.length)
    for (const g of guides) {
      const res = await request(base, g)
      expect({ page: g, status: res.status, cache: res.headers['x-dsg-cache'] }).toEqual({
        page: g,
        status: 200,
        cache: 'HIT',
      })
    }
    const other = await request(base, '/blog/post-00002/')
    expect(other.headers['x-dsg-cache']).toBe('MISS')
    expect((await metrics()).value('gatsby_dsg_renders_total')).toBe(guides.length + 1)

    cli.signal('SIGTERM')
    const { code, signal } = await cli.exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
  }, 120_000)
})
