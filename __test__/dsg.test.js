'use strict'
// End to end on the example site built by real Gatsby: gatsby-dsg's Rust engine serving it, with
// Gatsby's own query and SSR engines rendering each deferred page once.

const fs = require('fs')
const path = require('path')
const { startServer, tempDir, rendersDuring: countRenders, EXAMPLE } = require('./support/site')
const { waitFor } = require('../scripts/support/wait')

const PUBLIC = path.join(EXAMPLE, 'public')
const KOREAN_ENCODED = '/blog/' + encodeURIComponent('안녕하세요') + '/'

let server
let cacheDir

beforeAll(async () => {
  cacheDir = tempDir()
  server = await startServer({ cacheDir })
})

afterAll(async () => {
  if (server) await server.close()
})

/** Renders done by the server while `action` ran. */
const rendersDuring = (action) => countRenders(server, action)

function expectGatsbyHeaders(res, contentType) {
  expect(res.headers['content-type']).toBe(contentType)
  expect(res.headers['cache-control']).toBe('public, max-age=0, must-revalidate')
  expect(res.headers['x-xss-protection']).toBe('1; mode=block')
  expect(res.headers['x-content-type-options']).toBe('nosniff')
  expect(res.headers['referrer-policy']).toBe('same-origin')
  expect(res.headers['x-frame-options']).toBe('DENY')
}

describe('a deferred page', () => {
  test('is rendered on the first direct visit with its own content, then served as a HIT', async () => {
    const first = await rendersDuring(() => server.get('/blog/post-00002/'))
    expect(first.result.status).toBe(200)
    expect(first.result.headers['x-dsg-cache']).toBe('MISS')
    expect(first.result.body).toContain('<h1>Blog post 2</h1>')
    expect(first.result.body).toContain('slug: post-00002')
    expectGatsbyHeaders(first.result, 'text/html; charset=utf-8')
    expect(first.renders).toBe(1)

    const second = await rendersDuring(() => server.get('/blog/post-00002/'))
    expect(second.result.status).toBe(200)
    expect(second.result.headers['x-dsg-cache']).toBe('HIT')
    expect(second.result.body).toBe(first.result.body)
    expect(second.renders).toBe(0)
  })

  test('asked first as page-data is answered, and its HTML is then a HIT with no second render', async () => {
    const pageData = await rendersDuring(() => server.get('/page-data/blog/post-00004/page-data.json'))
    expect(pageData.result.status).toBe(200)
    expect(pageData.result.headers['x-dsg-cache']).toBe('MISS')
    expectGatsbyHeaders(pageData.result, 'application/json; charset=utf-8')
    const json = JSON.parse(pageData.result.body)
    expect(json.path).toBe('/blog/post-00004/')
    expect(json.result.data.blogPost.title).toBe('Blog post 4')
    expect(pageData.renders).toBe(1)

    // The HTML was rendered in the background from the same data; wait until it is stored.
    await waitFor(async () => (await server.stats()).rendersInFlight === 0, { attempts: 200 })
    const html = await rendersDuring(() => server.get('/blog/post-00004/'))
    expect(html.result.status).toBe(200)
    expect(html.result.headers['x-dsg-cache']).toBe('HIT')
    expect(html.result.body).toContain('<h1>Blog post 4</h1>')
    expect(html.renders).toBe(0)

    const again = await server.get('/page-data/blog/post-00004/page-data.json')
    expect(again.headers['x-dsg-cache']).toBe('HIT')
    expect(again.body).toBe(pageData.result.body)
  })

  test('50 concurrent first requests share exactly one render and get identical bodies', async () => {
    const { result, renders } = await rendersDuring(() =>
      Promise.all(Array.from({ length: 50 }, () => server.get('/blog/post-00006/'))),
    )
    expect(renders).toBe(1)
    expect(result.every((r) => r.status === 200)).toBe(true)
    expect(new Set(result.map((r) => r.body)).size).toBe(1)
    expect(result[0].body).toContain('<h1>Blog post 6</h1>')
  })

  test('HEAD gets the headers of GET and no body, and other methods get 405 without rendering', async () => {
    const head = await rendersDuring(() => server.get('/blog/post-00008/', { method: 'HEAD' }))
    expect(head.result.status).toBe(200)
    expect(head.result.body).toBe('')
    expect(Number(head.result.headers['content-length'])).toBeGreaterThan(1000)
    const get = await server.get('/blog/post-00008/')
    expect(Number(head.result.headers['content-length'])).toBe(Buffer.byteLength(get.body))

    const post = await rendersDuring(() => server.get('/blog/post-00010/', { method: 'POST' }))
    expect(post.result.status).toBe(405)
    expect(post.result.headers.allow).toBe('GET, HEAD, OPTIONS')
    expect(post.renders).toBe(0)
  })

  test('the query string and slash variants are the same page', async () => {
    const { result, renders } = await rendersDuring(async () => [
      await server.get('/blog/post-00012/?utm_source=test'),
      await server.get('/blog/post-00012/'),
      await server.get('/blog/post-00012//?x=1'),
    ])
    expect(renders).toBe(1)
    expect(result.map((r) => r.status)).toEqual([200, 200, 200])
    expect(result.map((r) => r.headers['x-dsg-cache'])).toEqual(['MISS', 'HIT', 'HIT'])
    expect(new Set(result.map((r) => r.body)).size).toBe(1)
  })

  test("asked without its trailing slash redirects as the site's trailingSlash: always says, without rendering", async () => {
    const { result, renders } = await rendersDuring(() => server.get('/blog/post-00016?x=1'))
    expect(result.status).toBe(301)
    expect(result.headers.location).toBe('/blog/post-00016/?x=1')
    expect(renders).toBe(0)
  })

  test('with a percent-encoded non-ASCII path is found and rendered', async () => {
    const res = await server.get(KOREAN_ENCODED)
    expect(res.status).toBe(200)
    expect(res.body).toContain('안녕하세요 세계 (Korean post)')
    const pageData = await server.get(`/page-data${KOREAN_ENCODED}page-data.json`)
    expect(pageData.status).toBe(200)
    expect(pageData.headers['x-dsg-cache']).toBe('HIT')
  })

  test('with a matchPath answers every path it matches from one artifact', async () => {
    const { result, renders } = await rendersDuring(async () => [
      await server.get('/app/'),
      await server.get('/app/some/client/route/'),
    ])
    expect(result.map((r) => r.status)).toEqual([200, 200])
    expect(result[0].body).toContain('<h1>App shell</h1>')
    expect(result[1].body).toBe(result[0].body)
    expect(renders).toBe(1)
  })
})

describe('pages deferred by each mechanism', () => {
  const cases = [
    ['createPage defer: true', '/blog/post-00014/', '<h1>Blog post 14</h1>'],
    ['a File System Route config()', '/products/product-03/', '<h1>Product 3</h1>'],
    ["the plugin's defer glob", '/guides/guide-05/', '<h1>Guide 5</h1>'],
  ]
  test.each(cases)('by %s: absent from public/ after the build, served after', async (_, pagePath, heading) => {
    expect(fs.existsSync(path.join(PUBLIC, pagePath, 'index.html'))).toBe(false)
    expect(fs.existsSync(path.join(PUBLIC, 'page-data', pagePath, 'page-data.json'))).toBe(false)
    const res = await server.get(pagePath)
    expect(res.status).toBe(200)
    expect(res.headers['x-dsg-cache']).toBe('MISS')
    expect(res.body).toContain(heading)
  })

  test("a page matching the plugin's exclude glob is built statically and served from public/", async () => {
    expect(fs.existsSync(path.join(PUBLIC, 'guides/keep-static/index.html'))).toBe(true)
    const res = await rendersDuring(() => server.get('/guides/keep-static/'))
    expect(res.result.status).toBe(200)
    expect(res.result.headers['x-dsg-cache']).toBeUndefined()
    expect(res.result.body).toContain('<h1>Guide kept static</h1>')
    expect(res.renders).toBe(0)
  })
})

describe('static files and unknown paths', () => {
  test('an SSG page and its page-data come from public/ without rendering', async () => {
    const { result, renders } = await rendersDuring(async () => [
      await server.get('/blog/post-00001/'),
      await server.get('/page-data/blog/post-00001/page-data.json'),
    ])
    expect(result.map((r) => r.status)).toEqual([200, 200])
    expect(result[0].body).toContain('<h1>Blog post 1</h1>')
    expect(result[0].headers['cache-control']).toBe('public, max-age=0, must-revalidate')
    expect(renders).toBe(0)
  })

  test('a directory asked without its trailing slash redirects with 301', async () => {
    const res = await server.get('/about?x=1')
    expect(res.status).toBe(301)
    expect(res.headers.location).toBe('/about/?x=1')
  })

  test('an unknown path is a 404 with the site 404 page and never renders', async () => {
    const { result, renders } = await rendersDuring(async () => [
      await server.get('/no/such/page/'),
      await server.get('/page-data/no/such/page/page-data.json'),
      await server.get('/blog/post-99999/'),
    ])
    expect(result.map((r) => r.status)).toEqual([404, 404, 404])
    expect(result[0].body).toContain('Page not found — gatsby-dsg example')
    expect(renders).toBe(0)
  })

  test('a path escaping the site root is a 400', async () => {
    const res = await server.get('/%2e%2e/%2e%2e/etc/passwd')
    expect(res.status).toBe(400)
  })
})

describe('a page whose template throws', () => {
  test('is a 500, is not cached, and the next request renders again', async () => {
    const first = await rendersDuring(() => server.get('/broken/'))
    expect(first.result.status).toBe(500)
    expect(first.result.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(first.result.body).toContain('Something went wrong — gatsby-dsg example')
    expect(first.renders).toBe(1)
    const second = await rendersDuring(() => server.get('/broken/'))
    expect(second.result.status).toBe(500)
    expect(second.renders).toBe(1)
    expect(server.stderr()).toContain('boom from broken template')
    expect(server.stderr()).toContain('/broken/')
  })

  test('a direct visit that failed still stored its page-data (rendered HTML first, it hands the page-data over with the failure): a navigation to it renders nothing', async () => {
    const res = await rendersDuring(() => server.get('/page-data/broken/page-data.json'))
    expect([res.result.status, res.result.headers['x-dsg-cache'], res.renders]).toEqual([200, 'HIT', 0])
    expect(JSON.parse(res.result.body).path).toBe('/broken/')
  })

  test('still has its page-data served and stored', async () => {
    const res = await server.get('/page-data/broken/page-data.json')
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body).path).toBe('/broken/')
    const again = await rendersDuring(() => server.get('/page-data/broken/page-data.json'))
    expect(again.result.headers['x-dsg-cache']).toBe('HIT')
    expect(again.renders).toBe(0)
  })
})

describe('the disk cache', () => {
  test('after a restart serves stored pages as HITs with zero renders', async () => {
    const dir = tempDir()
    const first = await startServer({ cacheDir: dir })
    const rendered = await first.get('/blog/post-00020/')
    const renderedData = await first.get('/page-data/blog/post-00020/page-data.json')
    await waitFor(async () => (await first.stats()).rendersInFlight === 0, { attempts: 200 })
    await first.close()

    const second = await startServer({ cacheDir: dir })
    try {
      expect(second.summary.generatedPages).toBe(1)
      const html = await second.get('/blog/post-00020/')
      const data = await second.get('/page-data/blog/post-00020/page-data.json')
      expect(html.headers['x-dsg-cache']).toBe('HIT')
      expect(data.headers['x-dsg-cache']).toBe('HIT')
      expect(html.body).toBe(rendered.body)
      expect(data.body).toBe(renderedData.body)
      expect((await second.stats()).renders).toBe(0)
    } finally {
      await second.close()
    }
  })
})

describe('the process', () => {
  test('exits by itself after close()', async () => {
    const s = await startServer({ cacheDir: tempDir() })
    await s.get('/blog/post-00026/')
    const { code, signal } = await s.close()
    expect(signal).toBeNull()
    expect(code).toBe(0)
  })
})
