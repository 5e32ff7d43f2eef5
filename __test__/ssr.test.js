'use strict'
// SSR pages (getServerData) of the example site built by real Gatsby, served as `gatsby serve`
// serves them, rendered by Gatsby's engine on the render workers; and the shared cache for the
// responses that allow one (s-maxage).

const fs = require('fs')
const path = require('path')
const { startServer, tempDir, EXAMPLE } = require('./support/site')
const { request } = require('./support/http')
const { launchChromium, newContextWithoutPrefetch, watch } = require('./support/browser')

jest.setTimeout(180_000)

let server
let cacheDir

beforeAll(async () => {
  cacheDir = tempDir('gatsby-dsg-ssr-')
  server = await startServer({ cacheDir, renderWorkers: 2 })
})

afterAll(async () => {
  if (server) await server.close()
  if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true })
})

const unescape = (html) =>
  html
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/&#x27;/g, "'")
const text = (html, cls) => {
  const match = unescape(html).match(new RegExp(`<p class="${cls}">([^<]*)</p>`))
  return match && match[1]
}

async function ssrRendersDuring(action) {
  const before = (await server.stats()).ssrRenders
  const result = await action()
  return { result, renders: (await server.stats()).ssrRenders - before }
}

test('the start-up summary counts the SSR pages', () => {
  expect(server.summary.ssrPages).toBe(6)
})

test('an SSR page is rendered for every request with what the request carried: method, url, query and headers', async () => {
  const first = await ssrRendersDuring(() =>
    server.get('/ssr/?a=1&b=two', { headers: { 'x-example-header': 'hello' } }),
  )
  expect(first.result.status).toBe(200)
  expect(first.result.headers['content-type']).toBe('text/html; charset=utf-8')
  expect(first.result.headers['cache-control']).toBe('public, max-age=0, must-revalidate')
  expect(first.result.headers['x-frame-options']).toBe('DENY')
  expect(first.result.headers['x-dsg-cache']).toBeUndefined()
  expect(text(first.result.body, 'method')).toBe('method: GET')
  expect(text(first.result.body, 'url')).toBe('url: /ssr/?a=1&b=two')
  expect(text(first.result.body, 'query')).toBe('query: {"a":"1","b":"two"}')
  expect(text(first.result.body, 'header')).toBe('x-example-header: hello')
  expect(text(first.result.body, 'site')).toBe('site: gatsby-dsg example') // the page query ran
  expect(first.renders).toBe(1)

  const second = await ssrRendersDuring(() => server.get('/ssr/?a=1&b=two'))
  expect(second.renders).toBe(1)
  expect(text(second.result.body, 'header')).toBe('x-example-header: (none)')
})

test('a POST is rendered with its method, and HEAD gets the headers without a body', async () => {
  const post = await server.get('/ssr/', { method: 'POST' })
  expect(post.status).toBe(200)
  expect(text(post.body, 'method')).toBe('method: POST')
  const head = await server.get('/ssr/', { method: 'HEAD' })
  expect(head.status).toBe(200)
  expect(head.body).toBe('')
})

test('its page-data is rendered for the URL with its query string, as the browser asks for it', async () => {
  const res = await server.get('/page-data/ssr/page-data.json?a=1&b=x%20y')
  expect(res.status).toBe(200)
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
  const json = JSON.parse(res.body)
  expect(json.path).toBe('/ssr/?a=1&b=x%20y')
  expect(json.result.serverData.query).toEqual({ a: '1', b: 'x y' })
  expect(json.result.serverData.method).toBe('GET')
})

test("getServerData's status and headers are applied over Gatsby's defaults", async () => {
  const res = await server.get('/ssr/custom/')
  expect(res.status).toBe(202)
  expect(res.headers['x-ssr-custom']).toBe('yes')
  expect(res.headers['cache-control']).toBe('private, max-age=10')
  expect(res.headers['x-content-type-options']).toBe('nosniff')
  expect(res.body).toContain('Accepted for processing')
  const pageData = await server.get('/page-data/ssr/custom/page-data.json')
  expect(pageData.status).toBe(202)
  expect(pageData.headers['x-ssr-custom']).toBe('yes')
})

test('a getServerData that throws is a 500 with public/500.html (its page-data a plain 500), and the server stays up', async () => {
  const page = await server.get('/ssr/throws/')
  expect(page.status).toBe(500)
  expect(page.body).toBe(fs.readFileSync(path.join(EXAMPLE, 'public', '500.html'), 'utf8'))
  const pageData = await server.get('/page-data/ssr/throws/page-data.json')
  expect(pageData.status).toBe(500)
  expect(pageData.body).toContain('Internal server error.')
  expect((await server.get('/ssr/')).status).toBe(200)
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(server.stderr()).toContain('getServerData of /ssr/throws/ failed on purpose')
})

test('SSR pages with a matchPath answer their URLs ([param] and [...]) and the page-data of those URLs', async () => {
  const param = await server.get('/ssr/first/?x=1')
  expect(param.status).toBe(200)
  expect(param.body).toContain('SSR param first')
  expect(text(param.body, 'query')).toBe('query: {"x":"1"}')
  const pageData = JSON.parse((await server.get('/page-data/ssr/second/page-data.json')).body)
  expect(pageData.result.serverData.param).toBe('second')
  const splat = await server.get('/ssr-docs/a/b/c/')
  expect(splat.status).toBe(200)
  expect(splat.body).toContain('SSR docs a/b/c')
  // The static SSR page wins over the pattern.
  expect((await server.get('/ssr/custom/')).status).toBe(202)
})

test("an SSR page's URL without its trailing slash is redirected as Gatsby's trailingSlash says", async () => {
  const res = await server.get('/ssr/custom?a=1')
  expect(res.status).toBe(301)
  expect(res.headers.location).toBe('/ssr/custom/?a=1')
  expect(res.headers['cache-control']).toBe('public, max-age=0, must-revalidate')
})

describe('the shared cache', () => {
  test('keeps a response that allows shared caching (s-maxage), keyed by path and query, and marks it', async () => {
    const first = await server.get('/ssr/cached/?k=1')
    expect(first.status).toBe(200)
    expect(first.headers['cache-control']).toBe('public, s-maxage=60, stale-while-revalidate=30')
    expect(first.headers['x-dsg-cache']).toBe('MISS')
    const hit = await ssrRendersDuring(() => server.get('/ssr/cached/?k=1'))
    expect(hit.renders).toBe(0)
    expect(hit.result.headers['x-dsg-cache']).toBe('HIT')
    expect(hit.result.headers.age).toMatch(/^\d+$/)
    expect(text(hit.result.body, 'render-id')).toBe(text(first.body, 'render-id'))

    const other = await server.get('/ssr/cached/?k=2')
    expect(other.headers['x-dsg-cache']).toBe('MISS')
    expect(text(other.body, 'render-id')).not.toBe(text(first.body, 'render-id'))

    const gzip = await request(server.base, '/ssr/cached/?k=1', { headers: { 'accept-encoding': 'gzip' } })
    expect(gzip.headers['x-dsg-cache']).toBe('HIT')
    const revalidated = await request(server.base, '/ssr/cached/?k=1', {
      headers: { 'if-none-match': hit.result.headers.etag },
    })
    expect(revalidated.status).toBe(304)
  })

  test('keeps one variant per value of the request headers Vary names', async () => {
    const en = await server.get('/ssr/cached/?vary=1', { headers: { 'accept-language': 'en' } })
    const de = await server.get('/ssr/cached/?vary=1', { headers: { 'accept-language': 'de' } })
    expect(text(en.body, 'language')).toBe('language: en')
    expect(text(de.body, 'language')).toBe('language: de')
    expect(en.headers.vary).toMatch(/Accept-Language/)
    const en2 = await server.get('/ssr/cached/?vary=1', { headers: { 'accept-language': 'en' } })
    const de2 = await server.get('/ssr/cached/?vary=1', { headers: { 'accept-language': 'de' } })
    expect([en2.headers['x-dsg-cache'], de2.headers['x-dsg-cache']]).toEqual(['HIT', 'HIT'])
    expect(text(en2.body, 'language')).toBe('language: en')
    expect(text(de2.body, 'language')).toBe('language: de')
  })

  test('never keeps a private, no-store or Set-Cookie response, nor a render for a POST', async () => {
    for (const query of ['private=1', 'nostore=1', 'cookie=1']) {
      const { renders, result } = await ssrRendersDuring(async () => [
        await server.get(`/ssr/cached/?${query}`),
        await server.get(`/ssr/cached/?${query}`),
      ])
      expect(renders).toBe(2)
      expect(result.map((r) => r.headers['x-dsg-cache'])).toEqual([undefined, undefined])
      expect(text(result[0].body, 'render-id')).not.toBe(text(result[1].body, 'render-id'))
    }
    const cookie = await server.get('/ssr/cached/?cookie=1')
    expect(cookie.headers['set-cookie']).toEqual(['session=abc; Path=/; HttpOnly'])
    const post = await ssrRendersDuring(() => server.get('/ssr/cached/?k=1', { method: 'POST' }))
    expect(post.renders).toBe(1)
    expect(post.result.headers['x-dsg-cache']).toBeUndefined()
  })

  test('refreshes an expired response with one render for concurrent requests', async () => {
    await server.get('/ssr/cached/?maxage=1')
    await new Promise((resolve) => setTimeout(resolve, 1100)) // s-maxage=1 passes (stale-while-revalidate: 30)
    const { renders, result } = await ssrRendersDuring(() =>
      Promise.all(Array.from({ length: 10 }, () => server.get('/ssr/cached/?maxage=1'))),
    )
    // Served stale while the one refresh runs; once it is stored, a HIT.
    const outcomes = result.map((r) => r.headers['x-dsg-cache'])
    expect(outcomes.filter((o) => o !== 'STALE' && o !== 'HIT')).toEqual([])
    expect(outcomes).toContain('STALE')
    expect(renders).toBe(1)
  })
})

test('a real browser navigates client-side from one SSR page to another, fetching its page-data', async () => {
  const browser = await launchChromium()
  try {
    const context = await newContextWithoutPrefetch(browser)
    const page = await context.newPage()
    const seen = watch(page)
    await page.goto(`${server.base}/ssr/?from=browser`, { waitUntil: 'networkidle' })
    expect(await page.locator('p.query').textContent()).toBe('query: {"from":"browser"}')
    await page.evaluate(() => {
      window.__sameDocument = true
    })
    await page.click('a[href="/ssr/first/"]')
    await page.locator('h1', { hasText: 'SSR param first' }).waitFor()
    expect(await page.evaluate(() => window.__sameDocument)).toBe(true)
    const pageData = seen.responses.find((r) => r.pathname === '/page-data/ssr/first/page-data.json')
    expect(pageData.status).toBe(200)
    expect(seen.errors).toEqual([])
    await context.close()
  } finally {
    await browser.close()
  }
})
