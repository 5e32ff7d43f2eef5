'use strict'
// Two real `gatsby build`s of a copy of the example site with a content-only change between them
// (same code, new data: Gatsby's webpackCompilationHash stays the same). The cache is scoped to
// the build, so the second build's server never serves a page rendered from the first's data.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { startServer, tempDir, EXAMPLE, ROOT } = require('./support/site')

const PAGE = '/blog/post-00002/'
let site
let cacheDir

/** A copy of the example site sharing its node_modules, with the plugin at its absolute path. */
function copyExample() {
  const dir = tempDir('gatsby-dsg-rebuild-')
  for (const entry of ['gatsby-node.js', 'package.json', 'src']) {
    fs.cpSync(path.join(EXAMPLE, entry), path.join(dir, entry), { recursive: true })
  }
  const config = fs.readFileSync(path.join(EXAMPLE, 'gatsby-config.js'), 'utf8')
  const pluginRef = 'require.resolve("../gatsby-plugin")'
  expect(config).toContain(pluginRef)
  fs.writeFileSync(
    path.join(dir, 'gatsby-config.js'),
    config.replace(pluginRef, JSON.stringify(path.join(ROOT, 'gatsby-plugin'))),
  )
  fs.symlinkSync(path.join(EXAMPLE, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  return dir
}

function build(revision) {
  const result = spawnSync(process.execPath, [path.join(EXAMPLE, 'node_modules', 'gatsby', 'cli.js'), 'build'], {
    cwd: site,
    env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1', EXAMPLE_PAGES: '10', EXAMPLE_REVISION: revision },
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`gatsby build failed:\n${result.stdout}\n${result.stderr}`)
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
  site = copyExample()
  cacheDir = tempDir()
})

afterAll(() => {
  if (site) fs.rmSync(site, { recursive: true, force: true })
})

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
}, 300_000)
