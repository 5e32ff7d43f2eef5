'use strict'
// What a `gatsby build` left in a site: public/, the deferred-page manifest written by
// gatsby-dsg/gatsby-plugin, Gatsby's rendering engines. Every problem is one clear sentence.

const fs = require('fs')
const path = require('path')
const { trailingSlashOption } = require('./gatsby-versions')

const MANIFEST = path.join('.cache', 'gatsby-dsg', 'deferred-pages.json')
// The manifest without its page lists (gatsby-dsg's plugin writes it from manifest version 2 on,
// after the manifest): all JavaScript reads. The engine reads the page lists from the manifest.
const MANIFEST_HEAD = path.join('.cache', 'gatsby-dsg', 'manifest-head.json')
const MANIFEST_VERSION = 2
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
 * @returns {{ root: string, publicDir: string, buildId: string, manifestFile?: string, manifestBuildId?: string, deferredPageCount: number, ssrPageCount: number, hasEngines: boolean, options: object }}
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
      deferredPageCount: 0,
      ssrPageCount: 0,
      hasEngines,
      options,
      unserved: unserved(),
    }
  }

  const manifest = readManifestHead(root, manifestFile)
  const { pages: deferredPageCount, ssrPages: ssrPageCount } = manifest.counts
  if (deferredPageCount + ssrPageCount > 0 && !hasEngines) {
    throw new SiteError(
      `${root} has ${deferredPageCount} deferred and ${ssrPageCount} SSR pages but Gatsby's rendering engines are missing ` +
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
    // The page lists stay in the file: the engine reads them (and checks the build id).
    manifestFile,
    manifestBuildId: manifest.buildId,
    deferredPageCount,
    ssrPageCount,
    hasEngines,
    options: readSiteOptions(root, manifest),
    unserved: unserved(),
  }
}

/**
 * The manifest's head: version, buildId, site options and how many pages each list has. Version 2
 * builds have it beside the manifest; a manifest without one (version 1, gatsby-dsg before the head
 * file) is read whole, once, for the same facts (its page lists are dropped here and read by the
 * engine).
 */
function readManifestHead(root, manifestFile) {
  const headFile = path.join(root, MANIFEST_HEAD)
  if (fs.existsSync(headFile)) {
    const head = readJson(headFile, "gatsby-dsg's page manifest head")
    if (head.version !== MANIFEST_VERSION || !head.counts) {
      throw new SiteError(
        `${headFile} has manifest version ${head.version}, which this gatsby-dsg does not read: ` +
          "run `gatsby build` again with this gatsby-dsg's plugin",
      )
    }
    return head
  }
  // Without its head (a version 1 manifest, or a .cache copied in part): the whole manifest,
  // read here once for the same facts.
  const manifest = readJson(manifestFile, "gatsby-dsg's page manifest")
  if (manifest.version !== 1 && manifest.version !== MANIFEST_VERSION) {
    throw new SiteError(
      `${manifestFile} has manifest version ${manifest.version}, which this gatsby-dsg does not read: ` +
        "run `gatsby build` again with this gatsby-dsg's plugin",
    )
  }
  return {
    version: manifest.version,
    buildId: manifest.buildId,
    site: manifest.site,
    counts: { pages: (manifest.pages || []).length, ssrPages: (manifest.ssrPages || []).length },
  }
}

/**
 * What of the site gatsby-dsg does not serve, for the start-up line. Nothing known today:
 * Partytown's proxy, the last entry, is served since the engine fetches `partytownProxiedURLs`.
 */
function unserved() {
  return []
}

module.exports = { readSite, SiteError, MANIFEST, MANIFEST_HEAD, MANIFEST_VERSION }
