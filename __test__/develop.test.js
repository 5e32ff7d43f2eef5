'use strict'
// `gatsby develop` with gatsby-dsg's plugin installed still works: as in Gatsby itself, DSG has no
// effect in development, so a page the plugin defers is served by Gatsby's develop server.
// Runs on a copy of the example site sharing its node_modules (as rebuild.test.js does).

const fs = require('fs')
const path = require('path')
const { get, EXAMPLE } = require('./support/site')
const { freePort } = require('../scripts/support/ports')
const { copyExampleSources } = require('./support/example-copy')
const { start, killAll } = require('./support/processes')
const { launchChromium } = require('./support/browser')

jest.setTimeout(10 * 60_000)

const PAGE = '/guides/guide-01/' // deferred by the plugin's `defer` glob in `gatsby build`
const PAGE_DATA = '/page-data/guides/guide-01/page-data.json'

let site
let browser

/**
 * Resolves once `gatsby develop` says the site can be viewed (its development bundle is built);
 * rejects with its output as soon as the bundle fails to build or the process exits.
 */
async function waitUntilReady(develop) {
  const ready = develop.waitForOutput(/You can now view \S+ in the browser/)
  const failed = develop
    .waitForOutput(/failed Building development bundle|develop compiled with \d+ errors?/)
    .then(() => {
      throw new Error(`gatsby develop could not build the site:\n${develop.stdout()}\n${develop.stderr()}`)
    })
  // The loser rejects when the process is stopped; that is not a failure.
  ready.catch(() => {})
  failed.catch(() => {})
  await Promise.race([ready, failed])
}

beforeAll(() => {
  site = copyExampleSources('gatsby-dsg-develop-')
})

afterAll(async () => {
  if (browser) await browser.close()
  await killAll()
  if (site) fs.rmSync(site, { recursive: true, force: true })
})

test('`gatsby develop` with the plugin serves a page the plugin defers, with its content', async () => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const develop = start(
    process.execPath,
    [path.join(EXAMPLE, 'node_modules', 'gatsby', 'cli.js'), 'develop', '-H', '127.0.0.1', '-p', String(port)],
    { cwd: site, env: { EXAMPLE_PAGES: '10' } },
  )
  await waitUntilReady(develop)

  const html = await get(`${base}${PAGE}`)
  expect(html.status).toBe(200)
  expect(html.headers['content-type']).toMatch(/^text\/html/)
  expect(html.headers['x-dsg-cache']).toBeUndefined()

  // Gatsby's develop server answers with a shell; the content comes with the page-data.
  const pageData = await get(`${base}${PAGE_DATA}`)
  expect(pageData.status).toBe(200)
  const { path: pagePath, result } = JSON.parse(pageData.body)
  expect(pagePath).toBe(PAGE)
  expect(result.data.guide).toMatchObject({ slug: 'guide-01', title: 'Guide 1' })

  // What a person sees: the develop server's HTML is a shell that Gatsby's client fills in.
  browser = await launchChromium()
  const page = await browser.newPage()
  const response = await page.goto(`${base}${PAGE}`)
  expect(response.status()).toBe(200)
  await page.locator('h1', { hasText: 'Guide 1' }).waitFor()
  expect(await page.locator('.slug').textContent()).toBe('slug: guide-01')
  await browser.close()
  browser = null

  // The plugin did run in develop: the page was re-created by it (that is how it defers a page),
  // yet Gatsby served it as usual. It wrote no manifest: that happens only after `gatsby build`.
  const graphql = await fetch(`${base}/___graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `{ sitePage(path: { eq: "${PAGE}" }) { pluginCreator { name } } }` }),
  })
  expect(graphql.status).toBe(200)
  expect((await graphql.json()).data.sitePage.pluginCreator.name).toBe('gatsby-dsg-plugin')
  expect(fs.existsSync(path.join(site, '.cache', 'gatsby-dsg', 'deferred-pages.json'))).toBe(false)

  await develop.stop('SIGTERM')
})
