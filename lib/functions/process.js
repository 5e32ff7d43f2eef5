'use strict'
// The functions process: a child of `gatsby-dsg serve` that runs the site's Gatsby Functions.
// Its request chain is Gatsby's own (`internal-plugins/functions/middleware.ts`), built from the
// site's own `gatsby` package and its dependencies — Express 4 mounted at `/api/*`, then cookies
// (`cookie`), the function lookup (exact `functionRoute`, then the first `matchPath` through
// `@gatsbyjs/reach-router`'s `match`, params into `req.params`), `multer().any()` (multipart and
// files), Express's raw → text → urlencoded → json parsers with the limits of the function's
// `config` export (validated by Gatsby's `createConfig`), then the function, a throw being a 500 —
// so `req` and `res` are exactly what `gatsby serve` gives. One difference, on purpose: each
// function's module is loaded once per process, as Gatsby's adapters and serverless platforms
// load it, where `gatsby serve` deletes it from `require.cache` and evaluates its bundle (about
// 1.4 MB of webpack output for a one-line function) again on every request.
//
// The Rust engine forwards each request of a function route here over a unix socket; it has
// already enforced the body limit and it times the function out.
//
// Invariants: it listens only on the unix socket it is given (never a TCP port); it answers the
// parent's heartbeat from its event loop, so a function that blocks the loop is seen by the
// parent (and this process is replaced); an error of one function never ends this process.
//
// Started with: node process.js <site root> <socket path>

const fs = require('fs')
const http = require('http')
const path = require('path')
const parseBytes = require('bytes') // the parser body-parser uses for `limit`
const { readFunctions } = require('./manifest')

const [root, socketPath] = process.argv.slice(2)

// As `gatsby serve` (gatsby-cli sets it for `serve`): Express's error pages leave out stacks.
if (!process.env.NODE_ENV) process.env.NODE_ENV = 'production'
process.chdir(root)

// Gatsby's functions plugin, and the packages it uses, as the site installed them.
const gatsbyFunctions = path.dirname(
  require.resolve('gatsby/dist/internal-plugins/functions/middleware', { paths: [root] }),
)
const fromGatsby = (request) => require(require.resolve(request, { paths: [gatsbyFunctions] }))
const { createConfig } = fromGatsby('./config')
const express = fromGatsby('express')
const multer = fromGatsby('multer')
const cookie = fromGatsby('cookie')
const { match } = fromGatsby('@gatsbyjs/reach-router')

const log = (line) => process.stderr.write(`gatsby-dsg: ${line}\n`)

// body-parser's default `type` of each parser, in the order Gatsby's chain runs them (the first
// parser whose type matches reads the body; the others see it read).
const PARSERS = [
  ['raw', 'application/octet-stream'],
  ['text', 'text/plain'],
  ['urlencoded', 'application/x-www-form-urlencoded'],
  ['json', 'application/json'],
]
const SHORT_TYPES = {
  json: 'application/json',
  text: 'text/plain',
  urlencoded: 'application/x-www-form-urlencoded',
  multipart: 'multipart/*',
}

/** type-is's normalisation of a body-parser `type` option, for the plain cases; null otherwise. */
function mediaType(type) {
  if (typeof type !== 'string') return null
  const t = type.trim().toLowerCase()
  if (t.includes('/')) return t
  if (SHORT_TYPES[t]) return SHORT_TYPES[t]
  if (t.startsWith('+')) return `*/*${t}`
  return null
}

/**
 * The body limits of a function's config (validated by Gatsby's `createConfig`, defaults 100kb),
 * as `{ type, limit }` in the chain's order, for the engine. A type this cannot express (a
 * function, an unknown short name) is left out: the engine then applies only its overall limit to
 * it, and body-parser still enforces the function's.
 */
function bodyLimits(config) {
  const limits = []
  for (const [name, defaultType] of PARSERS) {
    const options = config.bodyParser[name]
    const limit = typeof options.limit === 'number' ? options.limit : parseBytes.parse(options.limit ?? '100kb')
    if (limit === null || !Number.isFinite(limit)) continue
    for (const type of options.type === undefined ? [defaultType] : [].concat(options.type)) {
      const media = mediaType(type)
      if (media) limits.push({ type: media, limit: Math.floor(limit) })
    }
  }
  return limits
}

/** Loads a function once: its handler, its validated config and its body parsers. */
function load(fn) {
  let mod
  try {
    mod = require(fn.compiledFile)
  } catch (error) {
    log(`function /api/${fn.functionRoute} cannot be loaded (every request to it is a 500): ${error.stack || error}`)
    return { ...fn, handler: null, parsers: [], bodyLimits: [] }
  }
  const handler = (mod && mod.default) || mod
  if (typeof handler !== 'function') {
    log(
      `function /api/${fn.functionRoute} (${fn.entry.originalRelativeFilePath || fn.compiledFile}) does not export a function: every request to it is a 500`,
    )
  }
  const { config, warnings } = createConfig(mod && mod.config)
  for (const w of warnings) {
    log(
      `${w.property ? `\`${w.property}\` of the config` : 'the config'} exported by /api/${fn.functionRoute} is misconfigured; using ${JSON.stringify(w.replacedWith)}`,
    )
  }
  return {
    ...fn,
    handler: typeof handler === 'function' ? handler : null,
    parsers: PARSERS.map(([name]) => express[name](config.bodyParser[name])),
    bodyLimits: bodyLimits(config),
  }
}

const functions = readFunctions(root).map(load)
const exact = new Map()
for (const fn of functions) if (!exact.has(fn.functionRoute)) exact.set(fn.functionRoute, fn)

/** Gatsby's lookup: the exact route first, then the first matchPath; sets `req.params` as it does. */
function findFunction(req, fragment) {
  const found = exact.get(fragment)
  if (found) return found
  for (const fn of functions) {
    if (!fn.matchPath) continue
    const result = match(fn.matchPath, fragment)
    if (result) {
      req.params = result.params
      // Gatsby keeps v3's name for the splat.
      if (req.params['*']) req.params['0'] = req.params['*']
      return fn
    }
  }
  return null
}

function setCookies(req, _res, next) {
  if (req.headers.cookie) req.cookies = cookie.parse(req.headers.cookie)
  next()
}

function setFunction(req, res, next) {
  const fn = findFunction(req, req.params['0'])
  if (!fn) {
    res.status(404).type('text').send('Not Found')
    return
  }
  req.gatsbyDsgFunction = { fn, params: req.params }
  next()
}

function parseBody(index) {
  return (req, res, next) => req.gatsbyDsgFunction.fn.parsers[index](req, res, next)
}

async function execute(req, res) {
  const { fn, params } = req.gatsbyDsgFunction
  delete req.gatsbyDsgFunction
  req.params = params
  try {
    if (!fn.handler)
      throw new Error(`${fn.entry.originalRelativeFilePath || fn.compiledFile} does not export a function`)
    await fn.handler(req, res)
  } catch (error) {
    log(`function /api/${fn.functionRoute} threw: ${(error && error.stack) || error}`)
    // As Gatsby: a 500, unless the function had started answering.
    if (!res.headersSent) res.sendStatus(500)
  }
}

const app = express()
app.set('env', process.env.NODE_ENV)
// The engine is the only client, and it sets X-Forwarded-For/-Proto/-Host: req.ip, req.protocol
// and req.hostname are the real client's, as under `gatsby serve`.
app.set('trust proxy', (_address, hop) => hop === 0)
app.use('/api/*', setCookies, setFunction, multer().any(), ...PARSERS.map((_, i) => parseBody(i)), execute)
const routes = functions.map((f) => ({
  functionRoute: f.functionRoute,
  matchPath: f.matchPath,
  bodyLimits: f.bodyLimits,
}))

// A function whose async code throws outside the promise Gatsby awaits (its compiled wrapper
// drops the handler's promise) cannot be tied to its request: it is logged, this process keeps
// serving, and that request ends at the engine's function timeout. (`gatsby serve` exits.)
process.on('unhandledRejection', (reason) =>
  log(`a function's promise rejected and nothing handled it: ${(reason && reason.stack) || reason}`),
)
process.on('uncaughtException', (error) =>
  log(`a function threw outside its request: ${(error && error.stack) || error}`),
)

process.on('message', (message) => {
  if (message && message.type === 'ping') process.send({ type: 'pong', id: message.id }, () => {})
  if (message && message.type === 'close') server.close(() => process.exit(0))
})
process.on('disconnect', () => process.exit(0))
// SIGINT and SIGTERM sent to the whole process group (Ctrl-C in a terminal, systemd's default
// KillMode=control-group) are meant for the server: it stops taking requests, lets those still
// answering here finish, then ends this process (by closing the IPC channel; SIGKILL if that does
// not end it). Dying at the signal would cut those answers short, and the parent would start a
// replacement while it shuts down. A parent that is gone closes the channel too.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {})

const server = http.createServer(app)
// The engine bounds heads, bodies and time; Node's own request timeout would cut a slow upload
// the engine still allows. Idle keep-alive connections outlive the engine's pool (30 s).
server.requestTimeout = 0
server.headersTimeout = 0
server.keepAliveTimeout = 65_000
try {
  fs.unlinkSync(socketPath)
} catch {}
server.listen(socketPath, () => {
  // The server may have given up on this process while it loaded its functions (its own start
  // failed, and it closed the channel): then there is no one to tell — a send that fails (EPIPE
  // before the disconnect is seen here) goes to this callback, not to uncaughtException — and
  // the process exits on the disconnect.
  if (process.connected) process.send({ type: 'ready', routes }, () => {})
})
