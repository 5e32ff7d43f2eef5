'use strict'
// The DSG core, end to end, on sites built by each Gatsby version gatsby-dsg supports: Gatsby
// 4.25 and 5.12 (the fixtures/ sites, built by scripts/fixtures.js) and 5.16 (the example site).
// Each is served by gatsby-dsg with render workers running that version's own engines.

const fs = require('fs')
const path = require('path')
const { execFileSync } = require('child_process')
const { startServer, tempDir, rendersDuring: countRenders, EXAMPLE } = require('./support/site')
const { idle } = require('../scripts/support/wait')
const { fixtureDir } = require('../scripts/fixtures')

const FIXTURE_PAGES = {
  deferred: ['/blog/post-2/', 'Blog post 2'],
  pageDataFirst: ['/blog/post-4/', 'Blog post 4'],
  restart: ['/blog/post-6/', 'Blog post 6'],
  static: ['/blog/post-1/', 'Blog post 1'],
  glob: ['/guides/guide-1/', 'Guide 1'],
  globAll: ['/guides/guide-1/', '/guides/guide-2/', '/guides/guide-3/'],
  excluded: ['/guides/keep-static/', 'Guide kept static'],
  fsRoute: ['/products/product-1/', 'Product 1'],
  notFound: 'Page not found — gatsby-dsg version fixture',
  // Rendered by a static query (useStaticQuery) in the layout of every page.
  staticQuery: 'site: gatsby-dsg version fixture',
}

const SITES = [
  {
    gatsby: '4.25',
    root: fixtureDir('4.25'),
    pages: FIXTURE_PAGES,
    pageLookup: 'graphqlEngine.findPageByPath',
    trailingSlash: 'legacy',
  },
  {
    gatsby: '5.12',
    root: fixtureDir('5.12'),
    pages: FIXTURE_PAGES,
    pageLookup: 'graphqlEngine.findPageByPath',
    trailingSlash: 'always',
  },
  {
    gatsby: '5.16',
    root: EXAMPLE,
    pageLookup: 'findEnginePageByPath',
    trailingSlash: 'always',
    pages: {
      deferred: ['/blog/post-00002/', 'Blog post 2'],
      pageDataFirst: ['/blog/post-00004/', 'Blog post 4'],
      restart: ['/blog/post-00006/', 'Blog post 6'],
      static: ['/blog/post-00001/', 'Blog post 1'],
      glob: ['/guides/guide-05/', 'Guide 5'],
      globAll: ['/guides/guide-01/', '/guides/guide-02/', '/guides/guide-19/'],
      excluded: ['/guides/keep-static/', 'Guide kept static'],
      fsRoute: ['/products/product-03/', 'Product 3'],
      notFound: 'Page not found — gatsby-dsg example',
    },
  },
]

describe.each(SITES)('a site built with Gatsby $gatsby', (site) => {
  const { pages } = site
  let server
  let cacheDir

  beforeAll(async () => {
    const manifest = path.join(site.root, '.cache', 'gatsby-dsg', 'deferred-pages.json')
    if (!fs.existsSync(manifest)) {
      throw new Error(`${site.root} is not built: run \`node scripts/fixtures.js\` (npm test does)`)
    }
    cacheDir = tempDir()
    server = await startServer({ root: site.root, cacheDir, renderWorkers: 1 })
  })

  afterAll(async () => {
    if (server) await server.close()
  })

  const rendersDuring = (action) => countRenders(server, action)

  test(`was built by Gatsby ${site.gatsby}, whose engines look pages up with ${site.pageLookup}`, () => {
    const out = execFileSync(
      process.execPath,
      [
        path.join(__dirname, 'support', 'engine-api.js'),
        site.root,
        pages.deferred[0],
        pages.deferred[0].slice(0, -1),
        pages.static[0],
        '/no-such-page/',
      ],
      { encoding: 'utf8' },
    )
    const found = JSON.parse(out.trim().split('\n').pop())
    expect(found.gatsbyVersion).toMatch(new RegExp(`^${site.gatsby.replace('.', '\\.')}\\.`))
    expect(found.pageLookup).toBe(site.pageLookup)
    expect(found.pages[pages.deferred[0]]).toEqual({ path: pages.deferred[0], mode: 'DSG' })
    expect(found.pages[pages.deferred[0].slice(0, -1)]).toEqual({ path: pages.deferred[0], mode: 'DSG' })
    // Only the engines' own pages (DSG, SSR), as findEnginePageByPath: not SSG ones.
    expect(found.pages[pages.static[0]]).toBeNull()
    expect(found.pages['/no-such-page/']).toBeNull()
  })

  test('a deferred page is rendered on its first visit (MISS), then served as a HIT without rendering', async () => {
    const [pagePath, title] = pages.deferred
    const first = await rendersDuring(() => server.get(pagePath))
    expect(first.result.status).toBe(200)
    expect(first.result.headers['x-dsg-cache']).toBe('MISS')
    expect(first.result.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(first.result.body).toContain(`<h1>${title}</h1>`)
    if (pages.staticQuery) expect(first.result.body).toContain(pages.staticQuery)
    expect(first.renders).toBe(1)

    const second = await rendersDuring(() => server.get(pagePath))
    expect(second.result.status).toBe(200)
    expect(second.result.headers['x-dsg-cache']).toBe('HIT')
    expect(second.result.body).toBe(first.result.body)
    expect(second.renders).toBe(0)
  })

  test('a deferred page asked first as page-data, then as HTML, is rendered once', async () => {
    const [pagePath, title] = pages.pageDataFirst
    const pageData = await rendersDuring(() => server.get(`/page-data${pagePath}page-data.json`))
    expect(pageData.result.status).toBe(200)
    expect(pageData.result.headers['x-dsg-cache']).toBe('MISS')
    expect(pageData.result.headers['content-type']).toBe('application/json; charset=utf-8')
    const json = JSON.parse(pageData.result.body)
    expect(json.path).toBe(pagePath)
    expect(json.result.data.blogPost.title).toBe(title)
    expect(pageData.renders).toBe(1)

    await idle(server)
    const html = await rendersDuring(() => server.get(pagePath))
    expect(html.result.status).toBe(200)
    expect(html.result.headers['x-dsg-cache']).toBe('HIT')
    expect(html.result.body).toContain(`<h1>${title}</h1>`)
    expect(html.renders).toBe(0)
  })

  test('a page generated before a restart is a HIT from the cache directory after it', async () => {
    const [pagePath, title] = pages.restart
    const first = await server.get(pagePath)
    expect(first.headers['x-dsg-cache']).toBe('MISS')
    await idle(server)
    await server.close()
    server = await startServer({ root: site.root, cacheDir, renderWorkers: 1 })

    const after = await rendersDuring(() => server.get(pagePath))
    expect(after.result.status).toBe(200)
    expect(after.result.headers['x-dsg-cache']).toBe('HIT')
    expect(after.result.body).toBe(first.body)
    expect(after.result.body).toContain(`<h1>${title}</h1>`)
    expect(after.renders).toBe(0)
  })

  test("an unknown path is a 404 with the site's 404 page, and renders nothing", async () => {
    const { result, renders } = await rendersDuring(() => server.get('/no-such-page/'))
    expect(result.status).toBe(404)
    expect(result.body).toContain(pages.notFound)
    expect(renders).toBe(0)
  })

  test('a deferred page whose template throws is a 500, logged, and not cached', async () => {
    const first = await rendersDuring(() => server.get('/broken/'))
    expect(first.result.status).toBe(500)
    expect(first.result.headers['x-dsg-cache']).toBe('MISS')
    expect(first.renders).toBe(1)
    const second = await rendersDuring(() => server.get('/broken/'))
    expect(second.result.status).toBe(500)
    expect(second.renders).toBe(1)
    expect(server.stderr()).toContain('/broken/')
    expect(server.stderr()).toMatch(/boom from (the fixture's )?broken template/)
  })

  test("the plugin's defer glob defers matching pages and its exclude glob keeps one static", () => {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(site.root, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'),
    )
    const deferred = manifest.pages.map((p) => p.path)
    for (const guide of pages.globAll) expect(deferred).toContain(guide)
    expect(deferred).not.toContain(pages.excluded[0])
    expect(deferred).not.toContain(pages.static[0])
    expect(deferred).toContain(pages.fsRoute[0])
    expect(deferred).toContain('/broken/')
    // What Gatsby left in public/: nothing for deferred pages, the SSG ones built.
    const built = (p) => fs.existsSync(path.join(site.root, 'public', p, 'index.html'))
    expect(built(pages.glob[0])).toBe(false)
    expect(built(pages.excluded[0])).toBe(true)
  })

  test("the plugin's options are checked by this version's own option validation, naming a bad glob", async () => {
    const { testPluginOptionsSchema } = require(require.resolve('gatsby-plugin-utils', { paths: [site.root] }))
    const { pluginOptionsSchema } = require('../gatsby-plugin/gatsby-node')
    const good = await testPluginOptionsSchema(pluginOptionsSchema, {
      defer: ['/guides/**'],
      exclude: ['/guides/keep-static/'],
    })
    expect(good.errors).toEqual([])
    expect(good.isValid).toBe(true)
    const bad = await testPluginOptionsSchema(pluginOptionsSchema, { defer: ['/ok/**', '/blog/['] })
    expect(bad.isValid).toBe(false)
    expect(bad.errors).toEqual([expect.stringContaining('"defer[1]"')])
    expect(bad.errors[0]).toContain('/blog/[')
  })

  test('pages deferred by the glob and by a File System Route config() render on first visit', async () => {
    for (const [pagePath, title] of [pages.glob, pages.fsRoute]) {
      const { result, renders } = await rendersDuring(() => server.get(pagePath))
      expect(result.status).toBe(200)
      expect(result.headers['x-dsg-cache']).toBe('MISS')
      expect(result.body).toContain(`<h1>${title}</h1>`)
      expect(renders).toBe(1)
    }
    const excluded = await rendersDuring(() => server.get(pages.excluded[0]))
    expect(excluded.result.status).toBe(200)
    expect(excluded.result.headers['x-dsg-cache']).toBeUndefined()
    expect(excluded.result.body).toContain(pages.excluded[1])
    expect(excluded.renders).toBe(0)
  })

  const slashless =
    site.trailingSlash === 'legacy'
      ? 'is served as is (Gatsby 4\'s "legacy")'
      : 'redirects to the slash (Gatsby 5\'s "always")'
  test(`a deferred page asked without its trailing slash ${slashless}, as gatsby serve does`, async () => {
    const [pagePath, title] = pages.deferred
    const res = await server.get(pagePath.slice(0, -1))
    if (site.trailingSlash === 'legacy') {
      expect(res.status).toBe(200)
      expect(res.body).toContain(`<h1>${title}</h1>`)
    } else {
      expect(res.status).toBe(301)
      expect(res.headers.location).toBe(pagePath)
    }
  })
})

describe("getData's serverDataHeaders", () => {
  const { serverDataHeaders } = require('../lib/gatsby-versions')
  const defaults = { 'cache-control': 'public, max-age=0, must-revalidate', 'x-frame-options': 'DENY' }
  const config = { 'x-section': 'ssr' }
  const fromGetServerData = { 'cache-control': 'public, max-age=60', 'x-own': '1' }

  test('laid over the defaults and config headers, give the same response headers before and from Gatsby 5.12', () => {
    // Before 5.12: getServerData's headers only. From 5.12: defaults, config, then getServerData's.
    const before = serverDataHeaders({ serverDataHeaders: fromGetServerData })
    const from512 = serverDataHeaders({ serverDataHeaders: { ...defaults, ...config, ...fromGetServerData } })
    expect({ ...defaults, ...config, ...before }).toEqual({ ...defaults, ...config, ...from512 })
    expect({ ...defaults, ...config, ...before }).toEqual({
      'cache-control': 'public, max-age=60',
      'x-frame-options': 'DENY',
      'x-section': 'ssr',
      'x-own': '1',
    })
  })

  test('are empty for a page without getServerData headers (Gatsby 4.25 gives undefined)', () => {
    expect(serverDataHeaders({ serverDataHeaders: undefined })).toEqual({})
    expect(serverDataHeaders({})).toEqual({})
  })
})
