'use strict'
// gatsby-dsg's Gatsby plugin.
//
// 1. Defers pages by path glob: `onCreatePage` re-creates every page whose path matches the
//    `defer` globs (and none of the `exclude` globs) with `defer: true`, in place (no
//    `deletePage`: see onCreatePage), so deferring N pages costs O(N). The glob decision is
//    made by the Rust engine (`DeferPolicy` from the gatsby-dsg addon), so the plugin and the
//    server share one implementation.
// 2. Writes the deferred-page manifest the gatsby-dsg server reads, in `onPostBuild`, when
//    every page's final mode is known:
//      <site>/.cache/gatsby-dsg/deferred-pages.json   the manifest, one page a line
//      <site>/.cache/gatsby-dsg/manifest-head.json    the same without its page lists, written after
//    The server's JavaScript reads only the head; the engine reads the page lists from the
//    manifest itself (crates/engine/src/manifest.rs) and refuses one whose build id is not the
//    head's (an interrupted build). The manifest lists every DSG page, whatever deferred it (createPage `defer`, a File System Route
//    `config()`, or this plugin), every SSR page (a template exporting `getServerData`), and
//    carries a build id that is new on every `gatsby build`: Gatsby's own
//    webpackCompilationHash does not change when only content changes.
//
// Keep this file free of schema APIs (createSchemaCustomization, createResolvers,
// setFieldsOnGraphQLNodeType): a plugin implementing one is bundled into Gatsby's query engine,
// which cannot relocate the native addon.

const crypto = require('crypto')
const fs = require('fs')
const path = require('path')

// 2: the head file beside the manifest (1: the manifest alone; the server reads both).
const MANIFEST_VERSION = 2
const MANIFEST_DIR = path.join('.cache', 'gatsby-dsg')
const MANIFEST_FILE = 'deferred-pages.json'
const HEAD_FILE = 'manifest-head.json'

// Status pages can never be rendered lazily (Gatsby itself forces /404.html and /500.html to
// SSG). The Rust policy refuses them too; this guard keeps the plugin safe on its own.
const STATUS_PAGES = new Set(['/404', '/404.html', '/dev-404-page', '/500', '/500.html'])

function isStatusPage(pagePath) {
  const trimmed = pagePath.length > 1 ? pagePath.replace(/\/+$/, '') : pagePath
  return STATUS_PAGES.has(trimmed)
}

// The addon is loaded lazily: Gatsby imports gatsby-node.js in several processes (and when it
// validates options), and a plugin without schema APIs never needs it at import time.
function loadAddon() {
  try {
    return require('..')
  } catch (err) {
    throw new Error(
      `gatsby-dsg-plugin: cannot load the gatsby-dsg native addon (build it at the repository root first): ${err.message}`,
      { cause: err },
    )
  }
}

function createPolicy({ defer = [], exclude = [] } = {}) {
  const { DeferPolicy } = loadAddon()
  return new DeferPolicy({ defer, exclude })
}

// One policy per distinct set of options (in practice: one per build).
let cachedPolicy = null
let cachedPolicyKey = null

function policyFor(pluginOptions) {
  const options = { defer: pluginOptions.defer || [], exclude: pluginOptions.exclude || [] }
  const key = JSON.stringify(options)
  if (key !== cachedPolicyKey) {
    cachedPolicy = createPolicy(options)
    cachedPolicyKey = key
  }
  return cachedPolicy
}

// Joi `.custom()` check: a glob is valid when the Rust engine accepts it. Throwing makes Joi
// report `"defer[0]" failed custom validation because <message>`.
function validateGlob(glob) {
  try {
    createPolicy({ defer: [glob], exclude: [] })
  } catch (err) {
    throw new Error(err.message, { cause: err })
  }
  return glob
}

exports.pluginOptionsSchema = ({ Joi }) => {
  const glob = Joi.string().min(1).custom(validateGlob, 'gatsby-dsg path glob')
  return Joi.object({
    defer: Joi.array()
      .items(glob)
      .default([])
      .description('Path globs of pages to defer (DSG). `**` crosses `/`, `*` does not.'),
    exclude: Joi.array()
      .items(glob)
      .default([])
      .description('Path globs of pages never deferred by this plugin; wins over `defer`.'),
  })
}

// Paths this plugin deferred (a Set: a page re-created by another plugin may be deferred twice).
const stats = { pagesSeen: 0, deferredByPlugin: new Set() }

/**
 * Whether `page` is still the page Gatsby holds at its path. It is not when the page was deleted,
 * or re-created (by any plugin, with a new context) after the CREATE_PAGE this call is for: the
 * newer one has an `onCreatePage` of its own, so replacing the page from this older object would
 * only bring stale fields back. Without a store (a unit test) the page is taken as current.
 */
function isCurrent(page, store) {
  const pages = store && store.getState && store.getState().pages
  return !pages || typeof pages.get !== 'function' || pages.get(page.path) === page
}

// Deferring re-creates the page with `defer: true` and never deletes it first. `createPage` of a
// path Gatsby holds replaces that page in place (the pages reducer sets the path's entry; the
// query stays registered, its context and component being equal), while every `deletePage`
// during `createPages` walks one DELETE_PAGE listener per `onCreatePage` still running — Gatsby
// adds one per created page (api-runner-node.js) — which made a glob-deferred build quadratic:
// 50,000 pages spent 248 s in createPages, 22.9 s without the delete. The replacement emits
// CREATE_PAGE, so every other plugin's `onCreatePage` sees the deferred page (not ours: Gatsby
// skips the plugin that created it); a plugin that later re-creates the page from an older copy
// without `defer` emits CREATE_PAGE too, and this hook defers it again.
exports.onCreatePage = ({ page, actions, store }, pluginOptions) => {
  stats.pagesSeen += 1
  if (page.defer === true) return // the site deferred it already
  if (page.mode === 'SSR') return // server-rendered pages are not ours to change
  if (isStatusPage(page.path)) return
  if (!policyFor(pluginOptions).shouldDefer(page.path)) return
  if (!isCurrent(page, store)) return

  actions.createPage({ ...page, defer: true })
  stats.deferredByPlugin.add(page.path)
}

function siteDirectory(store) {
  const state = store && store.getState ? store.getState() : null
  return (state && state.program && state.program.directory) || process.cwd()
}

/**
 * The gatsby-config options that decide how the built site is served. Gatsby records neither in
 * public/, and the server must not execute gatsby-config itself.
 */
function siteOptions(store) {
  const state = store && store.getState ? store.getState() : {}
  const config = state.config || {}
  return {
    pathPrefix: config.pathPrefix || '',
    // Whether this build was made with `--prefix-paths` (its links then carry the prefix).
    prefixPaths: Boolean(state.program && state.program.prefixPaths),
    trailingSlash: config.trailingSlash || 'always',
    headers: Array.isArray(config.headers) ? config.headers : [],
    // Every createRedirect (Gatsby's .cache/redirects.json holds only the in-browser ones).
    redirects: (state.redirects || []).map((r) => ({
      fromPath: r.fromPath,
      toPath: r.toPath,
      isPermanent: Boolean(r.isPermanent),
      statusCode: r.statusCode || undefined,
      ignoreCase: Boolean(r.ignoreCase),
      force: Boolean(r.force),
      conditions: redirectConditions(r.conditions),
    })),
    // Proxied by `gatsby serve` at /__third-party-proxy (Partytown), and only these.
    partytownProxiedURLs: Array.isArray(config.partytownProxiedURLs) ? config.partytownProxiedURLs : [],
  }
}

/** createRedirect's `conditions` (`language`, `country`: a value or a list) as lists. */
function redirectConditions(conditions) {
  const list = (value) => (value === undefined || value === null ? [] : [].concat(value).map(String))
  const { language, country, ...other } = conditions || {}
  if (Object.keys(other).length > 0) {
    // Unknown conditions cannot be evaluated: the redirect must not apply to everyone.
    return { language: list(language), country: list(country), unknown: Object.keys(other) }
  }
  return { language: list(language), country: list(country) }
}

function pagesOfMode(sitePages, mode) {
  return sitePages
    .filter((page) => page.mode === mode)
    .map((page) => ({
      path: page.path,
      matchPath: page.matchPath || null,
      componentChunkName: page.componentChunkName,
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

function buildManifest(sitePages, store) {
  return {
    version: MANIFEST_VERSION,
    buildId: crypto.randomBytes(16).toString('hex'),
    builtAt: new Date().toISOString(),
    site: siteOptions(store),
    // Deferred (DSG) pages.
    pages: pagesOfMode(sitePages, 'DSG'),
    // Server-rendered pages (getServerData): rendered for every request.
    ssrPages: pagesOfMode(sitePages, 'SSR'),
  }
}

/**
 * The manifest as JSON, one page a line: readable (and `jq`-able) at a million pages, without the
 * indentation that made version 1 ~140 bytes a page.
 */
function manifestJson(manifest) {
  const { pages, ssrPages, ...head } = manifest
  const list = (items) =>
    items.length === 0 ? '[]' : `[\n${items.map((p) => `    ${JSON.stringify(p)}`).join(',\n')}\n  ]`
  const text = JSON.stringify(head, null, 2)
  return `${text.slice(0, -2)},\n  "pages": ${list(pages)},\n  "ssrPages": ${list(ssrPages)}\n}\n`
}

/** The manifest without its page lists, with how many each has. */
function headJson(manifest) {
  const { pages, ssrPages, ...head } = manifest
  return `${JSON.stringify({ ...head, manifest: MANIFEST_FILE, counts: { pages: pages.length, ssrPages: ssrPages.length } }, null, 2)}\n`
}

function writeFileAtomic(file, contents) {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`
  try {
    fs.writeFileSync(tmp, contents)
    fs.renameSync(tmp, file)
  } catch (err) {
    fs.rmSync(tmp, { force: true })
    throw err
  }
}

exports.onPostBuild = ({ getNodesByType, reporter, store }) => {
  // `mode` is materialised on SitePage nodes before onPostBuild runs.
  const sitePages = getNodesByType('SitePage')
  const manifest = buildManifest(sitePages, store)

  const dir = path.join(siteDirectory(store), MANIFEST_DIR)
  fs.mkdirSync(dir, { recursive: true })
  writeFileAtomic(path.join(dir, MANIFEST_FILE), manifestJson(manifest))
  // After the manifest: a head of another build beside a manifest is refused by the server.
  writeFileAtomic(path.join(dir, HEAD_FILE), headJson(manifest))

  // What the server will not do is said now, not found later as a silent 404.
  for (const redirect of manifest.site.redirects) {
    if (redirect.conditions.unknown) {
      reporter.warn(
        `gatsby-dsg: the redirect from ${redirect.fromPath} has conditions gatsby-dsg cannot evaluate ` +
          `(${redirect.conditions.unknown.join(', ')}; it evaluates language and country): it will never apply`,
      )
    }
  }
  reporter.info(
    `gatsby-dsg: deferred ${manifest.pages.length} of ${sitePages.length} pages ` +
      `(${stats.deferredByPlugin.size} by path globs), ${manifest.ssrPages.length} server-rendered (SSR)`,
  )
  // Gatsby Functions (src/api/**) are compiled by Gatsby itself into .cache/functions/, which
  // the server reads; the build only says how many it will serve.
  const functions = store.getState().functions || []
  if (functions.length > 0) {
    reporter.info(`gatsby-dsg: will serve ${functions.length} Gatsby Functions under /api/`)
  }
}
