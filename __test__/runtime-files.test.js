'use strict'
// Files Gatsby writes into public/ while the server runs, on the example site built by real
// Gatsby: a deferred gallery page's query runs a resolver (example/gatsby-node.js,
// createResolvers) that writes a PNG into public/static/<hash>/ during the render and links it
// from the HTML, as gatsby-plugin-sharp's image jobs do. The file did not exist at start-up.

const fs = require('fs')
const path = require('path')
const { startServer, tempDir, EXAMPLE } = require('./support/site')
const { request } = require('./support/http')
const { launchChromium, newContextWithoutPrefetch, watch } = require('./support/browser')

jest.setTimeout(180_000)

const PUBLIC = path.join(EXAMPLE, 'public')
const STATIC = path.join(PUBLIC, 'static')
const PHOTO = /^photo-\d+\.png$/

/** Removes every gallery image an earlier run (or the bench) left, so each is made afresh. */
function removePhotos() {
  if (!fs.existsSync(STATIC)) return
  for (const dir of fs.readdirSync(STATIC)) {
    const full = path.join(STATIC, dir)
    if (!fs.statSync(full).isDirectory()) continue
    const names = fs.readdirSync(full)
    if (names.length > 0 && names.every((n) => PHOTO.test(n))) fs.rmSync(full, { recursive: true, force: true })
  }
}

function imageUrl(html, slug) {
  const match = html.match(new RegExp(`src="(/static/[0-9a-f]{32}/${slug}\\.png)"`))
  if (!match) throw new Error(`no image of ${slug} in the page: ${html.slice(0, 400)}`)
  return match[1]
}

let server
let cacheDir
let browser

beforeAll(async () => {
  removePhotos()
  cacheDir = tempDir('gatsby-dsg-runtime-files-')
  server = await startServer({ cacheDir })
})

afterAll(async () => {
  if (browser) await browser.close()
  if (server) await server.close()
  if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true })
})

test('an image a deferred page writes into public/static/ while it renders is served at once, as a file that was there at start-up', async () => {
  const page = await server.get('/gallery/photo-01/')
  expect(page.status).toBe(200)
  expect(page.headers['x-dsg-cache']).toBe('MISS')
  const src = imageUrl(page.body, 'photo-01')
  // The HTML was sent after the file was complete.
  const file = fs.readFileSync(path.join(PUBLIC, src))

  const image = await request(server.base, src, { headers: { 'accept-encoding': 'br, gzip' } })
  expect(image.status).toBe(200)
  expect(image.headers['content-type']).toBe('image/png')
  expect(image.headers['cache-control']).toBe('public, max-age=31536000, immutable')
  expect(image.headers['content-encoding']).toBeUndefined() // PNG is not compressed again
  expect(image.headers['last-modified']).toBeDefined()
  expect(image.body.equals(file)).toBe(true)
  expect(image.body.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')

  const again = await request(server.base, src, { headers: { 'if-none-match': image.headers.etag } })
  expect(again.status).toBe(304)
  const ranged = await request(server.base, src, { headers: { range: 'bytes=0-7' } })
  expect(ranged.status).toBe(206)
  expect(ranged.body.toString('hex')).toBe('89504e470d0a1a0a')
})

test('a file found after start-up is looked up on disk once, then served without the disk', async () => {
  const page = await server.get('/gallery/photo-02/')
  const src = imageUrl(page.body, 'photo-02')
  const before = (await server.stats()).runtimeFileLookups
  for (let i = 0; i < 20; i++) expect((await request(server.base, src)).status).toBe(200)
  expect((await server.stats()).runtimeFileLookups - before).toBe(1)
})

test('unknown paths under /static/ are looked up on disk at most once per path between two renders', async () => {
  const unknown = '/static/0123456789abcdef0123456789abcdef/nothing.png'
  const lookups = async () => (await server.stats()).runtimeFileLookups

  let before = await lookups()
  for (let i = 0; i < 50; i++) expect((await server.get(unknown)).status).toBe(404)
  expect((await lookups()) - before).toBe(1)

  // Distinct unknown paths: one lookup each, and none the second time.
  before = await lookups()
  const flood = Array.from({ length: 30 }, (_, i) => `/static/flood/${i}.png`)
  for (const p of flood) expect((await server.get(p)).status).toBe(404)
  for (const p of flood) expect((await server.get(p)).status).toBe(404)
  expect((await lookups()) - before).toBe(30)

  // A render settles (files may have appeared): the path is looked up once more.
  await server.get('/gallery/photo-03/')
  before = await lookups()
  for (let i = 0; i < 20; i++) expect((await server.get(unknown)).status).toBe(404)
  expect((await lookups()) - before).toBe(1)

  // Paths outside /static/ and /_gatsby/ never touch the disk.
  before = await lookups()
  for (let i = 0; i < 20; i++) expect((await server.get(`/not-there-${i}.png`)).status).toBe(404)
  expect((await lookups()) - before).toBe(0)
})

test('hostile paths stay 400 or 404, and a symbolic link written under public/static/ that leads outside public/ is not served', async () => {
  const link = path.join(STATIC, 'runtime-test-link')
  fs.rmSync(link, { force: true })
  fs.symlinkSync('/etc', link)
  try {
    await server.get('/gallery/photo-05/') // a render settles after the link appeared
    expect((await server.get('/static/runtime-test-link/passwd')).status).toBe(404)
    expect((await server.get('/static/runtime-test-link/hostname')).status).toBe(404)
    expect((await server.get('/static/../../../etc/passwd')).status).toBe(400)
    expect((await server.get('/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd')).status).toBe(400)
    expect((await server.get('/static/%00.png')).status).toBe(400)
    expect((await server.get('/static/runtime-test-link')).status).toBe(404)
  } finally {
    fs.rmSync(link, { force: true })
  }
})

test('a real browser loads a never-generated deferred page on its first visit, and its request-time image has naturalWidth > 0', async () => {
  browser = await launchChromium()
  const context = await newContextWithoutPrefetch(browser)
  const page = await context.newPage()
  const seen = watch(page)
  const response = await page.goto(`${server.base}/gallery/photo-04/`, { waitUntil: 'load' })
  expect(response.status()).toBe(200)
  expect(response.headers()['x-dsg-cache']).toBe('MISS')
  const image = page.locator('img.photo')
  await image.waitFor()
  await page.waitForFunction(() => document.querySelector('img.photo').complete)
  expect(await image.evaluate((img) => img.naturalWidth)).toBe(48)
  const src = await image.getAttribute('src')
  expect(seen.responses.find((r) => r.pathname === src).status).toBe(200)
  expect(seen.errors).toEqual([])
  await context.close()
})
