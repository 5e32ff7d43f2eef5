'use strict'
// `gatsby-dsg serve` as a function: read the build, load Gatsby's engines, start the Rust server.

const path = require('path')
const { startServer, defaults } = require('..')
const { readSite } = require('./site')
const { loadEngines, createRenderer, createSsrRenderer } = require('./gatsby-engines')
const { RenderWorkers, mib } = require('./render-workers')
const { FunctionsProcess, readFunctions } = require('./functions')

/** The environment variable an admin token is read from when none is given. */
const ADMIN_TOKEN_ENV = 'GATSBY_DSG_ADMIN_TOKEN'

/** The engine's defaults (the one source, from the addon), and those of `serve()` alone. */
const DEFAULTS = Object.freeze({
  ...defaults(),
  cacheDir: path.join('.cache', 'gatsby-dsg', 'artifacts'),
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
  // (Gatsby's jobs also write the files they make into public/ there.)
  const deferred = site.deferredPageCount + site.ssrPageCount > 0
  if (deferred && process.cwd() !== site.root) process.chdir(site.root)
  // With render workers, the engines run in worker threads; with 0, in this thread; undefined:
  // as many workers as RenderWorkers chooses once the first is ready.
  const workerCount = deferred ? settings.renderWorkers : 0
  const engines = deferred && workerCount === 0 ? loadEngines(site.root) : undefined
  const render = engines ? createRenderer(engines) : undefined
  const renderSsr = engines ? createSsrRenderer(engines) : undefined
  // Gatsby Functions run in a child process of their own (lib/functions/index.js says why). It
  // loads every function before it reports their routes (1.8 s for the example's 12): the
  // server does not wait for that to listen — static files and pages are served meanwhile, and a
  // request under /api/ waits for the routes (at most the function timeout, then a 503).
  const functions =
    readFunctions(site.root).length > 0
      ? new FunctionsProcess({ root: site.root, timeoutMs: settings.functionTimeoutMs })
      : null
  const functionsStarted = functions ? functions.start() : null
  // Awaited below; a rejection while the server starts must not count as unhandled meanwhile.
  if (functionsStarted) functionsStarted.catch(() => {})
  let server
  try {
    server = await startServer(engineOptions(site, settings, functions), render, renderSsr)
  } catch (error) {
    if (functions) await functions.close()
    throw error
  }
  let workers
  if (workerCount === undefined || workerCount > 0) {
    workers = new RenderWorkers(server, {
      root: site.root,
      count: workerCount,
      renderTimeoutMs: settings.renderTimeoutMs,
      recycleAfter: settings.recycleAfter,
      recycleMemory: settings.recycleMemory,
      cacheBytes: settings.memoryCacheBytes,
    })
  }
  // The render workers and the functions process start side by side; serve() resolves once both
  // are ready, and a failure of either closes all of it (with the error of the first to fail).
  const starting = []
  if (workers) starting.push(workers.start())
  if (functions) starting.push(functionsStarted.then((routes) => server.setFunctionRoutes(functionRoutes(routes))))
  try {
    await Promise.all(starting)
  } catch (error) {
    await server.close()
    if (functions) await functions.close()
    if (workers) await workers.close()
    throw error
  }
  return new Server(server, workers, functions, site.unserved)
}

/** What the Rust engine is started with (the function routes come later: `setFunctionRoutes`). */
function engineOptions(site, settings, functions) {
  return {
    host: settings.host,
    port: settings.port,
    publicDir: site.publicDir,
    cacheDir: settings.cacheDir === false ? undefined : path.resolve(site.root, settings.cacheDir),
    buildId: site.buildId,
    memoryCacheBytes: settings.memoryCacheBytes,
    staticCacheBytes: settings.staticCacheBytes,
    renderTimeoutMs: settings.renderTimeoutMs,
    // Both page lists are read by the engine from the manifest (none for a static site).
    manifestFile: site.manifestFile,
    manifestBuildId: site.manifestBuildId,
    // As `gatsby serve`: the site is under its pathPrefix only with --prefix-paths.
    pathPrefix: settings.prefixPaths && site.options.pathPrefix ? site.options.pathPrefix : undefined,
    trailingSlash: site.options.trailingSlash,
    headers: site.options.headers,
    redirects: site.options.redirects,
    clientRoutes: site.options.clientRoutes,
    partytownProxiedURLs: site.options.partytownProxiedURLs,
    sharedMaxAgeSeconds: settings.cdnMaxAge,
    revalidateSeconds: settings.revalidate,
    renderSlots: settings.renderSlots,
    maxQueuedRenders: settings.maxQueuedRenders,
    adminToken: settings.adminToken || process.env[ADMIN_TOKEN_ENV] || undefined,
    accessLog: settings.accessLog,
    redisUrl: settings.redis,
    redisNamespace: settings.redisNamespace,
    redisLockTtlMs: settings.redisLockTtlMs,
    redisTtlSeconds: settings.redisTtl,
    redisCaFile: settings.redisCa && path.resolve(settings.redisCa),
    redisCertFile: settings.redisCert && path.resolve(settings.redisCert),
    redisKeyFile: settings.redisKey && path.resolve(settings.redisKey),
    countryHeader: settings.countryHeader,
    maxRequestHeadBytes: settings.maxRequestHeadBytes,
    functions: functions
      ? {
          sockets: [functions.socketPath],
          timeoutMs: settings.functionTimeoutMs,
          maxBodyBytes: settings.functionMaxBodyBytes,
        }
      : undefined,
  }
}

/** The routes the functions process reported, as the engine takes them. */
function functionRoutes(routes) {
  return routes.map((r) => ({
    functionRoute: r.functionRoute,
    matchPath: r.matchPath ?? undefined,
    bodyLimits: r.bodyLimits,
  }))
}

/**
 * The running server: the addon's `DsgServer` with the render workers it owns. Like a Node
 * `net.Server`, it keeps the process alive (a static site has no render callback or worker that
 * would) until `close()`, which also ends the render workers.
 */
class Server {
  #native
  #workers
  #functions
  #keepAlive

  constructor(native, workers, functions, unserved = []) {
    this.#native = native
    this.#workers = workers
    this.#functions = functions
    // What of the site is not served (named at start-up, never a silent 404).
    this.unserved = unserved
    this.#keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  }

  get port() {
    return this.#native.port
  }

  get address() {
    return this.#native.address
  }

  get serverId() {
    return this.#native.serverId
  }

  /** The child process running the site's Gatsby Functions; undefined when it has none. */
  get functionsProcess() {
    return this.#functions
  }

  /** The render worker threads; undefined when renders run in this thread or nothing is deferred. */
  get renderWorkerPool() {
    return this.#workers
  }

  summary() {
    return this.#native.summary()
  }

  stats() {
    return this.#native.stats()
  }

  metrics() {
    return this.#native.metrics()
  }

  /**
   * The Rust pool's view of the renderers (id, renders, inFlight, oldestRenderMs, retiring) and,
   * for render workers, each one's own memory: `memoryBytes` now, `readyBytes` when it was ready,
   * `grownBytes` since then.
   */
  renderWorkers() {
    const renderers = this.#native.renderWorkers()
    if (!this.#workers) return renderers
    const memory = this.#workers.memoryByRenderer()
    return renderers.map((r) => {
      const m = memory.get(r.id)
      return m ? { ...r, memoryBytes: m.bytes, readyBytes: m.readyBytes, grownBytes: m.grownBytes } : r
    })
  }

  removeRenderer(rendererId) {
    return this.#native.removeRenderer(rendererId)
  }

  retireRenderer(rendererId) {
    return this.#native.retireRenderer(rendererId)
  }

  purge(options) {
    return this.#native.purge(options)
  }

  deferredPages(glob) {
    return this.#native.deferredPages(glob)
  }

  warm(pagePath) {
    return this.#native.warm(pagePath)
  }

  async close() {
    await this.#native.close()
    if (this.#functions) await this.#functions.close()
    if (this.#workers) await this.#workers.close()
    clearInterval(this.#keepAlive)
  }
}

/** The one start-up line: where, and what is served. */
function describe(server, host) {
  const s = server.summary()
  const url = `http://${host}:${server.port}${s.pathPrefix || ''}/`
  const fns = s.functions > 0 ? `, ${s.functions} functions under ${s.pathPrefix || ''}/api/` : ''
  const unserved = describeUnserved(server.unserved || [])
  if (s.deferredPages === 0 && !s.ssrPages) {
    return `gatsby-dsg: serving ${url} — ${s.staticPages} static pages, no deferred pages (static site)${fns}${unserved}`
  }
  // Unknown while a big disk cache is still being counted in the background (served meanwhile).
  const stored =
    s.generatedPages === undefined || s.generatedPages === null
      ? 'stored pages still being counted'
      : `${s.generatedPages} already generated`
  const pool = server.renderWorkerPool
  const chosen = pool && pool.choice ? ` (${pool.choice.reason})` : ''
  const workers = pool
    ? `, ${pool.ready()} of ${pool.count} render workers ready${chosen}${describeRecycling(pool)}`
    : ''
  const ssr = s.ssrPages ? `, ${s.ssrPages} SSR pages` : ''
  return (
    `gatsby-dsg: serving ${url} — ${s.staticPages} static pages, ${s.deferredPages} deferred pages ` +
    `(${stored})${ssr}${workers}${fns}${unserved}`
  )
}

/** `, recycled after 10000 renders or 855 MiB of growth (auto: …)` */
function describeRecycling(pool) {
  const bounds = []
  if (pool.recycleAfter) bounds.push(`${pool.recycleAfter} renders`)
  if (pool.recycleMemory) {
    const why = pool.recycleMemoryChoice ? ` (${pool.recycleMemoryChoice.reason})` : ''
    bounds.push(`${mib(pool.recycleMemory)} of growth${why}`)
  }
  return bounds.length ? `, recycled after ${bounds.join(' or ')}` : ', never recycled'
}

/** `; NOT served (404): 2 Partytown proxied URLs (/__third-party-proxy?url=…, …)` */
function describeUnserved(unserved) {
  if (unserved.length === 0) return ''
  const parts = unserved.map((u) => `${u.count} ${u.what} (${u.example}${u.count > 1 ? ', …' : ''})`)
  return `; NOT served (404): ${parts.join(', ')}`
}

function withoutUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined))
}

module.exports = { serve, describe, engineOptions, Server, DEFAULTS, ADMIN_TOKEN_ENV }
