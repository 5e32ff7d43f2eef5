'use strict'
// The bridge to Gatsby's own rendering engines, as `gatsby serve` uses them. The Rust engine calls
// `render(pagePath)` only for a deferred page that no cache tier has, and `renderSsr(request)` for
// a request of an SSR page (`getServerData`) that its SSR cache cannot answer. What differs between
// Gatsby versions is in ./gatsby-versions.js.

const path = require('path')
const querystring = require('querystring')
const { adaptEngines, builtWithGatsby } = require('./gatsby-versions')

/**
 * Loads `.cache/query-engine` and `.cache/page-ssr` of the site at `root` (once per process),
 * as the version-independent API of ./gatsby-versions.js.
 */
function loadEngines(root) {
  const { GraphQLEngine } = require(path.join(root, '.cache', 'query-engine'))
  const pageSsr = require(path.join(root, '.cache', 'page-ssr'))
  const graphqlEngine = new GraphQLEngine({ dbPath: path.join(root, '.cache', 'data', 'datastore') })
  try {
    return adaptEngines(pageSsr, graphqlEngine)
  } catch (error) {
    // Name the version only when the engines are not ones we know (reading it costs a file read).
    const gatsbyVersion = builtWithGatsby(root)
    throw gatsbyVersion ? new Error(`${error.message} (this site was built with Gatsby ${gatsbyVersion})`) : error
  }
}

/** An Error whose message carries the original stack, so the server's log shows where it threw. */
function withStack(error) {
  const described = error instanceof Error ? error.stack || error.message : String(error)
  return new Error(described)
}

/**
 * `render(pagePath, first)` for the Rust engine: one query (`getData`) serves both artifacts.
 * `first` is the artifact the request that started the render waits for. For `'page-data'` it
 * resolves as soon as the page-data exists, the HTML following as a promise (a `<Link>`
 * navigation does not wait for the HTML); for `'html'` it resolves once, with the HTML itself:
 * one completion reaches Rust instead of two, one wake-up of the waiting render instead of two.
 * An HTML that fails is a rejected promise either way: the page-data is still served and stored.
 */
function createRenderer(engines) {
  const { getData, renderPageData, renderHTML } = engines
  return async function render(pagePath, first) {
    let data, pageData
    try {
      data = await getData({ pathName: pagePath })
      pageData = await renderPageData({ data })
    } catch (error) {
      throw withStack(error)
    }
    const html = Promise.resolve()
      .then(() => renderHTML({ data, pageData }))
      .then(
        (document) => {
          if (typeof document !== 'string') throw new Error(`renderHTML returned ${typeof document}, not a string`)
          return document
        },
        (error) => {
          throw withStack(error)
        },
      )
    // Rust awaits this promise; mark it handled so a rejection before then is not fatal to Node.
    html.catch(() => {})
    const json = JSON.stringify(pageData)
    if (first === 'html') {
      try {
        return { pageData: json, html: await html }
      } catch {
        // Handed over as the rejected promise it is.
      }
    }
    return { pageData: json, html }
  }
}

/**
 * `renderSsr(request)` for the Rust engine: one `getData` with the request as Gatsby's `req`
 * (`getServerData` gets its method, url, query and headers), then the HTML or the page-data.
 * `request`: `{ path, pageData, method, url, query, headers: [{ key, value }] }` (`path` is the
 * page's URL or its page-data URL; `getData` accepts both). Resolves to `{ status, headers, body }`
 * with `data.serverDataStatus` and `data.serverDataHeaders` (Gatsby's defaults, gatsby-config
 * `headers` and getServerData's since 5.12; getServerData's only before).
 */
function createSsrRenderer(engines) {
  const { getData, renderPageData, renderHTML, serverDataHeaders } = engines
  return async function renderSsr(request) {
    const headers = {}
    for (const { key, value } of request.headers) headers[key] = value
    // Express's req.query (the `querystring` parser: a repeated key is an array).
    const req = { method: request.method, url: request.url, query: { ...querystring.parse(request.query) }, headers }
    try {
      const data = await getData({ pathName: request.path, req })
      let body
      if (request.pageData) {
        body = JSON.stringify(await renderPageData({ data }))
      } else {
        body = await renderHTML({ data })
        if (typeof body !== 'string') throw new Error(`renderHTML returned ${typeof body}, not a string`)
      }
      return { status: data.serverDataStatus || undefined, headers: headerList(serverDataHeaders(data)), body }
    } catch (error) {
      throw withStack(error)
    }
  }
}

/** `{ name: value | value[] }` → `[{ key, value }]` (an array value is one header line each). */
function headerList(headers) {
  const list = []
  for (const [key, value] of Object.entries(headers || {})) {
    if (value === undefined || value === null) continue
    for (const one of Array.isArray(value) ? value : [value]) list.push({ key, value: String(one) })
  }
  return list
}

module.exports = { loadEngines, createRenderer, createSsrRenderer }
