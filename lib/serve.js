'use strict'
// `gatsby-dsg serve` as a function: read the build, load Gatsby's engines, start the Rust server.

const path = require('path')
const { startServer } = require('..')
const { readSite } = require('./site')
const { loadEngines, createRenderer } = require('./gatsby-engines')
const { RenderWorkers, defaultWorkerCount } = require('./render-workers')

const DEFAULTS = Object.freeze({
  host: 'localhost',
  port: 9000,
  cacheDir: path.join('.cache', 'gatsby-dsg', 'artifacts'),
  memoryCacheBytes: 256 * 1024 * 1024,
  staticCacheBytes: 64 * 1024 * 1024,
  renderTimeoutMs: 30_000,
  prefixPaths: false,
})

/**
 * Starts serving the built Gatsby site at `options.root` (default: the working directory).
 * Resolves to the running server (`.port`, `.address`, `.stats()`, `.summary()`, `.close()`).
 */
async function serve(options = {}) {
  const site = readSite(options.root || process.cwd())
  const settings = { ...DEFAULTS, ...withoutUndefined(options) }
  // Gatsby's engines resolve some files relative to the working directory: it must be the site.
  const deferred = site.deferredPages.length > 0
  if (deferred && process.cwd() !== site.root) process.chdir(site.root)
  // With render workers, the engines run in worker threads; with 0, in this thread.
  const workerCount = deferred ? (settings.renderWorkers ?? defaultWorkerCount()) : 0
  const render = deferred && workerCount === 0 ? createRenderer(loadEngines(site.root)) : undefined
  const server = await startServer(
    {
      host: settings.host,
      port: settings.port,
      publicDir: site.publicDir,
      cacheDir: settings.cacheDir === false ? undefined : path.resolve(site.root, settings.cacheDir),
      buildId: site.buildId,
      memoryCacheBytes: settings.memoryCacheBytes,
      staticCacheBytes: settings.staticCacheBytes,
      renderTimeoutMs: settings.renderTimeoutMs,
      deferredPages: site.deferredPages,
      // As `gatsby serve`: the site is under its pathPrefix only with --prefix-paths.
      pathPrefix: settings.prefixPaths && site.options.pathPrefix ? site.options.pathPrefix : undefined,
      trailingSlash: site.options.trailingSlash,
      headers: site.options.headers,
      redirects: site.options.redirects,
      clientRoutes: site.options.clientRoutes,
      sharedMaxAgeSeconds: settings.cdnMaxAge,
      revalidateSeconds: settings.revalidate,
      renderSlots: settings.renderSlots,
      maxQueuedRenders: settings.maxQueuedRenders,
      adminToken: settings.adminToken || process.env.GATSBY_DSG_ADMIN_TOKEN || undefined,
      accessLog: settings.accessLog,
      redisUrl: settings.redis,
      redisNamespace: settings.redisNamespace,
      redisLockTtlMs: settings.redisLockTtlMs,
    },
    render,
  )
  let workers
  if (workerCount > 0) {
    workers = new RenderWorkers(server, {
      root: site.root,
      count: workerCount,
      renderTimeoutMs: settings.renderTimeoutMs,
      recycleAfter: settings.recycleAfter,
    })
    try {
      await workers.start()
    } catch (error) {
      await server.close()
      throw error
    }
  }
  return withLifecycle(server, workers)
}

/**
 * Like a Node `net.Server`, a running server keeps the process alive (a static site has no
 * render callback or worker that would), until `close()`, which also ends the render workers.
 */
function withLifecycle(server, workers) {
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const close = server.close.bind(server)
  Object.defineProperty(server, 'renderWorkerPool', { value: workers })
  Object.defineProperty(server, 'close', {
    value: async () => {
      await close()
      if (workers) await workers.close()
      clearInterval(keepAlive)
    },
  })
  return server
}

/** The one start-up line: where, and what is served. */
function describe(server, host) {
  const s = server.summary()
  const url = `http://${host}:${server.port}${s.pathPrefix || ''}/`
  if (s.deferredPages === 0) {
    return `gatsby-dsg: serving ${url} — ${s.staticPages} static pages, no deferred pages (static site)`
  }
  const pool = server.renderWorkerPool
  const workers = pool ? `, ${pool.ready()} of ${pool.count} render workers ready` : ''
  return (
    `gatsby-dsg: serving ${url} — ${s.staticPages} static pages, ${s.deferredPages} deferred pages ` +
    `(${s.generatedPages} already generated)${workers}`
  )
}

function withoutUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined))
}

module.exports = { serve, describe, DEFAULTS }
