'use strict'
// gatsby-config options that change where and how pages are served, on copies of the example site
// built by real Gatsby with other settings:
//  - `gatsby build --prefix-paths` with trailingSlash "never" (pathPrefix "/site-prefix"), served
//    with and without prefixPaths, as `gatsby serve` with and without --prefix-paths;
//  - trailingSlash "ignore", with gatsby-config `partytownProxiedURLs` listing a loopback server
//    (Partytown's `/__third-party-proxy`).

const fs = require('fs')
const http = require('http')
const path = require('path')
const { startServer, tempDir } = require('./support/site')
const { request } = require('./support/http')
const { idle } = require('../scripts/support/wait')
const { copyExampleSources, gatsbyBuild } = require('./support/example-copy')

const PREFIX = '/site-prefix'
const BUILD_TIMEOUT = 300_000
const sites = []

afterAll(() => {
  for (const site of sites) fs.rmSync(site, { recursive: true, force: true })
})

/** Renders done by `server` while `action` ran. */
async function rendersDuring(server, action) {
  const before = (await server.stats()).renders
  const result = await action()
  return { result, renders: (await server.stats()).renders - before }
}

describe('a site built with --prefix-paths and trailingSlash "never"', () => {
  let site
  let server
  let buildOutput
  const get = (p, init) => request(server.base, p, init)

  beforeAll(async () => {
    site = copyExampleSources('gatsby-dsg-prefixed-')
    sites.push(site)
    buildOutput = gatsbyBuild(site, {
      args: ['--prefix-paths'],
      env: { EXAMPLE_PAGES: '10', EXAMPLE_TRAILING_SLASH: 'never' },
    })
    server = await startServer({ root: site, cacheDir: tempDir(), prefixPaths: true })
  }, BUILD_TIMEOUT)

  afterAll(async () => {
    if (server) await server.close()
  })

  test('Gatsby wrote page paths without a trailing slash and links with the prefix', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(site, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'))
    expect(manifest.site).toMatchObject({ pathPrefix: PREFIX, prefixPaths: true, trailingSlash: 'never' })
    expect(manifest.pages.map((p) => p.path)).toContain('/blog/post-00002')
    expect(fs.readFileSync(path.join(site, 'public', 'about', 'index.html'), 'utf8')).toContain(`${PREFIX}/`)
  })

  test('is served under the prefix and nowhere else', async () => {
    expect(server.summary.pathPrefix).toBe(PREFIX)
    const about = await get(`${PREFIX}/about`)
    expect(about.status).toBe(200)
    expect(about.body.toString()).toContain('About')
    expect(about.body.equals(fs.readFileSync(path.join(site, 'public', 'about', 'index.html')))).toBe(true)
    expect((await get(`${PREFIX}/`)).status).toBe(200)
    expect((await get(`${PREFIX}/page-data/app-data.json`)).status).toBe(200)

    const { result, renders } = await rendersDuring(server, async () => [
      await get('/about'),
      await get('/'),
      await get('/page-data/app-data.json'),
      await get('/blog/post-00004'),
      await get(`${PREFIX}about`),
    ])
    expect(result.map((r) => r.status)).toEqual([404, 404, 404, 404, 404])
    expect(renders).toBe(0)
  })

  test('a page asked with a trailing slash redirects to its path without it, under the prefix', async () => {
    for (const [p, location] of [
      [`${PREFIX}/about/`, `${PREFIX}/about`],
      [`${PREFIX}/about/?x=1`, `${PREFIX}/about?x=1`],
      [`${PREFIX}/blog/post-00002/`, `${PREFIX}/blog/post-00002`],
    ]) {
      const res = await get(p)
      expect([p, res.status, res.headers.location]).toEqual([p, 301, location])
    }
  })

  test('a deferred page is rendered once under the prefix, then a HIT, its page-data too', async () => {
    const miss = await get(`${PREFIX}/blog/post-00002`)
    expect(miss.status).toBe(200)
    expect(miss.headers['x-dsg-cache']).toBe('MISS')
    expect(miss.body.toString()).toContain('<h1>Blog post 2</h1>')
    expect(miss.body.toString()).toContain(`${PREFIX}/`)
    const hit = await get(`${PREFIX}/blog/post-00002`)
    expect(hit.headers['x-dsg-cache']).toBe('HIT')
    expect(hit.body.equals(miss.body)).toBe(true)

    const data = await get(`${PREFIX}/page-data/blog/post-00002/page-data.json`)
    expect(data.status).toBe(200)
    expect(data.headers['x-dsg-cache']).toBe('HIT')
    expect(JSON.parse(data.body).path).toBe('/blog/post-00002')
    expect((await get('/page-data/blog/post-00002/page-data.json')).status).toBe(404)

    await idle(server)
    const stored = path.join(server.summary.cacheDir, 'blog', 'post-00002', 'index.html')
    expect(fs.readFileSync(stored).equals(miss.body)).toBe(true)
  })

  test('createRedirect redirects answer under the prefix and point into it', async () => {
    const temporary = await get(`${PREFIX}/go-about`)
    expect(temporary.status).toBe(302)
    expect(temporary.headers.location).toMatch(new RegExp(`^${PREFIX}/about/?$`))
    const permanent = await get(`${PREFIX}/old-blog/`)
    expect(permanent.status).toBe(301)
    expect(permanent.headers.location).toMatch(new RegExp(`^${PREFIX}/blog/post-00002/?$`))
    expect((await get('/go-about')).status).toBe(404)
  })

  test('the headers option, client-only routes and matchPath pages work under the prefix', async () => {
    const post = await get(`${PREFIX}/blog/post-00001`)
    expect(post.status).toBe(200)
    expect(post.headers['x-example-section']).toBe('blog')
    expect((await get(`${PREFIX}/about`)).headers['x-example-section']).toBeUndefined()

    const account = await get(`${PREFIX}/account/settings`)
    expect(account.status).toBe(200)
    expect(account.body.equals(fs.readFileSync(path.join(site, 'public', 'account', '[...]', 'index.html')))).toBe(true)

    const app = await get(`${PREFIX}/app/dashboard`)
    expect(app.status).toBe(200)
    expect(app.body.toString()).toContain('<h1>App shell</h1>')
    expect(app.headers['x-dsg-cache']).toBeDefined()
  })

  test('Gatsby Functions answer under the prefix and at the root, as gatsby serve mounts them', async () => {
    // The plugin's build line and the start-up summary count them.
    expect(buildOutput).toContain('gatsby-dsg: will serve 12 Gatsby Functions under /api/')
    expect(server.summary.functions).toBe(12)
    for (const base of [PREFIX, '']) {
      const res = await get(`${base}/api/users/42?x=1`)
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body.toString())).toEqual({ route: 'users/[id]', params: { id: '42' } })
    }
    const posted = await get(`${PREFIX}/api/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    expect(JSON.parse(posted.body.toString()).body).toEqual({ a: 1 })
    expect((await get(`${PREFIX}/api/nope`)).status).toBe(404)
  })

  test('a client-only route asked with a trailing slash redirects to it without (as gatsby serve does)', async () => {
    const res = await get(`${PREFIX}/account/settings/`)
    expect(res.status).toBe(301)
    expect(res.headers.location).toBe(`${PREFIX}/account/settings`)
  })

  test('its hashed assets are served under the prefix, immutable', async () => {
    const app = fs.readdirSync(path.join(site, 'public')).find((f) => /^app-[0-9a-f]{20}\.js$/.test(f))
    const res = await get(`${PREFIX}/${app}`)
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect((await get(`/${app}`)).status).toBe(404)
  })

  describe('served without prefixPaths', () => {
    let plain
    const getPlain = (p, init) => request(plain.base, p, init)

    beforeAll(async () => {
      plain = await startServer({ root: site, cacheDir: tempDir() })
    })

    afterAll(async () => {
      if (plain) await plain.close()
    })

    test('is served at the root, as gatsby serve does', async () => {
      expect(plain.summary.pathPrefix).toBeUndefined()
      const about = await getPlain('/about')
      expect(about.status).toBe(200)
      expect(about.body.equals(fs.readFileSync(path.join(site, 'public', 'about', 'index.html')))).toBe(true)
      expect((await getPlain(`${PREFIX}/about`)).status).toBe(404)
      const deferred = await getPlain('/blog/post-00004')
      expect(deferred.status).toBe(200)
      expect(deferred.headers['x-dsg-cache']).toBe('MISS')
      expect(deferred.body.toString()).toContain('<h1>Blog post 4</h1>')
    })

    test('trailingSlash "never" and the redirects still apply, without the prefix', async () => {
      const slash = await getPlain('/about/')
      expect(slash.status).toBe(301)
      expect(slash.headers.location).toBe('/about')
      const redirect = await getPlain('/go-about')
      expect(redirect.status).toBe(302)
      expect(redirect.headers.location).toMatch(/^\/about\/?$/)
    })
  })
})

describe('a site built with trailingSlash "ignore"', () => {
  let server
  let thirdParty
  let thirdPartyHits = 0
  let listedURL
  let siteDir
  const get = (p, init) => request(server.base, p, init)

  beforeAll(async () => {
    // The third party of Partytown's proxy: a real HTTP server on loopback, listed before the build.
    thirdParty = http.createServer((req, res) => {
      thirdPartyHits += 1
      res.writeHead(200, { 'content-type': 'text/javascript', 'set-cookie': 'third=party' })
      res.end(`/* third party ${req.url} */`)
    })
    await new Promise((resolve) => thirdParty.listen(0, '127.0.0.1', resolve))
    listedURL = `http://127.0.0.1:${thirdParty.address().port}/tag.js?id=G-1`
    const site = copyExampleSources('gatsby-dsg-ignore-')
    siteDir = site
    sites.push(site)
    gatsbyBuild(site, {
      env: { EXAMPLE_PAGES: '10', EXAMPLE_TRAILING_SLASH: 'ignore', EXAMPLE_PARTYTOWN_URLS: listedURL },
    })
    server = await startServer({ root: site, cacheDir: tempDir() })
  }, BUILD_TIMEOUT)

  afterAll(async () => {
    if (server) await server.close()
    if (thirdParty) await new Promise((resolve) => thirdParty.close(resolve))
  })

  test("Partytown's proxy fetches a listed URL and answers the site's 404 for any other", async () => {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(siteDir, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'),
    )
    expect(manifest.site.partytownProxiedURLs).toEqual([listedURL])
    const proxied = await get(`/__third-party-proxy?url=${encodeURIComponent(listedURL)}`)
    expect(proxied.status).toBe(200)
    expect(proxied.headers['content-type']).toBe('text/javascript')
    expect(proxied.headers['set-cookie']).toBeUndefined()
    expect(proxied.body.toString()).toBe('/* third party /tag.js?id=G-1 */')
    expect(thirdPartyHits).toBe(1)

    const unlisted = await get(`/__third-party-proxy?url=${encodeURIComponent(`${listedURL}&x=1`)}`)
    expect(unlisted.status).toBe(404)
    expect(unlisted.body.toString()).toContain('Page not found')
    expect(thirdPartyHits).toBe(1)
  })

  test('a deferred page is served with and without the trailing slash from one render, never redirected', async () => {
    const { result, renders } = await rendersDuring(server, async () => [
      await get('/blog/post-00002'),
      await get('/blog/post-00002/'),
      await get('/blog/post-00002?x=1'),
    ])
    expect(result.map((r) => r.status)).toEqual([200, 200, 200])
    expect(result.map((r) => r.headers['x-dsg-cache'])).toEqual(['MISS', 'HIT', 'HIT'])
    expect(result[1].body.equals(result[0].body)).toBe(true)
    expect(result[0].body.toString()).toContain('<h1>Blog post 2</h1>')
    expect(renders).toBe(1)
  })

  test('client-only routes of SSG and deferred pages are served with and without the slash', async () => {
    for (const p of ['/account/settings', '/account/settings/', '/app/x', '/app/x/']) {
      const res = await get(p)
      expect([p, res.status]).toEqual([p, 200])
    }
  })

  test('an SSG page is served at its path', async () => {
    const res = await get('/about/')
    expect(res.status).toBe(200)
    expect(res.body.toString()).toContain('About')
  })
})
