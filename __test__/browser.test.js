'use strict'
// A real browser on the example site built by real Gatsby, served by gatsby-dsg: Gatsby's client
// navigates by <Link> to a deferred page nobody generated yet (its page-data is a MISS rendered on
// demand), and a later direct visit gets the stored page (HIT) without a second render.

const fs = require('fs')
const path = require('path')
const { startServer, tempDir, ROOT } = require('./support/site')
const { launchChromium, newContextWithoutPrefetch, watch } = require('./support/browser')
const { idle } = require('../scripts/support/wait')

jest.setTimeout(180_000)

const PAGE = '/guides/guide-01/' // deferred by the plugin's `defer` glob, linked from the index
const PAGE_DATA = '/page-data/guides/guide-01/page-data.json'
const SCREENSHOTS = path.join(ROOT, 'test-output')

let server
let browser
let cacheDir

beforeAll(async () => {
  cacheDir = tempDir('gatsby-dsg-browser-')
  server = await startServer({ cacheDir })
  browser = await launchChromium()
})

afterAll(async () => {
  if (browser) await browser.close()
  if (server) {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      // close() asks the server to stop; if it cannot, the child is killed.
      let timer
      await Promise.race([server.close(), new Promise((resolve) => (timer = setTimeout(resolve, 15_000)))])
      clearTimeout(timer)
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
    }
  }
  if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true })
})

test('a <Link> to a never-generated deferred page navigates client-side (page-data MISS), then a direct visit is a HIT with the same content', async () => {
  const before = await server.stats()
  expect(before.renders).toBe(0)

  // 1. The index, then a click on the <Link>.
  const first = await newContextWithoutPrefetch(browser)
  const page = await first.newPage()
  const seen = watch(page)
  const index = await page.goto(`${server.base}/`, { waitUntil: 'networkidle' })
  expect(index.status()).toBe(200)
  await page.evaluate(() => {
    window.__sameDocument = true // survives only a client-side navigation
  })
  const documentsBeforeClick = seen.documents.length

  await page.click(`a[href="${PAGE}"]`)
  await page.waitForURL(`${server.base}${PAGE}`)
  await page.locator('h1', { hasText: 'Guide 1' }).waitFor()
  await page.waitForLoadState('networkidle')

  // Client-side: no new document was requested, and the window is the same one.
  expect(seen.documents.slice(documentsBeforeClick)).toEqual([])
  expect(await page.evaluate(() => window.__sameDocument)).toBe(true)
  // The page-data came from our server, rendered for this request.
  const pageDataResponses = seen.responses.filter((r) => r.pathname === PAGE_DATA)
  expect(pageDataResponses.length).toBeGreaterThan(0)
  expect(pageDataResponses[0].status).toBe(200)
  expect(pageDataResponses[0].headers['x-dsg-cache']).toBe('MISS')
  expect(await page.locator('.slug').textContent()).toBe('slug: guide-01')
  const navigated = await page.locator('main').innerHTML()
  const title = await page.title()
  fs.mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: path.join(SCREENSHOTS, 'browser-client-navigation.png'), fullPage: true })
  expect(seen.errors).toEqual([])
  const afterNavigation = await server.stats()
  expect(afterNavigation.renders).toBe(1)
  await first.close()
  // The page-data was answered as soon as it existed; the HTML is rendered and stored after it.
  await idle(server)

  // 2. A fresh context (no cookies, no cache) visits the URL directly.
  const second = await newContextWithoutPrefetch(browser)
  const direct = await second.newPage()
  const seenDirect = watch(direct)
  const response = await direct.goto(`${server.base}${PAGE}`, { waitUntil: 'networkidle' })
  expect(response.status()).toBe(200)
  expect(response.headers()['x-dsg-cache']).toBe('HIT')
  await direct.locator('h1', { hasText: 'Guide 1' }).waitFor()
  expect(await direct.locator('main').innerHTML()).toBe(navigated)
  expect(await direct.title()).toBe(title)
  await direct.screenshot({ path: path.join(SCREENSHOTS, 'browser-direct-visit.png'), fullPage: true })
  expect(seenDirect.errors).toEqual([])
  expect((await server.stats()).renders).toBe(1)
  await second.close()
})
