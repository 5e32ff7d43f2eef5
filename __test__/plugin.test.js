'use strict'
// gatsby-dsg's Gatsby plugin (gatsby-plugin/): its options checked by Gatsby's own validation,
// its onCreatePage decision, and the manifest it wrote for the example site built by real Gatsby.

const fs = require('fs')
const path = require('path')
const { EXAMPLE } = require('./support/site')
const plugin = require('../gatsby-plugin/gatsby-node')

const { testPluginOptionsSchema } = require(require.resolve('gatsby-plugin-utils', { paths: [EXAMPLE] }))

const PUBLIC = path.join(EXAMPLE, 'public')
const MANIFEST = path.join(EXAMPLE, '.cache', 'gatsby-dsg', 'deferred-pages.json')

// The example site's gatsby-node.js with its default EXAMPLE_PAGES.
const POSTS = 120
const GUIDES = 19 // guide-01 … guide-19, plus keep-static
const PRODUCTS = 10

describe('plugin options, validated by gatsby-plugin-utils', () => {
  const validate = (options) => testPluginOptionsSchema(plugin.pluginOptionsSchema, options)

  test('accepts defer and exclude glob lists, and no options at all', async () => {
    for (const options of [
      { defer: ['/guides/**'], exclude: ['/guides/keep-static/'] },
      { defer: ['/blog/*/', '/docs/**/index/', '/[a-c]*/**'] },
      {},
    ]) {
      const result = await validate(options)
      expect({ options, errors: result.errors }).toEqual({ options, errors: [] })
      expect(result.isValid).toBe(true)
    }
  })

  test('rejects a defer that is not an array', async () => {
    const result = await validate({ defer: '/guides/**' })
    expect(result.isValid).toBe(false)
    expect(result.errors).toEqual([expect.stringContaining('"defer" must be an array')])
  })

  test('rejects a glob entry that is not a string', async () => {
    const result = await validate({ defer: ['/guides/**', 42] })
    expect(result.isValid).toBe(false)
    expect(result.errors).toEqual([expect.stringContaining('"defer[1]" must be a string')])
  })

  test('rejects an invalid glob in defer or exclude with a message naming the glob', async () => {
    for (const key of ['defer', 'exclude']) {
      const result = await validate({ [key]: ['/ok/**', '/blog/['] })
      expect(result.isValid).toBe(false)
      expect(result.errors).toHaveLength(1)
      expect(result.errors[0]).toContain(`"${key}[1]"`)
      expect(result.errors[0]).toContain('/blog/[')
    }
  })
})

describe('onCreatePage', () => {
  const OPTIONS = { defer: ['/guides/**'], exclude: ['/guides/keep-static/'] }

  function fakeActions() {
    return { createPage: jest.fn(), deletePage: jest.fn() }
  }

  function page(pagePath, extra = {}) {
    return {
      path: pagePath,
      component: '/site/src/templates/guide.js',
      context: { id: `id-of-${pagePath}` },
      ...extra,
    }
  }

  /** Gatsby's store as onCreatePage sees it: the pages map holds the page being created. */
  function storeHolding(...pages) {
    const map = new Map(pages.map((p) => [p.path, p]))
    return { getState: () => ({ pages: map }) }
  }

  test('re-creates a page matching defer unchanged but with defer: true, without deleting it', () => {
    const actions = fakeActions()
    const original = page('/guides/guide-01/')
    plugin.onCreatePage({ page: original, actions, store: storeHolding(original) }, OPTIONS)
    // No deletePage: each one walks a listener per page still being created (quadratic builds).
    expect(actions.deletePage).not.toHaveBeenCalled()
    expect(actions.createPage).toHaveBeenCalledTimes(1)
    expect(actions.createPage).toHaveBeenCalledWith({ ...original, defer: true })
    // The page Gatsby passed in is not mutated.
    expect(original.defer).toBeUndefined()
  })

  test('does not bring back a matching page deleted before its onCreatePage ran', () => {
    const actions = fakeActions()
    plugin.onCreatePage({ page: page('/guides/guide-03/'), actions, store: storeHolding() }, OPTIONS)
    expect(actions.createPage).not.toHaveBeenCalled()
    expect(actions.deletePage).not.toHaveBeenCalled()
  })

  test('leaves an older copy of a page alone once the page was re-created with a new context', () => {
    const actions = fakeActions()
    const older = page('/guides/guide-04/', { context: { version: 1 } })
    const newer = page('/guides/guide-04/', { context: { version: 2 } })
    plugin.onCreatePage({ page: older, actions, store: storeHolding(newer) }, OPTIONS)
    expect(actions.createPage).not.toHaveBeenCalled()
    // The newer page's own onCreatePage defers it, with its context.
    plugin.onCreatePage({ page: newer, actions, store: storeHolding(newer) }, OPTIONS)
    expect(actions.createPage).toHaveBeenCalledTimes(1)
    expect(actions.createPage).toHaveBeenCalledWith({ ...newer, defer: true })
  })

  test('leaves a page matching an exclude glob alone', () => {
    const actions = fakeActions()
    plugin.onCreatePage({ page: page('/guides/keep-static/'), actions }, OPTIONS)
    expect(actions.deletePage).not.toHaveBeenCalled()
    expect(actions.createPage).not.toHaveBeenCalled()
  })

  test('leaves a page matching no defer glob alone', () => {
    const actions = fakeActions()
    plugin.onCreatePage({ page: page('/about/'), actions }, OPTIONS)
    expect(actions.deletePage).not.toHaveBeenCalled()
    expect(actions.createPage).not.toHaveBeenCalled()
  })

  test('leaves a page the site already deferred alone', () => {
    const actions = fakeActions()
    plugin.onCreatePage({ page: page('/guides/guide-02/', { defer: true }), actions }, OPTIONS)
    expect(actions.deletePage).not.toHaveBeenCalled()
    expect(actions.createPage).not.toHaveBeenCalled()
  })

  test('leaves a server-rendered (SSR) page alone', () => {
    const actions = fakeActions()
    plugin.onCreatePage({ page: page('/guides/live/', { mode: 'SSR' }), actions }, OPTIONS)
    expect(actions.deletePage).not.toHaveBeenCalled()
    expect(actions.createPage).not.toHaveBeenCalled()
  })

  test('never defers the 404, 500 and dev-404 status pages, even with defer: ["/**"]', () => {
    const everything = { defer: ['/**'] }
    // The same options do defer an ordinary page, so the status pages are refused, not unmatched.
    const control = fakeActions()
    plugin.onCreatePage({ page: page('/any/page/'), actions: control }, everything)
    expect(control.createPage).toHaveBeenCalledTimes(1)

    for (const statusPath of ['/404.html', '/404/', '/500/', '/dev-404-page/']) {
      const actions = fakeActions()
      plugin.onCreatePage({ page: page(statusPath), actions }, everything)
      expect({ statusPath, deleted: actions.deletePage.mock.calls.length }).toEqual({ statusPath, deleted: 0 })
      expect({ statusPath, created: actions.createPage.mock.calls.length }).toEqual({ statusPath, created: 0 })
    }
  })
})

describe('the manifest written by the real example build', () => {
  const manifest = JSON.parse(fs.readFileSync(MANIFEST, 'utf8'))
  const pad = (n, width) => String(n).padStart(width, '0')

  function expectedDeferredPaths() {
    const paths = []
    for (let i = 0; i < POSTS; i += 2) paths.push(`/blog/post-${pad(i, 5)}/`)
    paths.push('/blog/안녕하세요/')
    for (let i = 1; i <= GUIDES; i += 1) paths.push(`/guides/guide-${pad(i, 2)}/`)
    for (let i = 1; i <= PRODUCTS; i += 1) paths.push(`/products/product-${pad(i, 2)}/`)
    paths.push('/broken/', '/flaky/', '/app/')
    for (let i = 1; i <= 24; i += 1) paths.push(`/gallery/photo-${pad(i, 2)}/`)
    return paths.sort()
  }

  test('lists exactly the DSG pages: even posts, the Korean post, guides, products, /broken/, /flaky/, /app/, the gallery', () => {
    const listed = manifest.pages.map((p) => p.path)
    expect(new Set(listed).size).toBe(listed.length)
    expect([...listed].sort()).toEqual(expectedDeferredPaths())
    expect(listed.filter((p) => p.startsWith('/blog/post-'))).toHaveLength(POSTS / 2)
    expect(listed).not.toContain('/guides/keep-static/')
    expect(listed).not.toContain('/404.html')
    expect(listed).not.toContain('/404/')
    expect(listed).not.toContain('/')
  })

  test('lists the SSR pages apart, with their matchPaths', () => {
    expect(manifest.ssrPages.map((p) => [p.path, p.matchPath])).toEqual([
      ['/ssr-docs/[...]/', '/ssr-docs/*'],
      ['/ssr/', null],
      ['/ssr/[param]/', '/ssr/:param'],
      ['/ssr/cached/', null],
      ['/ssr/custom/', null],
      ['/ssr/throws/', null],
    ])
    expect(manifest.pages.map((p) => p.path).filter((p) => p.startsWith('/ssr'))).toEqual([])
  })

  test('gives /app/ its matchPath and no other page one', () => {
    const withMatchPath = manifest.pages.filter((p) => p.matchPath)
    expect(withMatchPath).toEqual([expect.objectContaining({ path: '/app/', matchPath: '/app/*' })])
  })

  test('carries a 32-hex-digit build id', () => {
    expect(manifest.buildId).toMatch(/^[0-9a-f]{32}$/)
  })

  test('no listed page has HTML in public/, while the excluded guide and odd posts do', () => {
    const htmlOf = (pagePath) => path.join(PUBLIC, ...pagePath.split('/').filter(Boolean), 'index.html')
    const prebuilt = manifest.pages.map((p) => p.path).filter((p) => fs.existsSync(htmlOf(p)))
    expect(prebuilt).toEqual([])
    expect(fs.existsSync(htmlOf('/guides/keep-static/'))).toBe(true)
    expect(fs.existsSync(htmlOf('/blog/post-00001/'))).toBe(true)
    expect(fs.existsSync(htmlOf('/'))).toBe(true)
  })
})
