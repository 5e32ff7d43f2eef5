'use strict'
// Gatsby's own engines called in-process, with no server: what one first request of a deferred page
// costs at least. Loaded as lib/gatsby-engines.js loads them; the template is warmed on one page,
// then getData + renderPageData (+ JSON.stringify) + renderHTML is timed on each distinct page.
//
//   node engine-direct.js <site dir> <input.json: { warm, paths, maxMs }> <output.json>

const fs = require('fs')
const path = require('path')
const { performance } = require('perf_hooks')

async function main() {
  const [siteDir, inputFile, outputFile] = process.argv.slice(2)
  const { warm, paths, maxMs, idleMs, idlePaths = [] } = JSON.parse(fs.readFileSync(inputFile, 'utf8'))
  process.chdir(siteDir)
  const loadStarted = performance.now()
  const { GraphQLEngine } = require(path.join(siteDir, '.cache', 'query-engine'))
  const { getData, renderPageData, renderHTML } = require(path.join(siteDir, '.cache', 'page-ssr'))
  const graphqlEngine = new GraphQLEngine({ dbPath: path.join(siteDir, '.cache', 'data', 'datastore') })

  const renderOne = async (pathName) => {
    const t0 = performance.now()
    const data = await getData({ pathName, graphqlEngine })
    const t1 = performance.now()
    const pageData = await renderPageData({ data })
    const json = JSON.stringify(pageData)
    const t2 = performance.now()
    const html = await renderHTML({ data, pageData })
    const t3 = performance.now()
    if (typeof html !== 'string' || json.length === 0) throw new Error(`no output for ${pathName}`)
    return { total: t3 - t0, getData: t1 - t0, renderPageData: t2 - t1, renderHTML: t3 - t2 }
  }

  const firstUse = await renderOne(warm)
  const startMs = performance.now() - loadStarted
  const timings = []
  const deadline = Date.now() + maxMs
  const started = performance.now()
  for (const p of paths) {
    if (Date.now() > deadline) break
    timings.push(await renderOne(p))
  }
  const elapsedMs = performance.now() - started
  const rss = process.memoryUsage().rss
  const idleTimings = []
  for (const p of idleMs ? idlePaths : []) {
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, idleMs))
    idleTimings.push(await renderOne(p))
  }
  fs.writeFileSync(
    outputFile,
    JSON.stringify({ startMs, firstUseMs: firstUse.total, timings, elapsedMs, rss, idleMs, idleTimings }),
  )
}

main().then(
  () => process.exit(0), // the engines keep a timer alive for ~5 s: do not wait for it
  (error) => {
    console.error(error && error.stack ? error.stack : error)
    process.exit(1)
  },
)
