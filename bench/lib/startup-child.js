'use strict'
// One start of the server for bench/startup.js: `serve()`'s own path (lib/site.js readSite, then
// the addon's startServer with lib/serve.js engineOptions), without Gatsby's engines or render
// workers (the synthetic site has none; their load is the scale bench's, on real builds). Prints
// one JSON line with where the time went and the memory held, then waits to be killed.
//   node --expose-gc bench/lib/startup-child.js <site> <port> [cacheDir]

const { performance } = require('perf_hooks')
const fs = require('fs')
const path = require('path')
const { startServer } = require('../..')
const { readSite } = require('../../lib/site')
const { engineOptions, DEFAULTS } = require('../../lib/serve')

async function main() {
  const [root, port, cacheDir] = process.argv.slice(2)
  const loaded = performance.now()
  const site = readSite(root)
  const siteRead = performance.now()
  const settings = { ...DEFAULTS, port: Number(port), host: '127.0.0.1', cacheDir: cacheDir || false }
  const server = await startServer(engineOptions(site, settings, null), undefined, undefined)
  const started = performance.now()
  const summary = server.summary()
  global.gc()
  await new Promise((resolve) => setTimeout(resolve, 500))
  global.gc()
  const report = {
    // performance.now() counts from the process's start.
    addonLoadedMs: loaded,
    readSiteMs: siteRead - loaded,
    startServerMs: started - siteRead,
    startedMs: started,
    rss: process.memoryUsage().rss,
    heapUsed: process.memoryUsage().heapUsed,
    deferredPages: summary.deferredPages,
    pageTableBytes: summary.pageTableBytes,
    cacheDir: summary.cacheDir,
    manifestBytes: fileSize(path.join(root, '.cache', 'gatsby-dsg', 'deferred-pages.json')),
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1) // as lib/serve.js's Server
  process.on('SIGTERM', async () => {
    clearInterval(keepAlive)
    await server.close()
    process.exit(0)
  })
}

function fileSize(file) {
  try {
    return fs.statSync(file).size
  } catch {
    return null
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exit(1)
})
