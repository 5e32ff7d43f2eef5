'use strict'
// HTTP semantics on the example site built by real Gatsby: validators (ETag, Last-Modified, 304),
// compression (stored brotli/gzip variants, negotiation), Gatsby's caching policy and cdnMaxAge,
// gatsby-config options (headers, redirects, trailingSlash, client-only routes), path handling,
// byte ranges, OPTIONS/CORS.

const fs = require('fs')
const path = require('path')
const zlib = require('zlib')
const { startServer, tempDir, EXAMPLE } = require('./support/site')
const { request, decoded } = require('./support/http')
const { waitFor, idle } = require('../scripts/support/wait')
const { staticCopy, png } = require('./support/example-copy')
const { runCli } = require('./support/cli')
const { killAll } = require('./support/processes')

const PUBLIC = path.join(EXAMPLE, 'public')
const publicFile = (pattern) => {
  const name = fs.readdirSync(PUBLIC).find((f) => pattern.test(f))
  if (!name) throw new Error(`no file in example/public matches ${pattern}`)
  return `/${name}`
}
const FRAMEWORK_JS = publicFile(/^framework-[0-9a-f]{20}\.js$/)
const KOREAN_ENCODED = '/blog/' + encodeURIComponent('안녕하세요') + '/'
const BR = { 'accept-encoding': 'br' }
const GZIP = { 'accept-encoding': 'gzip' }
const STRONG_ETAG = /^"[^"]+"$/

let server
let cacheDir
const get = (p, init) => request(server.base, p, init)

beforeAll(async () => {
  cacheDir = tempDir()
  server = await startServer({ cacheDir })
})

afterAll(async () => {
  await killAll()
  if (server) await server.close()
})

/** Renders done by `target` while `action` ran. */
async function rendersDuring(action, target = server) {
  const before = (await target.stats()).renders
  const result = await action()
  return { result, renders: (await target.stats()).renders - before }
}

/** A generated page rendered and stored with its compressed variants. */
async function stored(pagePath, target = server) {
  const first = await request(target.base, pagePath)
  expect(first.status).toBe(200)
  await idle(target)
  return first
}

describe('validators', () => {
  test('a generated page has a strong ETag; If-None-Match with it is a 304 without body or render', async () => {
    const miss = await get('/blog/post-00040/')
    expect(miss.headers['x-dsg-cache']).toBe('MISS')
    expect(miss.headers.etag).toMatch(STRONG_ETAG)
    await idle(server)
    const hit = await get('/blog/post-00040/')
    expect(hit.headers['x-dsg-cache']).toBe('HIT')
    expect(hit.headers.etag).toBe(miss.headers.etag)

    const { result, renders } = await rendersDuring(() =>
      get('/blog/post-00040/', { headers: { 'if-none-match': miss.headers.etag } }),
    )
    expect(result.status).toBe(304)
    expect(result.body.length).toBe(0)
    expect(result.headers.etag).toBe(miss.headers.etag)
    expect(result.headers.vary).toBe('Accept-Encoding')
    expect(result.headers['cache-control']).toBe('public, max-age=0, must-revalidate')
    expect(renders).toBe(0)

    // Weak comparison, lists and `*`, as If-None-Match requires.
    const weak = await get('/blog/post-00040/', { headers: { 'if-none-match': `"nope", W/${miss.headers.etag}` } })
    expect(weak.status).toBe(304)
    expect((await get('/blog/post-00040/', { headers: { 'if-none-match': '*' } })).status).toBe(304)
    const other = await get('/blog/post-00040/', { headers: { 'if-none-match': '"0123456789abcdef"' } })
    expect(other.status).toBe(200)
    expect(other.body.equals(hit.body)).toBe(true)
  })

  test('a generated page-data has its own strong ETag and answers If-None-Match with 304', async () => {
    const html = await get('/blog/post-00042/')
    const data = await get('/page-data/blog/post-00042/page-data.json')
    expect(data.status).toBe(200)
    expect(data.headers.etag).toMatch(STRONG_ETAG)
    expect(data.headers.etag).not.toBe(html.headers.etag)
    const revalidated = await get('/page-data/blog/post-00042/page-data.json', {
      headers: { 'if-none-match': data.headers.etag },
    })
    expect(revalidated.status).toBe(304)
    expect(revalidated.body.length).toBe(0)
  })

  test('the ETag is derived from the bytes: the same page rendered by two servers gets the same one', async () => {
    const other = await startServer({ cacheDir: tempDir() })
    try {
      const ours = await get('/blog/post-00044/')
      const theirs = await request(other.base, '/blog/post-00044/')
      expect(theirs.headers['x-dsg-cache']).toBe('MISS')
      expect(theirs.body.equals(ours.body)).toBe(true)
      expect(theirs.headers.etag).toBe(ours.headers.etag)
      const another = await get('/blog/post-00046/')
      expect(another.headers.etag).not.toBe(ours.headers.etag)
    } finally {
      await other.close()
    }
  })

  test('ETags of a generated page and its variants survive a restart: same tags, HITs, 304s, no render', async () => {
    const dir = tempDir()
    const first = await startServer({ cacheDir: dir })
    let before
    try {
      await stored('/blog/post-00048/', first)
      before = {
        identity: await request(first.base, '/blog/post-00048/'),
        br: await request(first.base, '/blog/post-00048/', { headers: BR }),
        gzip: await request(first.base, '/blog/post-00048/', { headers: GZIP }),
        data: await request(first.base, '/page-data/blog/post-00048/page-data.json'),
      }
      expect(before.br.headers['content-encoding']).toBe('br')
    } finally {
      await first.close()
    }

    const second = await startServer({ cacheDir: dir })
    try {
      const after = {
        identity: await request(second.base, '/blog/post-00048/'),
        br: await request(second.base, '/blog/post-00048/', { headers: BR }),
        gzip: await request(second.base, '/blog/post-00048/', { headers: GZIP }),
        data: await request(second.base, '/page-data/blog/post-00048/page-data.json'),
      }
      for (const key of Object.keys(before)) {
        expect([key, after[key].headers['x-dsg-cache']]).toEqual([key, 'HIT'])
        expect([key, after[key].headers.etag]).toEqual([key, before[key].headers.etag])
        expect(after[key].body.equals(before[key].body)).toBe(true)
      }
      const revalidated = await request(second.base, '/blog/post-00048/', {
        headers: { ...BR, 'if-none-match': before.br.headers.etag },
      })
      expect(revalidated.status).toBe(304)
      expect((await second.stats()).renders).toBe(0)
    } finally {
      await second.close()
    }
  })

  test('a static file has a strong ETag and Last-Modified; If-None-Match and If-Modified-Since give 304', async () => {
    const res = await get('/about/')
    expect(res.status).toBe(200)
    expect(res.headers.etag).toMatch(STRONG_ETAG)
    const mtime = fs.statSync(path.join(PUBLIC, 'about', 'index.html')).mtime
    expect(res.headers['last-modified']).toBe(new Date(Math.floor(mtime.getTime() / 1000) * 1000).toUTCString())

    const byTag = await get('/about/', { headers: { 'if-none-match': res.headers.etag } })
    expect(byTag.status).toBe(304)
    expect(byTag.body.length).toBe(0)
    const byDate = await get('/about/', { headers: { 'if-modified-since': res.headers['last-modified'] } })
    expect(byDate.status).toBe(304)
    const older = new Date(mtime.getTime() - 3600_000).toUTCString()
    const modified = await get('/about/', { headers: { 'if-modified-since': older } })
    expect(modified.status).toBe(200)
    expect(modified.body.equals(res.body)).toBe(true)
    // If-None-Match wins over If-Modified-Since.
    const mismatch = await get('/about/', {
      headers: { 'if-none-match': '"other"', 'if-modified-since': res.headers['last-modified'] },
    })
    expect(mismatch.status).toBe(200)
  })
})

describe('compression', () => {
  test('a generated page is served in brotli and gzip after it is stored, each decoding to the identity bytes with its own ETag', async () => {
    await stored('/blog/post-00050/')
    const identity = await get('/blog/post-00050/')
    const br = await get('/blog/post-00050/', { headers: BR })
    const gzip = await get('/blog/post-00050/', { headers: GZIP })
    expect(br.headers['x-dsg-cache']).toBe('HIT')
    expect(identity.headers['content-encoding']).toBeUndefined()
    expect(br.headers['content-encoding']).toBe('br')
    expect(gzip.headers['content-encoding']).toBe('gzip')
    expect(decoded(br).equals(identity.body)).toBe(true)
    expect(decoded(gzip).equals(identity.body)).toBe(true)
    expect(br.body.length).toBeLessThan(identity.body.length)
    expect(Number(br.headers['content-length'])).toBe(br.body.length)
    for (const res of [identity, br, gzip]) expect(res.headers.vary).toBe('Accept-Encoding')
    expect(new Set([identity.headers.etag, br.headers.etag, gzip.headers.etag]).size).toBe(3)
    for (const res of [br, gzip]) expect(res.headers.etag).toMatch(STRONG_ETAG)

    // A representation's ETag validates that representation only.
    const sameRepresentation = await get('/blog/post-00050/', { headers: { ...BR, 'if-none-match': br.headers.etag } })
    expect(sameRepresentation.status).toBe(304)
    expect(sameRepresentation.headers.etag).toBe(br.headers.etag)
    const otherRepresentation = await get('/blog/post-00050/', {
      headers: { ...BR, 'if-none-match': identity.headers.etag },
    })
    expect(otherRepresentation.status).toBe(200)
    expect(otherRepresentation.headers['content-encoding']).toBe('br')
  })

  test('a generated page-data is served compressed too', async () => {
    await stored('/page-data/blog/post-00052/page-data.json')
    const identity = await get('/page-data/blog/post-00052/page-data.json')
    const br = await get('/page-data/blog/post-00052/page-data.json', { headers: BR })
    const gzip = await get('/page-data/blog/post-00052/page-data.json', { headers: GZIP })
    expect(br.headers['content-encoding']).toBe('br')
    expect(gzip.headers['content-encoding']).toBe('gzip')
    expect(JSON.parse(decoded(br)).path).toBe('/blog/post-00052/')
    expect(decoded(gzip).equals(identity.body)).toBe(true)
    expect(br.headers['content-type']).toBe('application/json; charset=utf-8')
  })

  test('the variants are kept on disk beside each artifact, and those are the bytes served', async () => {
    await stored('/blog/post-00054/')
    const dir = server.summary.cacheDir
    const html = path.join(dir, 'blog', 'post-00054', 'index.html')
    const data = path.join(dir, 'page-data', 'blog', 'post-00054', 'page-data.json')
    for (const file of [html, data]) {
      const identity = fs.readFileSync(file)
      expect(zlib.brotliDecompressSync(fs.readFileSync(`${file}.br`)).equals(identity)).toBe(true)
      expect(zlib.gunzipSync(fs.readFileSync(`${file}.gz`)).equals(identity)).toBe(true)
    }
    const br = await get('/blog/post-00054/', { headers: BR })
    expect(br.body.equals(fs.readFileSync(`${html}.br`))).toBe(true)
    const gzip = await get('/page-data/blog/post-00054/page-data.json', { headers: GZIP })
    expect(gzip.body.equals(fs.readFileSync(`${data}.gz`))).toBe(true)
  })

  test('pages rendered while renders wait are stored uncompressed, and compressed once asked for again', async () => {
    const busy = await startServer({ cacheDir: tempDir() })
    try {
      // 20 first requests at once for 8 render slots: the renders that end while others wait
      // store their page as it is (the CPU goes to the renders).
      const pages = Array.from({ length: 20 }, (_, i) => `/blog/post-${String(80 + 2 * i).padStart(5, '0')}/`)
      const first = await Promise.all(pages.map((p) => request(busy.base, p, { headers: BR })))
      for (const res of first) expect(res.headers['x-dsg-cache']).toBe('MISS')
      await idle(busy)
      const html = (p) => path.join(busy.summary.cacheDir, ...p.split('/').filter(Boolean), 'index.html')
      const plain = pages.filter((p) => fs.existsSync(html(p)) && !fs.existsSync(`${html(p)}.br`))
      expect(plain.length).toBeGreaterThan(0)

      // Asked for again once nothing renders: served as it is, compressed meanwhile, no render.
      const page = plain[0]
      const { result: hit, renders } = await rendersDuring(() => request(busy.base, page, { headers: BR }), busy)
      expect(hit.headers['x-dsg-cache']).toBe('HIT')
      expect(hit.headers['content-encoding']).toBeUndefined()
      await waitFor(() => fs.existsSync(`${html(page)}.br`) && fs.existsSync(`${html(page)}.gz`), {
        what: `${page} compressed on disk`,
      })
      await idle(busy)
      const identity = fs.readFileSync(html(page))
      expect(zlib.brotliDecompressSync(fs.readFileSync(`${html(page)}.br`)).equals(identity)).toBe(true)
      const br = await request(busy.base, page, { headers: BR })
      expect(br.headers['content-encoding']).toBe('br')
      expect(decoded(br).equals(identity)).toBe(true)
      expect(renders).toBe(0)
    } finally {
      await busy.close()
    }
  })

  test("the server's own threads run in SCHED_BATCH, so that, woken, they never preempt a render thread, the store threads in SCHED_IDLE, preempted by any other; the JS threads keep the default policy", async () => {
    await stored('/blog/post-00058/')
    // /proc/<pid>/task/<tid>/stat: the name in parentheses, then fields 3…; field 41 is the policy.
    const threads = fs.readdirSync(`/proc/${server.pid}/task`).map((tid) => {
      const stat = fs.readFileSync(`/proc/${server.pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      return { tid: Number(tid), name, policy: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]) }
    })
    const SCHED_OTHER = 0
    const SCHED_BATCH = 3
    const SCHED_IDLE = 5
    const own = threads.filter((t) => t.name === 'tokio-rt-worker' || t.name.startsWith('gatsby-dsg-'))
    expect(own.filter((t) => t.name === 'tokio-rt-worker').length).toBeGreaterThan(0)
    // Thread names are cut at 15 characters: gatsby-dsg-store-N is gatsby-dsg-stor, the store's
    // catch-up thread (gatsby-dsg-catch-up) gatsby-dsg-catc.
    const store = own.filter((t) => t.name === 'gatsby-dsg-stor')
    expect(store.length).toBeGreaterThan(0)
    expect(store.filter((t) => t.policy !== SCHED_IDLE)).toEqual([])
    expect(own.filter((t) => t.name === 'gatsby-dsg-catc').length).toBe(1)
    expect(own.filter((t) => t.name !== 'gatsby-dsg-stor' && t.policy !== SCHED_BATCH)).toEqual([])
    // The main thread (its tid is the pid) runs JS, as the render workers do.
    expect(threads.find((t) => t.tid === server.pid).policy).toBe(SCHED_OTHER)
  })

  test('Accept-Encoding q-values decide the representation', async () => {
    await stored('/blog/post-00056/')
    const encodingFor = async (acceptEncoding) => {
      const headers = acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }
      const res = await get('/blog/post-00056/', { headers })
      expect(res.headers.vary).toBe('Accept-Encoding')
      return res.headers['content-encoding'] || 'identity'
    }
    expect(await encodingFor('gzip, deflate, br')).toBe('br')
    expect(await encodingFor('br;q=0.5, gzip;q=0.8')).toBe('gzip')
    expect(await encodingFor('br;q=0, gzip')).toBe('gzip')
    expect(await encodingFor('gzip;q=0, br;q=0')).toBe('identity')
    expect(await encodingFor('*')).toBe('br')
    expect(await encodingFor('br;q=0, *;q=0.1')).toBe('gzip')
    expect(await encodingFor('identity')).toBe('identity')
    expect(await encodingFor('deflate, zstd')).toBe('identity')
    expect(await encodingFor(undefined)).toBe('identity')
  })

  test('a static text file is served compressed once it has been read, and decodes to the file', async () => {
    const file = fs.readFileSync(path.join(PUBLIC, FRAMEWORK_JS))
    const br = await waitFor(
      async () => {
        const res = await get(FRAMEWORK_JS, { headers: BR })
        expect(res.headers.vary).toBe('Accept-Encoding')
        return res.headers['content-encoding'] === 'br' && res
      },
      { what: `${FRAMEWORK_JS} served with brotli` },
    )
    expect(decoded(br).equals(file)).toBe(true)
    expect(br.body.length).toBeLessThan(file.length / 2)
    const gzip = await get(FRAMEWORK_JS, { headers: GZIP })
    expect(gzip.headers['content-encoding']).toBe('gzip')
    expect(decoded(gzip).equals(file)).toBe(true)
    const identity = await get(FRAMEWORK_JS)
    expect(identity.body.equals(file)).toBe(true)
    expect(new Set([identity.headers.etag, br.headers.etag, gzip.headers.etag]).size).toBe(3)
    const revalidated = await get(FRAMEWORK_JS, { headers: { ...BR, 'if-none-match': br.headers.etag } })
    expect(revalidated.status).toBe(304)
  })

  test('tiny bodies are sent as they are', async () => {
    // A generated page-data of a few hundred bytes: no variant stored, identity served.
    await stored(KOREAN_ENCODED)
    const data = await get(`/page-data${KOREAN_ENCODED}page-data.json`, { headers: BR })
    expect(data.headers['x-dsg-cache']).toBe('HIT')
    expect(data.body.length).toBeLessThan(1024)
    expect(data.headers['content-encoding']).toBeUndefined()
    expect(JSON.parse(data.body).path).toBe('/blog/안녕하세요/')
    const dir = path.join(server.summary.cacheDir, 'page-data', 'blog', '안녕하세요')
    expect(fs.readdirSync(dir)).toContain('page-data.json')
    expect(fs.readdirSync(dir).filter((f) => /\.(br|gz)$/.test(f))).toEqual([])

    // A static file of 50 bytes, asked again after a larger file got its variants.
    await get('/page-data/app-data.json', { headers: BR })
    await waitFor(
      async () => (await get('/page-data/index/page-data.json', { headers: BR })).headers['content-encoding'],
    )
    const appData = await get('/page-data/app-data.json', { headers: BR })
    expect(appData.headers['content-encoding']).toBeUndefined()
    expect(appData.body.equals(fs.readFileSync(path.join(PUBLIC, 'page-data', 'app-data.json')))).toBe(true)
  })
})

describe('caching policy', () => {
  test('HTML, page-data and app-data.json revalidate, generated or not', async () => {
    const paths = [
      '/',
      '/about/',
      '/page-data/about/page-data.json',
      '/page-data/index/page-data.json',
      '/page-data/app-data.json',
      '/blog/post-00058/',
      '/page-data/blog/post-00058/page-data.json',
      '/account/anything/',
    ]
    for (const p of paths) {
      const res = await get(p)
      expect([p, res.status, res.headers['cache-control']]).toEqual([p, 200, 'public, max-age=0, must-revalidate'])
      expect([p, res.headers['cdn-cache-control']]).toEqual([p, undefined])
    }
  })

  test('content-hashed JS is immutable; JS without a content hash revalidates', async () => {
    const hashed = [
      FRAMEWORK_JS,
      publicFile(/^app-[0-9a-f]{20}\.js$/),
      publicFile(/^webpack-runtime-[0-9a-f]{20}\.js$/),
      publicFile(/^component---src-templates-post-js-[0-9a-f]{20}\.js$/),
    ]
    for (const p of hashed) {
      const res = await get(p)
      expect([p, res.status, res.headers['cache-control']]).toEqual([p, 200, 'public, max-age=31536000, immutable'])
      expect([p, res.headers['content-type']]).toEqual([
        p,
        expect.stringMatching(/^(text|application)\/javascript; charset=utf-8$/),
      ])
    }
    const unhashed = await get('/~partytown/partytown.js')
    expect(unhashed.status).toBe(200)
    expect(unhashed.headers['cache-control']).toBe('public, max-age=0, must-revalidate')
  })

  test('cdnMaxAge gives generated pages s-maxage and CDN-Cache-Control', async () => {
    const cdn = await startServer({ cacheDir: tempDir(), cdnMaxAge: 600 })
    try {
      for (const p of ['/blog/post-00060/', '/page-data/blog/post-00060/page-data.json']) {
        const res = await request(cdn.base, p)
        expect([p, res.status]).toEqual([p, 200])
        expect([p, res.headers['cache-control']]).toEqual([p, 'public, max-age=0, must-revalidate, s-maxage=600'])
        expect([p, res.headers['cdn-cache-control']]).toEqual([p, 'public, max-age=600'])
      }
      const hashed = await request(cdn.base, FRAMEWORK_JS)
      expect(hashed.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    } finally {
      await cdn.close()
    }
  })

  test('the CLI flag --cdn-max-age sets the same headers', async () => {
    const cli = runCli(
      ['serve', '-p', '0', '-H', '127.0.0.1', '--cache-dir', tempDir(), '--cdn-max-age', '120', '--no-access-log'],
      { cwd: EXAMPLE },
    )
    const line = await cli.firstLine()
    const base = line.match(/http:\/\/[^ /]+/)[0]
    const res = await request(base, '/blog/post-00062/')
    expect(res.status).toBe(200)
    expect(res.headers['cache-control']).toBe('public, max-age=0, must-revalidate, s-maxage=120')
    expect(res.headers['cdn-cache-control']).toBe('public, max-age=120')
    cli.signal('SIGTERM')
    expect((await cli.exited).code).toBe(0)
  })

  test('files under /static/ are immutable; images are never compressed', async () => {
    const image = png()
    const json = Buffer.from(JSON.stringify({ words: Array.from({ length: 400 }, (_, i) => `word-${i}`) }))
    const site = staticCopy({
      'static/0a1b2c3d4e5f60718293/logo.png': image,
      'static/0a1b2c3d4e5f60718293/data.json': json,
      'icon.png': image,
    })
    const copy = await startServer({ root: site, cacheDir: false })
    try {
      for (const p of ['/static/0a1b2c3d4e5f60718293/logo.png', '/static/0a1b2c3d4e5f60718293/data.json']) {
        const res = await request(copy.base, p)
        expect([p, res.status, res.headers['cache-control']]).toEqual([p, 200, 'public, max-age=31536000, immutable'])
      }
      // The JSON beside it gets variants (so compression did run) …
      await waitFor(
        async () =>
          (await request(copy.base, '/static/0a1b2c3d4e5f60718293/data.json', { headers: BR })).headers[
            'content-encoding'
          ] === 'br',
        { what: 'data.json served with brotli' },
      )
      // … the images never do.
      for (const p of ['/static/0a1b2c3d4e5f60718293/logo.png', '/icon.png']) {
        const res = await request(copy.base, p, { headers: { 'accept-encoding': 'br, gzip' } })
        expect([p, res.status, res.headers['content-type'], res.headers['content-encoding']]).toEqual([
          p,
          200,
          'image/png',
          undefined,
        ])
        expect(res.body.equals(image)).toBe(true)
      }
      expect((await request(copy.base, '/icon.png')).headers['cache-control']).toBe(
        'public, max-age=0, must-revalidate',
      )
    } finally {
      await copy.close()
      fs.rmSync(site, { recursive: true, force: true })
    }
  })
})

describe('gatsby-config options of the example', () => {
  test('the headers option is applied to the paths its source matches, generated or not', async () => {
    for (const p of ['/blog/post-00001/', '/blog/post-00064/']) {
      const res = await get(p)
      expect([p, res.status, res.headers['x-example-section']]).toEqual([p, 200, 'blog'])
    }
    for (const p of ['/about/', '/', '/guides/keep-static/']) {
      const res = await get(p)
      expect([p, res.status, res.headers['x-example-section']]).toEqual([p, 200, undefined])
    }
  })

  test('createRedirect redirects are answered with their status, case-insensitively, without rendering', async () => {
    const { result, renders } = await rendersDuring(async () => ({
      permanent: await get('/old-blog/'),
      withoutSlash: await get('/old-blog'),
      otherCase: await get('/Old-Blog/'),
      temporary: await get('/go-about/'),
    }))
    expect(result.permanent.status).toBe(301)
    expect(result.permanent.headers.location).toBe('/blog/post-00002/')
    expect(result.withoutSlash.status).toBe(301)
    expect(result.withoutSlash.headers.location).toBe('/blog/post-00002/')
    expect(result.otherCase.status).toBe(301)
    expect(result.temporary.status).toBe(302)
    expect(result.temporary.headers.location).toBe('/about/')
    expect(renders).toBe(0)
  })

  test("the SSG page's client-only routes (matchPath /account/*) serve its HTML", async () => {
    const html = fs.readFileSync(path.join(PUBLIC, 'account', '[...]', 'index.html'))
    for (const p of ['/account/', '/account/settings/', '/account/orders/42/']) {
      const res = await get(p)
      expect([p, res.status]).toEqual([p, 200])
      expect(res.body.equals(html)).toBe(true)
      expect(res.headers['x-dsg-cache']).toBeUndefined()
    }
  })

  test('a client-only route asked without its trailing slash redirects as gatsby serve does (trailingSlash: always)', async () => {
    // gatsby serve's configureTrailingSlash finds the page by its matchPath and, its path being
    // another, answers 301 with the slash added.
    const res = await get('/account/settings?tab=1')
    expect(res.status).toBe(301)
    expect(res.headers.location).toBe('/account/settings/?tab=1')
  })

  test('a deferred page with a matchPath answers its client-only routes from one render', async () => {
    const { result, renders } = await rendersDuring(async () => [
      await get('/app/dashboard/'),
      await get('/app/dashboard/settings/'),
    ])
    expect(result.map((r) => r.status)).toEqual([200, 200])
    expect(result[0].body.toString()).toContain('<h1>App shell</h1>')
    expect(result[1].body.equals(result[0].body)).toBe(true)
    expect(result[1].headers['x-dsg-cache']).toBe('HIT')
    expect(renders).toBe(1)
  })

  test('trailingSlash always: pages asked without the slash are redirected, the query kept', async () => {
    for (const [p, location] of [
      ['/about', '/about/'],
      ['/blog/post-00003?x=1', '/blog/post-00003/?x=1'],
      ['/blog/post-00066', '/blog/post-00066/'],
    ]) {
      const res = await get(p)
      expect([p, res.status, res.headers.location]).toEqual([p, 301, location])
    }
  })

  test('pathPrefix is not applied without prefixPaths', async () => {
    expect(server.summary.pathPrefix).toBeUndefined()
    expect((await get('/site-prefix/about/')).status).toBe(404)
    expect((await get('/about/')).status).toBe(200)
  })
})

describe('paths', () => {
  const body = async (p) => {
    const res = await get(p)
    expect([p, res.status]).toEqual([p, 200])
    return res.body
  }

  test('percent-encoded paths are decoded: ASCII, non-ASCII in either hex case, an encoded slash', async () => {
    const about = await body('/about/')
    expect((await body('/%61bout/')).equals(about)).toBe(true)
    const post = await body('/blog/post-00001/')
    expect((await body('/blog%2Fpost-00001/')).equals(post)).toBe(true)
    expect((await body('/blog%2fpost-00001%2F')).equals(post)).toBe(true)

    const korean = await body(KOREAN_ENCODED)
    expect(korean.toString()).toContain('안녕하세요 세계 (Korean post)')
    expect((await body(KOREAN_ENCODED.toLowerCase())).equals(korean)).toBe(true)
    const data = JSON.parse(await body(`/page-data${KOREAN_ENCODED}page-data.json`))
    expect(data.path).toBe('/blog/안녕하세요/')
  })

  test('double slashes and dot segments resolve inside the site', async () => {
    const about = await body('/about/')
    const post = await body('/blog/post-00001/')
    expect((await body('//about/')).equals(about)).toBe(true)
    expect((await body('/blog//post-00001/')).equals(post)).toBe(true)
    expect((await body('/blog/./post-00001/')).equals(post)).toBe(true)
    expect((await body('/blog/x/../post-00001/')).equals(post)).toBe(true)
    expect((await body('/blog/x/%2e%2e/post-00001/')).equals(post)).toBe(true)
    const deferred = await body('/blog/post-00068/')
    expect((await body('/blog/./x/../post-00068//')).equals(deferred)).toBe(true)
  })

  test('a redirect for a path with leading double slashes never points to another host', async () => {
    const res = await get('//about')
    expect(res.status).toBe(301)
    expect(res.headers.location).toBe('/about/')
  })

  test('a path leaving public/ is a 400, and nothing outside public/ or the cache is ever served', async () => {
    const escaping = [
      '/../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E/gatsby-config.js',
      '/..%2fgatsby-config.js',
      '/static/..%2f..%2f.cache%2fgatsby-dsg%2fdeferred-pages.json',
      '/blog/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    ]
    const outside = [
      '/gatsby-config.js',
      '/package.json',
      '/.cache/gatsby-dsg/deferred-pages.json',
      '/.cache/match-paths.json',
      '/..%5cgatsby-config.js',
      '/node_modules/gatsby/package.json',
    ]
    const invalid = ['/a%00b/', '/%ff/', '/%c0%ae%c0%ae/']
    const expected = [
      ...escaping.map((p) => [p, 400]),
      ...outside.map((p) => [p, 404]),
      ...invalid.map((p) => [p, 400]),
    ]
    for (const [p, status] of expected) {
      const res = await get(p)
      expect([p, res.status]).toEqual([p, status])
      // A 404 here is the site's own 404 page, never a file from outside public/.
      if (status === 404) expect(res.body.toString()).toContain('Page not found — gatsby-dsg example')
    }
  })

  test('a symbolic link in public/ that leads outside it is not served', async () => {
    const secretDir = tempDir('gatsby-dsg-secret-')
    fs.writeFileSync(path.join(secretDir, 'secret.txt'), 'top secret')
    const site = staticCopy()
    fs.symlinkSync(path.join(secretDir, 'secret.txt'), path.join(site, 'public', 'leak.txt'))
    const copy = await startServer({ root: site, cacheDir: false })
    try {
      const res = await request(copy.base, '/leak.txt')
      expect(res.status).toBe(404)
      expect(res.body.toString()).not.toContain('top secret')
    } finally {
      await copy.close()
      fs.rmSync(site, { recursive: true, force: true })
    }
  })
})

describe('byte ranges of static files', () => {
  const file = () => fs.readFileSync(path.join(PUBLIC, FRAMEWORK_JS))

  test('a satisfiable range is a 206 with Content-Range and exactly those bytes, never compressed', async () => {
    const bytes = file()
    const full = await get(FRAMEWORK_JS)
    expect(full.headers['accept-ranges']).toBe('bytes')
    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-1999', 1000, 1999],
      ['bytes=-10', bytes.length - 10, bytes.length - 1],
      [`bytes=${bytes.length - 5}-`, bytes.length - 5, bytes.length - 1],
      [`bytes=${bytes.length - 5}-${bytes.length + 100}`, bytes.length - 5, bytes.length - 1],
    ]) {
      const res = await get(FRAMEWORK_JS, { headers: { range, 'accept-encoding': 'br, gzip' } })
      expect([range, res.status, res.headers['content-range']]).toEqual([
        range,
        206,
        `bytes ${start}-${end}/${bytes.length}`,
      ])
      expect(res.headers['content-encoding']).toBeUndefined()
      expect(Number(res.headers['content-length'])).toBe(end - start + 1)
      expect(res.body.equals(bytes.subarray(start, end + 1))).toBe(true)
    }
  })

  test('a range past the end is a 416 with the length', async () => {
    const bytes = file()
    const res = await get(FRAMEWORK_JS, { headers: { range: `bytes=${bytes.length}-` } })
    expect(res.status).toBe(416)
    expect(res.headers['content-range']).toBe(`bytes */${bytes.length}`)
    expect(res.body.length).toBe(0)
  })
})

describe('CORS and OPTIONS, as gatsby serve', () => {
  test('every kind of response carries the CORS headers', async () => {
    for (const p of ['/about/', '/blog/post-00070/', FRAMEWORK_JS, '/no/such/page/', '/old-blog/', '/%2e%2e/x']) {
      const res = await get(p)
      expect([p, res.headers['access-control-allow-origin']]).toEqual([p, '*'])
      expect([p, res.headers['access-control-allow-headers']]).toEqual([
        p,
        'Origin, X-Requested-With, Content-Type, Accept',
      ])
    }
  })

  test('OPTIONS is a 204 with Allow and CORS headers, and never renders a deferred page', async () => {
    const { result, renders } = await rendersDuring(() =>
      get('/blog/post-00072/', {
        method: 'OPTIONS',
        headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'GET' },
      }),
    )
    expect(result.status).toBe(204)
    expect(result.body.length).toBe(0)
    expect(result.headers.allow.split(/,\s*/)).toEqual(expect.arrayContaining(['GET', 'HEAD', 'OPTIONS']))
    expect(result.headers['access-control-allow-origin']).toBe('*')
    expect(result.headers['access-control-allow-headers']).toBe('Origin, X-Requested-With, Content-Type, Accept')
    expect(renders).toBe(0)
    expect((await get('/blog/post-00072/')).headers['x-dsg-cache']).toBe('MISS')
  })
})
