'use strict'
// The command line: `gatsby-dsg serve`, a drop-in for `gatsby serve` after `gatsby build`.

const { Command, InvalidArgumentError, Option } = require('commander')
const parseBytes = require('bytes')
const { serve, describe, DEFAULTS } = require('./serve')
const { SiteError } = require('./site')
const { version } = require('../package.json')

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

function program() {
  const cli = new Command('gatsby-dsg')
    .version(version)
    .description('Serve a built Gatsby site, generating its deferred (DSG) pages once and caching them.')

  cli
    .command('serve')
    .description('serve the site in the working directory (run `gatsby build` first)')
    .option('-p, --port <port>', 'port to listen on', port, DEFAULTS.port)
    .option('-H, --host <host>', 'host to listen on', DEFAULTS.host)
    .option('--root <dir>', 'the Gatsby site (default: the working directory)')
    .option('--cache-dir <dir>', 'where generated pages are stored, per build (relative to the site)', DEFAULTS.cacheDir)
    .addOption(
      new Option('--cache-size <size>', 'memory cache bound, e.g. 512MB or 2GB')
        .argParser(size)
        .default(DEFAULTS.memoryCacheBytes, parseBytes.format(DEFAULTS.memoryCacheBytes)),
    )
    .option('--prefix-paths', "serve the site under gatsby-config's pathPrefix (as `gatsby serve --prefix-paths`)", DEFAULTS.prefixPaths)
    .addOption(
      new Option('--cdn-max-age <seconds>', 'let shared caches (CDNs) keep generated pages this long (s-maxage, CDN-Cache-Control)')
        .argParser(wholeSeconds),
    )
    .addOption(
      new Option('--render-timeout <seconds>', 'fail a render that takes longer (500, not cached)')
        .argParser(seconds)
        .default(DEFAULTS.renderTimeoutMs, String(DEFAULTS.renderTimeoutMs / 1000)),
    )
    .action(async (opts) => {
      let server
      try {
        server = await serve({
          root: opts.root,
          host: opts.host,
          port: opts.port,
          cacheDir: opts.cacheDir,
          memoryCacheBytes: opts.cacheSize,
          renderTimeoutMs: opts.renderTimeout,
          prefixPaths: opts.prefixPaths,
          cdnMaxAge: opts.cdnMaxAge,
        })
      } catch (error) {
        fail(error)
        return
      }
      console.log(describe(server, opts.host))
      let closing = false
      const stop = async () => {
        if (closing) return
        closing = true
        await server.close()
        process.exit(0)
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
  return cli
}

function fail(error) {
  const message = error instanceof SiteError ? error.message : error && error.message ? error.message : String(error)
  console.error(`gatsby-dsg: ${message}`)
  process.exitCode = 1
}

function main(argv = process.argv) {
  return program().parseAsync(argv)
}

module.exports = { main, program }
