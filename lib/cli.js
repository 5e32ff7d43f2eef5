'use strict'
// The command line: `gatsby-dsg serve`, a drop-in for `gatsby serve` after `gatsby build`, and
// `gatsby-dsg warm`, which generates deferred pages ahead of traffic.

const { Command, InvalidArgumentError, Option } = require('commander')
const parseBytes = require('bytes')
const { serve, describe, DEFAULTS, ADMIN_TOKEN_ENV } = require('./serve')
const { warm } = require('./warm')
const { AUTO_WORKERS, AUTO_RECYCLE_MEMORY, DEFAULT_RECYCLE_AFTER } = require('./render-workers')
const { version } = require('../package.json')

// Gatsby's engines replace console.log/error with their reporter's (console.error then prints
// `error <message>`), so the command line writes its own lines to the streams directly.
const out = (line) => process.stdout.write(`${line}\n`)
const err = (line) => process.stderr.write(`${line}\n`)

function port(value) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)')
  return n
}

function size(value) {
  const n = parseBytes.parse(value)
  if (n === null || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a size such as 256MB or 1GB')
  return n
}

function seconds(value) {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds')
  return Math.round(n * 1000)
}

function wholeSeconds(value) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number of seconds')
  return n
}

function wholeNumber(value) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number')
  return n
}

/** `auto` or a size (`--recycle-memory`). */
function sizeOrAuto(value) {
  return value === 'auto' ? value : size(value)
}

/** `auto` or a whole number (`--render-workers`). */
function workerCount(value) {
  return value === 'auto' ? value : wholeNumber(value)
}

function positiveInteger(value) {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number above 0')
  return n
}

/** Options shared by `serve` and `warm`: where the site and its cache are, how pages render. */
function siteOptions(command) {
  return command
    .option('--root <dir>', 'the Gatsby site (default: the working directory)')
    .option(
      '--cache-dir <dir>',
      'where generated pages are stored, per build (relative to the site)',
      DEFAULTS.cacheDir,
    )
    .addOption(
      new Option('--cache-size <size>', 'memory cache bound for generated pages, e.g. 512MB or 2GB')
        .argParser(size)
        .default(DEFAULTS.memoryCacheBytes, parseBytes.format(DEFAULTS.memoryCacheBytes)),
    )
    .addOption(
      new Option('--render-timeout <seconds>', 'fail a render that takes longer (500, not cached)')
        .argParser(seconds)
        .default(DEFAULTS.renderTimeoutMs, String(DEFAULTS.renderTimeoutMs / 1000)),
    )
    .addOption(
      new Option('--render-workers <n>', "worker threads running Gatsby's engines; 0 renders in the main thread")
        .argParser(workerCount)
        .default('auto', `auto: ${AUTO_WORKERS}`),
    )
    .addOption(
      new Option(
        '--recycle-after <renders>',
        "replace a render worker after this many renders, giving back the memory Gatsby's engine grew (0: never)",
      )
        .argParser(wholeNumber)
        .default(DEFAULT_RECYCLE_AFTER),
    )
    .addOption(
      new Option(
        '--recycle-memory <size>',
        'replace a render worker once its own memory (V8 heap and external) grew by this much, e.g. 512MB, started early enough for its replacement to load first (0: never)',
      )
        .argParser(sizeOrAuto)
        .default('auto', `auto: ${AUTO_RECYCLE_MEMORY}`),
    )
}

function serveOptions(opts, extra = {}) {
  return {
    root: opts.root,
    cacheDir: opts.cacheDir,
    memoryCacheBytes: opts.cacheSize,
    renderTimeoutMs: opts.renderTimeout,
    renderWorkers: opts.renderWorkers === 'auto' ? undefined : opts.renderWorkers,
    recycleAfter: opts.recycleAfter,
    recycleMemory: opts.recycleMemory,
    ...extra,
  }
}

function program() {
  const cli = new Command('gatsby-dsg')
    .version(version)
    .description('Serve a built Gatsby site, generating its deferred (DSG) pages once and caching them.')

  siteOptions(
    cli
      .command('serve')
      .description('serve the site in the working directory (run `gatsby build` first)')
      .option('-p, --port <port>', 'port to listen on', port, DEFAULTS.port)
      .option('-H, --host <host>', 'host to listen on', DEFAULTS.host),
  )
    .option(
      '--prefix-paths',
      "serve the site under gatsby-config's pathPrefix (as `gatsby serve --prefix-paths`)",
      DEFAULTS.prefixPaths,
    )
    .addOption(
      new Option(
        '--cdn-max-age <seconds>',
        'let shared caches (CDNs) keep generated pages this long (s-maxage, CDN-Cache-Control)',
      )
        .argParser(wholeSeconds)
        .default(null, 'none'),
    )
    .addOption(
      new Option(
        '--revalidate <seconds>',
        'serve pages older than this as STALE while one background render refreshes them',
      )
        .argParser(positiveInteger)
        .default(null, 'none: pages stay valid for the whole build'),
    )
    .addOption(
      new Option('--max-queued-renders <n>', 'renders allowed to wait for a render slot; past it, 503 with Retry-After')
        .argParser(positiveInteger)
        .default(DEFAULTS.maxQueuedRenders),
    )
    .addOption(
      new Option(
        '--function-timeout <seconds>',
        'answer 504 for a Gatsby Function that has not started its response by then',
      )
        .argParser(seconds)
        .default(DEFAULTS.functionTimeoutMs, String(DEFAULTS.functionTimeoutMs / 1000)),
    )
    .addOption(
      new Option(
        '--function-max-body <size>',
        "largest request body a Gatsby Function receives (its config's body-parser limits apply below it)",
      )
        .argParser(size)
        .default(DEFAULTS.functionMaxBodyBytes, parseBytes.format(DEFAULTS.functionMaxBodyBytes)),
    )
    .addOption(
      new Option(
        '--admin-token <token>',
        'enable /__dsg/health, /__dsg/metrics and POST /__dsg/purge for this bearer token',
      )
        // No `.env()`: serve() reads the variable, for the CLI and the JS API alike.
        .default(null, `$${ADMIN_TOKEN_ENV}, else none: /__dsg/ is a 404`),
    )
    .addOption(new Option('--log-format <format>', 'access log format').choices(['text', 'json']).default('text'))
    .option('--no-access-log', 'do not log one line per request (default: every request is logged)')
    .addOption(
      new Option(
        '--redis <url>',
        'share generated pages with other instances through Redis: redis://host:6379/, rediss:// (TLS), ' +
          'redis+cluster://host:port,host:port (a Redis Cluster; rediss+cluster:// with TLS)',
      )
        .env('GATSBY_DSG_REDIS_URL')
        .default(null, 'none: this instance alone'),
    )
    .option('--redis-namespace <name>', 'Redis key namespace; instances of one site share it', DEFAULTS.redisNamespace)
    .addOption(
      new Option('--redis-ttl <seconds>', 'let generated pages expire in Redis this long after they are stored')
        .argParser(positiveInteger)
        .default(null, 'none: kept until purged or evicted'),
    )
    .addOption(
      new Option('--redis-ca <file>', 'PEM CA certificates that alone are trusted for a rediss:// server').default(
        null,
        "the system's roots",
      ),
    )
    .addOption(
      new Option('--redis-cert <file>', 'PEM client certificate for rediss:// (with --redis-key)').default(
        null,
        'none',
      ),
    )
    .addOption(new Option('--redis-key <file>', 'PEM key of --redis-cert').default(null, 'none'))
    .addOption(
      new Option(
        '--country-header <name>',
        "request header a CDN sets to the visitor's country (e.g. CF-IPCountry), for createRedirect `country` conditions",
      ).default(null, 'none: country-conditioned redirects never apply'),
    )
    .addOption(
      new Option(
        '--max-header-size <size>',
        'refuse request heads (request line and headers) larger than this with 431',
      )
        .argParser(size)
        .default(DEFAULTS.maxRequestHeadBytes, '16KB, as Node (gatsby serve); at least 8KB'),
    )
    .addOption(
      new Option(
        '--warm [globs...]',
        'generate deferred pages (all, or those matching the globs) in the background after start',
      ).default(false, 'off'),
    )
    .action(async (opts) => {
      let server
      try {
        server = await serve(
          serveOptions(opts, {
            host: opts.host,
            port: opts.port,
            prefixPaths: opts.prefixPaths,
            cdnMaxAge: opts.cdnMaxAge ?? undefined,
            revalidate: opts.revalidate ?? undefined,
            maxQueuedRenders: opts.maxQueuedRenders,
            functionTimeoutMs: opts.functionTimeout,
            functionMaxBodyBytes: opts.functionMaxBody,
            adminToken: opts.adminToken ?? undefined,
            accessLog: opts.accessLog ? opts.logFormat : undefined,
            redis: opts.redis ?? undefined,
            redisNamespace: opts.redisNamespace,
            redisTtl: opts.redisTtl ?? undefined,
            redisCa: opts.redisCa ?? undefined,
            redisCert: opts.redisCert ?? undefined,
            redisKey: opts.redisKey ?? undefined,
            countryHeader: opts.countryHeader ?? undefined,
            maxRequestHeadBytes: opts.maxHeaderSize,
          }),
        )
      } catch (error) {
        fail(error)
        return
      }
      let closing = false
      const stop = async () => {
        if (closing) return
        closing = true
        await server.close()
        process.exit(0)
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      // Only now: whoever reads this line may send SIGTERM at once (the server already answers
      // requests from its own threads while this one may not have run again yet).
      out(describe(server, opts.host))
      if (opts.warm) {
        const globs = opts.warm === true ? [] : opts.warm
        warm(server, { globs })
          .then((r) =>
            err(`gatsby-dsg: warmed ${r.rendered} pages (${r.stored} already stored, ${r.failed.length} failed)`),
          )
          .catch(fail)
      }
    })

  siteOptions(
    cli
      .command('warm')
      .argument('[globs...]', 'page-path globs to warm (default: every deferred page)')
      .description('generate deferred pages ahead of traffic into the cache directory, then exit'),
  )
    .addOption(new Option('--concurrency <n>', 'pages rendered at once').argParser(positiveInteger).default(2))
    .action(async (globs, opts) => {
      let server
      try {
        server = await serve(serveOptions(opts, { host: '127.0.0.1', port: 0 }))
        const result = await warm(server, { globs, concurrency: opts.concurrency })
        out(
          `gatsby-dsg: warmed ${result.total} pages: ${result.rendered} rendered, ` +
            `${result.stored} already stored, ${result.failed.length} failed`,
        )
        for (const { path, error } of result.failed) err(`gatsby-dsg: ${path}: ${error.split('\n')[0]}`)
        if (result.failed.length > 0) process.exitCode = 1
      } catch (error) {
        fail(error)
      } finally {
        if (server) await server.close()
        // Gatsby's engines keep timers for a few seconds after their last query.
        process.exit()
      }
    })
  return cli
}

function fail(error) {
  const message = error && error.message ? error.message : String(error)
  err(`gatsby-dsg: ${message}`)
  process.exitCode = 1
}

function main(argv = process.argv) {
  return program().parseAsync(argv)
}

module.exports = { main, program }
