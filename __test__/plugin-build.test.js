'use strict'
// gatsby-dsg's plugin in real `gatsby build`s of a copy of the example site at two sizes, next to
// a test-only plugin that changes pages as other plugins do and records what the build did
// (__test__/fixtures/page-probe). Deferring by glob must cost the same per page at any size: no
// DELETE_PAGE (each one walks a listener per page still being created, which made 50,000 pages
// spend 248 s in createPages), one CREATE_PAGE per deferred page; and the final pages must be
// right for pages of other plugins, File System Routes, config() and re-created contexts.

const fs = require('fs')
const path = require('path')
const { EXAMPLE, ROOT } = require('./support/site')
const { copyExampleSources, gatsbyBuild } = require('./support/example-copy')

jest.setTimeout(10 * 60_000)

const PROBE = path.join(__dirname, 'fixtures', 'page-probe')
const PLUGIN = 'gatsby-dsg-plugin'
const EXCLUDED_POST = '/blog/post-00003/'
const CONTEXT_ADDED = ['/guides/guide-01/', '/guides/guide-02/', '/guides/guide-03/']
const SIZES = [20, 200] // blog posts; the odd ones are deferred only by the plugin's glob

const sites = []

/** A copy of the example whose gatsby-config lists the plugin (globs below) and then the probe. */
function probedSite() {
  const dir = copyExampleSources('gatsby-dsg-plugin-build-')
  sites.push(dir)
  const config = `"use strict";
const base = require(${JSON.stringify(path.join(EXAMPLE, 'gatsby-config.js'))});
module.exports = {
  ...base,
  plugins: [
    {
      resolve: ${JSON.stringify(path.join(ROOT, 'gatsby-plugin'))},
      options: {
        defer: ["/blog/**", "/guides/**", "/about/"],
        exclude: ["/guides/keep-static/", ${JSON.stringify(EXCLUDED_POST)}],
      },
    },
    { resolve: ${JSON.stringify(PROBE)}, options: { addContextTo: ${JSON.stringify(CONTEXT_ADDED)} } },
  ],
};
`
  fs.writeFileSync(path.join(dir, 'gatsby-config.js'), config)
  return dir
}

const builds = new Map()

beforeAll(() => {
  for (const posts of SIZES) {
    const site = probedSite()
    const log = gatsbyBuild(site, { env: { EXAMPLE_PAGES: String(posts) } })
    builds.set(posts, {
      log,
      probe: JSON.parse(fs.readFileSync(path.join(site, 'page-probe.json'), 'utf8')),
      manifest: JSON.parse(fs.readFileSync(path.join(site, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8')),
    })
  }
})

afterAll(() => {
  for (const dir of sites) fs.rmSync(dir, { recursive: true, force: true })
})

const pad = (n) => String(n).padStart(5, '0')
const oddPosts = (posts) =>
  Array.from({ length: posts }, (_, i) => i)
    .filter((i) => i % 2 === 1)
    .map((i) => `/blog/post-${pad(i)}/`)
    .filter((p) => p !== EXCLUDED_POST)

describe.each(SIZES)('a glob-deferred build of %i blog posts', (posts) => {
  const get = () => builds.get(posts)
  const pageAt = (p) => {
    const found = get().probe.pages.find((page) => page.path === p)
    if (!found) throw new Error(`no SitePage ${p}`)
    return found
  }

  test('dispatches no DELETE_PAGE besides the probe plugin’s own, so no listener is walked for it', () => {
    const { probe } = get()
    expect(probe.ownDeletes).toBeGreaterThanOrEqual(CONTEXT_ADDED.length)
    expect({ deletes: probe.deletesByOthers, walks: probe.listenerWalksByOthers }).toEqual({ deletes: 0, walks: 0 })
  })

  test('re-creates each blog post its glob defers exactly once, and no other post', () => {
    const byPlugin = get().probe.createsByPlugin[PLUGIN] || {}
    const blog = Object.entries(byPlugin).filter(([p]) => p.startsWith('/blog/'))
    expect(Object.fromEntries(blog)).toEqual(Object.fromEntries(oddPosts(posts).map((p) => [p, 1])))
  })

  test('leaves every blog post deferred but the excluded one, whoever deferred it', () => {
    for (let i = 0; i < posts; i += 1) {
      const p = `/blog/post-${pad(i)}/`
      expect({ p, mode: pageAt(p).mode }).toEqual({ p, mode: p === EXCLUDED_POST ? 'SSG' : 'DSG' })
    }
  })

  test('defers pages of other plugins, File System Routes and config() pages, and no status page', () => {
    expect(pageAt('/guides/from-probe/').mode).toBe('DSG') // created by another plugin
    expect(pageAt('/about/').mode).toBe('DSG') // src/pages/about.js, a File System Route
    expect(pageAt('/products/product-01/').mode).toBe('DSG') // its template's config() defers it
    expect(pageAt('/guides/keep-static/').mode).toBe('SSG')
    expect(pageAt('/').mode).toBe('SSG')
    expect(pageAt('/404.html').mode).toBe('SSG')
  })

  test('keeps the context another plugin gave a page, before or after deferring it', () => {
    for (const p of CONTEXT_ADDED) {
      const page = pageAt(p)
      expect({ p, mode: page.mode, probe: page.context.probe }).toEqual({ p, mode: 'DSG', probe: 'context' })
    }
  })

  test('defers a page created twice in a row with its second context', () => {
    const page = pageAt('/guides/changed/')
    expect(page.mode).toBe('DSG')
    expect(page.context.version).toBe(2)
  })

  test('lists exactly the DSG pages in the manifest, and logs the count once', () => {
    const { probe, manifest, log } = get()
    const dsg = probe.pages
      .filter((p) => p.mode === 'DSG')
      .map((p) => p.path)
      .sort()
    expect(manifest.pages.map((p) => p.path).sort()).toEqual(dsg)
    expect(log.match(/gatsby-dsg: deferred \d+ of \d+ pages/g)).toEqual([
      `gatsby-dsg: deferred ${dsg.length} of ${probe.pages.length} pages`,
    ])
  })
})
