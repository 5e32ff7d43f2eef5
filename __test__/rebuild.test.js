'use strict'
// Two real `gatsby build`s of a copy of the example site with a content-only change between them
// (same code, new data: Gatsby's webpackCompilationHash stays the same). The cache is scoped to
// the build, so the second build's server never serves a page rendered from the first's data.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { startServer, tempDir, EXAMPLE } = require('./support/site')
const { waitFor } = require('../scripts/support/wait')
const { copyExampleSources } = require('./support/example-copy')

const PAGE = '/blog/post-00002/'
let site
let cacheDir
// The revision the site in `site` was last built with.
let built

function build(revision) {
  const result = spawnSync(process.execPath, [path.join(EXAMPLE, 'node_modules', 'gatsby', 'cli.js'), 'build'], {
    cwd: site,
    env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1', EXAMPLE_PAGES: '10', EXAMPLE_REVISION: revision },
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`gatsby build failed:\n${result.stdout}\n${result.stderr}`)
  built = revision
  return {
    log: result.stdout + result.stderr,
    appData: fs.readFileSync(path.join(site, 'public', 'page-data', 'app-data.json'), 'utf8'),
    manifest: JSON.parse(fs.readFileSync(path.join(site, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8')),
  }
}

async function visit(pagePath) {
  const server = await startServer({ root: site, cacheDir })
  try {
    return { res: await server.get(pagePath), summary: server.summary, renders: (await server.stats()).renders }
  } finally {
    await server.close()
  }
}

beforeAll(() => {
  site = copyExampleSources('gatsby-dsg-rebuild-')
  cacheDir = tempDir()
})

afterAll(() => {
  if (site) fs.rmSync(site, { recursive: true, force: true })
  if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true })
})

/** Until `dir` is gone (the old build's directory is removed in the background). */
function gone(dir) {
  return waitFor(() => !fs.existsSync(dir), { what: `${dir} removed` })
}

test('a content-only rebuild never serves pages rendered from the old build', async () => {
  const first = build('first')
  expect(first.log.match(/deferred \d+ of \d+ pages/g)).toHaveLength(1)

  const before = await visit(PAGE)
  expect(before.res.headers['x-dsg-cache']).toBe('MISS')
  expect(before.res.body).toContain('revision first')
  const again = await visit(PAGE)
  expect(again.res.headers['x-dsg-cache']).toBe('HIT')
  expect(again.renders).toBe(0)

  const second = build('second')
  // Gatsby's own compilation hash does not see a content change: the plugin's build id must.
  expect(second.appData).toBe(first.appData)
  expect(second.manifest.buildId).not.toBe(first.manifest.buildId)

  const after = await visit(PAGE)
  expect(after.summary.cacheDir).not.toBe(before.summary.cacheDir)
  expect(after.summary.generatedPages).toBe(0)
  expect(after.res.headers['x-dsg-cache']).toBe('MISS')
  expect(after.res.body).toContain('revision second')
  expect(after.res.body).not.toContain('revision first')

  // The first build's pages are of no use any more: its directory is removed.
  expect(path.dirname(before.summary.cacheDir)).toBe(cacheDir)
  await gone(before.summary.cacheDir)
  expect(fs.existsSync(after.summary.cacheDir)).toBe(true)
}, 300_000)

test("an old build's cache dir is kept while a server of it still runs, and removed by a start after it closed", async () => {
  if (built !== 'second') build('second')
  let old = await startServer({ root: site, cacheDir })
  let current
  try {
    const oldDir = old.summary.cacheDir
    const oldPage = await old.get(PAGE)
    expect(oldPage.body).toContain('revision second')
    await waitFor(async () => (await old.stats()).rendersInFlight === 0)

    build('third')
    // An unused directory of another build, so that the cleanup is seen to have run.
    const unused = path.join(cacheDir, '0123456789abcdef0123')
    fs.mkdirSync(path.join(unused, 'blog'), { recursive: true })
    fs.writeFileSync(path.join(unused, 'blog', 'index.html'), 'unused build')

    current = await startServer({ root: site, cacheDir })
    expect(current.summary.cacheDir).not.toBe(oldDir)
    await gone(unused)
    expect(fs.existsSync(oldDir)).toBe(true)
    const fresh = await current.get(PAGE)
    expect(fresh.headers['x-dsg-cache']).toBe('MISS')
    expect(fresh.body).toContain('revision third')
    // The old server keeps serving its own build meanwhile, from its directory.
    const stillOld = await old.get(PAGE)
    expect(stillOld.headers['x-dsg-cache']).toBe('HIT')
    expect(stillOld.body).toBe(oldPage.body)

    await old.close()
    old = null
    expect(fs.existsSync(oldDir)).toBe(true)
    await current.close()
    current = null

    const later = await visit(PAGE)
    await gone(oldDir)
    expect(later.res.headers['x-dsg-cache']).toBe('HIT')
    expect(later.res.body).toContain('revision third')
  } finally {
    if (old) await old.close()
    if (current) await current.close()
  }
}, 300_000)
