'use strict'
// What differs between the Gatsby versions gatsby-dsg serves (4.25 and 5.0–5.16), in one place.
// The rest of lib/ calls Gatsby's engines only through `adaptEngines`.
//
// Each difference is detected from what the site's build holds — what its engines export, what
// its config recorded — never from a version number: a deployed site need not carry
// node_modules/gatsby, and a detected capability cannot disagree with the engine that runs.
// The version is read only to be reported (`builtWithGatsby`, from the gatsby package.json that
// Gatsby bundles into its query engine).
//
// Differences, read in the published packages 4.25.9, 5.12.12 and 5.16.1
// (node_modules/gatsby/dist/utils/page-ssr-module/entry.js, dist/commands/serve.js):
// - page lookup: `findEnginePageByPath` exported by .cache/page-ssr from 5.14, which finds DSG
//   and SSR pages only; before it, `graphqlEngine.findPageByPath` (still there from 5.14 on,
//   deprecated), which finds SSG pages too (measured on the fixture builds: /blog/post-1/ is
//   found with mode SSG by 4.25 and 5.12, not found by 5.16). `findPage` finds what 5.14+ does.
//   `getData` looks the page up itself in every version.
// - `data.serverDataHeaders` from getData: before 5.12 getServerData's `headers` only (or
//   undefined); from 5.12 Gatsby's default headers, then gatsby-config `headers`, then
//   getServerData's. `serverDataHeaders(data)` below is meant to be laid over the defaults and
//   config headers, which gives the same response headers for every version.
// - static queries and slices are read by the engine itself from its own directory
//   (4.25: `sq-context/<template>/sq-context.json`; 5.12+: `sq/<hash>.json`, `slice-data/`):
//   nothing to do here but run the engine with the site as working directory.
// - `trailingSlash`: Gatsby 4's default is `legacy`, which `gatsby serve` 4.25 serves without
//   any trailing-slash redirect (`configureTrailingSlash` acts on `always` and `never` only),
//   i.e. as `ignore`. Gatsby 5 has no `legacy` and defaults to `always`.
//
// `getData`, `renderPageData` (resolves to an object) and `renderHTML({ data, pageData })`
// (reuses the page-data, no second query) have the same signatures in all of them.

const fs = require('fs')
const path = require('path')

const SUPPORTED = 'Gatsby 4.25 and 5.x'
const RENDER_EXPORTS = ['getData', 'renderPageData', 'renderHTML']

/**
 * The one API lib/ uses to render with the engines of a Gatsby build, whatever its version.
 * `pageSsr`: what `.cache/page-ssr` exports; `graphqlEngine`: a `GraphQLEngine` of
 * `.cache/query-engine`. Throws one clear sentence when the engines are not ones we know.
 */
function adaptEngines(pageSsr, graphqlEngine) {
  const missing = RENDER_EXPORTS.filter((name) => typeof pageSsr[name] !== 'function')
  if (missing.length > 0) {
    throw new Error(
      `Gatsby's page engine (.cache/page-ssr) does not export ${missing.join(', ')}: gatsby-dsg supports ${SUPPORTED}`,
    )
  }
  let pageLookup, findPage
  if (typeof pageSsr.findEnginePageByPath === 'function') {
    pageLookup = 'findEnginePageByPath'
    findPage = (pagePath) => pageSsr.findEnginePageByPath(pagePath)
  } else if (graphqlEngine && typeof graphqlEngine.findPageByPath === 'function') {
    pageLookup = 'graphqlEngine.findPageByPath'
    // It also returns SSG pages; findEnginePageByPath only the engine's own (DSG, SSR).
    findPage = (pagePath) => {
      const page = graphqlEngine.findPageByPath(pagePath)
      return page && page.mode !== 'SSG' ? page : undefined
    }
  } else {
    throw new Error(
      `Gatsby's engines have no page lookup (findEnginePageByPath, findPageByPath): gatsby-dsg supports ${SUPPORTED}`,
    )
  }
  return {
    /** Which lookup these engines have (reported by tests and errors). */
    pageLookup,
    /** The DSG or SSR page of a path (slash variants and percent-encoding accepted); undefined for SSG and unknown paths. */
    findPage,
    /** Runs the page query (and getServerData for SSR pages); `req` only for SSR. */
    getData: ({ pathName, req }) => pageSsr.getData({ pathName, graphqlEngine, req }),
    /** The page-data object (JSON.stringify it for page-data.json). */
    renderPageData: ({ data }) => pageSsr.renderPageData({ data }),
    /** The HTML document, from the same data and page-data. */
    renderHTML: ({ data, pageData }) => pageSsr.renderHTML({ data, pageData }),
    serverDataHeaders,
  }
}

/**
 * The headers getData produced, as a plain object: getServerData's (before 5.12) or Gatsby's
 * defaults, config headers and getServerData's (5.12+). Lay it over the defaults and config
 * headers: the result is the same for both.
 */
function serverDataHeaders(data) {
  const headers = data && data.serverDataHeaders
  if (!headers || typeof headers !== 'object') return {}
  return Object.fromEntries(headers instanceof Map ? headers : Object.entries(headers))
}

/** gatsby-config `trailingSlash` as the server takes it (`legacy`, Gatsby 4's default, is `ignore`). */
function trailingSlashOption(recorded) {
  if (recorded === 'legacy') return 'ignore'
  return recorded || 'always'
}

/**
 * The version of Gatsby that built the site at `root`, or null: from the gatsby package.json
 * that Gatsby bundles into its query engine (4.25 and 5.x do), for reports only.
 */
function builtWithGatsby(root) {
  let source
  try {
    source = fs.readFileSync(path.join(root, '.cache', 'query-engine', 'index.js'), 'utf8')
  } catch {
    return null
  }
  const match = /"name":"gatsby","description":"[^"]*","version":"(\d+\.\d+\.\d+[^"]*)"/.exec(source)
  return match ? match[1] : null
}

module.exports = { adaptEngines, serverDataHeaders, trailingSlashOption, builtWithGatsby, SUPPORTED }
