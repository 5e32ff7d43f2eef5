'use strict'
// The bridge to Gatsby's own rendering engines, as `gatsby serve` uses them. The Rust engine calls
// `render(pagePath)` only for a deferred page that no cache tier has. What differs between
// Gatsby versions is in ./gatsby-versions.js.

const path = require('path')
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
 * `render(pagePath)` for the Rust engine: one query (`getData`) serves both artifacts. Resolves
 * as soon as the page-data exists; the HTML follows as a promise.
 */
function createRenderer(engines) {
  const { getData, renderPageData, renderHTML } = engines
  return async function render(pagePath) {
    let data, pageData
    try {
      data = await getData({ pathName: pagePath })
      pageData = await renderPageData({ data })
    } catch (error) {
      throw withStack(error)
    }
    const html = Promise.resolve()
      .then(() => renderHTML({ data, pageData }))
      .then((document) => {
        if (typeof document !== 'string') throw new Error(`renderHTML returned ${typeof document}, not a string`)
        return document
      }, (error) => {
        throw withStack(error)
      })
    // Rust awaits this promise; mark it handled so a rejection before then is not fatal to Node.
    html.catch(() => {})
    return { pageData: JSON.stringify(pageData), html }
  }
}

module.exports = { loadEngines, createRenderer }
