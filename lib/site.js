'use strict'
// What a `gatsby build` left in a site: public/, the deferred-page manifest written by
// gatsby-dsg/gatsby-plugin, Gatsby's rendering engines. Every problem is one clear sentence.

const fs = require('fs')
const path = require('path')
const { trailingSlashOption } = require('./gatsby-versions')

const MANIFEST = path.join('.cache', 'gatsby-dsg', 'deferred-pages.json')
const QUERY_ENGINE = path.join('.cache', 'query-engine', 'index.js')
const PAGE_SSR = path.join('.cache', 'page-ssr', 'index.js')

class SiteError extends Error {}

function readJson(file, what) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (error) {
    throw new SiteError(`cannot read ${what} ${file}: ${error.message}`)
  }
}

/** A JSON file Gatsby may or may not have written; `fallback` when it is absent. */
function readOptionalJson(file, fallback) {
  if (!fs.existsSync(file)) return fallback
  return readJson(file, "Gatsby's")
}

/** gatsby-config options as the plugin recorded them, and Gatsby's redirects and client routes. */
function readSiteOptions(root, manifest) {
  const recorded = (manifest && manifest.site) || {}
  // A build made with --prefix-paths has createRedirect's paths prefixed by Gatsby itself; the
  // server matches unprefixed paths and adds the prefix it serves under (if any) to locations.
  const unprefixed = recorded.prefixPaths ? withoutPrefix(recorded.pathPrefix) : (p) => p
  return {
    pathPrefix: recorded.pathPrefix || '',
    trailingSlash: trailingSlashOption(recorded.trailingSlash),
    headers: recorded.headers || [],
    redirects: (recorded.redirects || readOptionalJson(path.join(root, '.cache', 'redirects.json'), [])).map((r) => ({
      fromPath: unprefixed(r.fromPath),
      toPath: unprefixed(r.toPath),
      isPermanent: Boolean(r.isPermanent),
      statusCode: r.statusCode || undefined,
      ignoreCase: Boolean(r.ignoreCase),
      force: Boolean(r.force),
      conditions: r.conditions || undefined,
    })),
    partytownProxiedURLs: recorded.partytownProxiedURLs || [],
    clientRoutes: readOptionalJson(path.join(root, '.cache', 'match-paths.json'), []),
  }
}

/** `/site-prefix/about/` → `/about/` for the prefix `/site-prefix`; other paths unchanged. */
function withoutPrefix(pathPrefix) {
  const prefix = `/${String(pathPrefix || '').replace(/^\/+|\/+$/g, '')}`
  if (prefix === '/') return (p) => p
  return (p) => {
    if (typeof p !== 'string') return p
    if (p === prefix) return '/'
    return p.startsWith(`${prefix}/`) ? p.slice(prefix.length) : p
  }
}

/**
 * Reads the facts the server needs about the built site at `siteRoot`.
 * @returns {{ root: string, publicDir: string, buildId: string, deferredPages: {path: string, matchPath: string|null}[], hasEngines: boolean, options: object }}
 */
function readSite(siteRoot) {
  const root = path.resolve(siteRoot)
  const publicDir = path.join(root, 'public')
  const appDataFile = path.join(publicDir, 'page-data', 'app-data.json')
  if (!fs.existsSync(publicDir) || !fs.existsSync(appDataFile)) {
    throw new SiteError(
      `no Gatsby build found in ${root} (public/page-data/app-data.json is missing): run \`gatsby build\` first`,
    )
  }
  const appData = readJson(appDataFile, "Gatsby's")
  const hasEngines = fs.existsSync(path.join(root, QUERY_ENGINE)) && fs.existsSync(path.join(root, PAGE_SSR))

  const manifestFile = path.join(root, MANIFEST)
  if (!fs.existsSync(manifestFile)) {
    if (hasEngines) {
      throw new SiteError(
        `${root} was built with rendering engines but without gatsby-dsg's plugin, so its deferred pages are unknown: ` +
          'add "gatsby-dsg/gatsby-plugin" to the plugins in gatsby-config and run `gatsby build` again',
      )
    }
    // A site with no deferred page at all: served static.
    const options = readSiteOptions(root, null)
    return {
      root,
      publicDir,
      buildId: `static:${appData.webpackCompilationHash}`,
      deferredPages: [],
      ssrPages: [],
      hasEngines,
      options,
      unserved: unserved(),
    }
  }

  const manifest = readJson(manifestFile, "gatsby-dsg's page manifest")
  const deferredPages = (manifest.pages || []).map((p) => ({ path: p.path, matchPath: p.matchPath || undefined }))
  const ssrPages = (manifest.ssrPages || []).map((p) => ({ path: p.path, matchPath: p.matchPath || undefined }))
  if (deferredPages.length + ssrPages.length > 0 && !hasEngines) {
    throw new SiteError(
      `${root} has ${deferredPages.length} deferred and ${ssrPages.length} SSR pages but Gatsby's rendering engines are missing ` +
        `(${QUERY_ENGINE}, ${PAGE_SSR}): run \`gatsby build\` again`,
    )
  }
  // The plugin's id is new for every build (content changes included); Gatsby's compilation hash
  // covers a build made after the plugin was removed from the config.
  const buildId = `${manifest.buildId}:${appData.webpackCompilationHash}`
  return {
    root,
    publicDir,
    buildId,
    deferredPages,
    ssrPages,
    hasEngines,
    options: readSiteOptions(root, manifest),
    unserved: unserved(),
  }
}

/**
 * What of the site gatsby-dsg does not serve, for the start-up line. Nothing known today:
 * Partytown's proxy, the last entry, is served since the engine fetches `partytownProxiedURLs`.
 */
function unserved() {
  return []
}

module.exports = { readSite, SiteError, MANIFEST }
