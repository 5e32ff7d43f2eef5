'use strict'
// The bench site: a copy of example/ built by real Gatsby with EXAMPLE_PAGES=N, one directory per N
// under bench/.work/, rebuilt only when N has no build yet or the example's sources changed.
// example/ itself is never touched (the tests read it).

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { newest, EXAMPLE_SOURCES, ROOT, EXAMPLE } = require('../../scripts/prepare')

const WORK = path.join(ROOT, 'bench', '.work')
const PLUGIN_REF = "require.resolve('../gatsby-plugin')"
const DEFER_OPTION = "defer: ['/guides/**']"
const EXCLUDE_OPTION = "exclude: ['/guides/keep-static/']"
// Bumped when the copy is made differently: an older build is then rebuilt.
const LAYOUT = 2

function sourcesMtime() {
  return newest(...EXAMPLE_SOURCES, path.join(EXAMPLE, 'package.json'))
}

/**
 * A copy of the example site sharing its node_modules, with the plugin at its absolute path, and
 * most pages deferred: the example defers its even-numbered blog posts itself; the copy's plugin
 * options defer the odd-numbered ones too, except `staticPost` (an SSG page of the same template).
 */
function copyExample(dir, staticPost) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  for (const entry of ['gatsby-node.js', 'package.json', 'src']) {
    fs.cpSync(path.join(EXAMPLE, entry), path.join(dir, entry), { recursive: true })
  }
  const config = fs.readFileSync(path.join(EXAMPLE, 'gatsby-config.js'), 'utf8')
  for (const expected of [PLUGIN_REF, DEFER_OPTION, EXCLUDE_OPTION]) {
    if (!config.includes(expected))
      throw new Error(`example/gatsby-config.js no longer contains ${expected}: update bench/lib/site.js`)
  }
  fs.writeFileSync(
    path.join(dir, 'gatsby-config.js'),
    config
      .replace(PLUGIN_REF, JSON.stringify(path.join(ROOT, 'gatsby-plugin')))
      .replace(DEFER_OPTION, 'defer: ["/guides/**", "/blog/post-*/"]')
      .replace(EXCLUDE_OPTION, `exclude: ["/guides/keep-static/", ${JSON.stringify(staticPost)}]`),
  )
  fs.symlinkSync(path.join(EXAMPLE, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
}

/**
 * Ensures a built copy of the example with `pages` blog posts; returns its facts:
 * `{ dir, pages, built, deferred: [...paths], deferredPosts, staticPosts, buildSeconds }`.
 */
function ensureSite(pages, { log = console.log } = {}) {
  fs.mkdirSync(WORK, { recursive: true })
  return withLock(path.join(WORK, `site-${pages}.lock`), log, () => ensureSiteLocked(pages, log))
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Runs `fn` holding a lock directory (another bench run may build the same site at the same time). */
function withLock(lockDir, log, fn) {
  const deadline = Date.now() + 60 * 60 * 1000
  let told = false
  for (;;) {
    try {
      fs.mkdirSync(lockDir)
      break
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
    let owner = NaN
    try {
      owner = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'))
    } catch {}
    let alive = true
    if (Number.isInteger(owner) && owner > 0) {
      try {
        process.kill(owner, 0)
      } catch (error) {
        alive = error.code === 'EPERM'
      }
    }
    if (!alive) {
      fs.rmSync(lockDir, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) throw new Error(`${lockDir} is held by process ${owner} for an hour`)
    if (!told) log(`waiting for another bench run (process ${owner}) that prepares ${path.basename(lockDir, '.lock')}`)
    told = true
    sleepSync(2000)
  }
  try {
    fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid))
    return fn()
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true })
  }
}

function ensureSiteLocked(pages, log) {
  const dir = path.join(WORK, `site-${pages}`)
  const stampFile = path.join(dir, '.bench-stamp.json')
  let stamp = null
  try {
    stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8'))
  } catch {}
  const manifestFile = path.join(dir, '.cache', 'gatsby-dsg', 'deferred-pages.json')
  const width = Math.max(5, String(pages).length) // as example/gatsby-node.js pads post numbers
  const post = (i) => `/blog/post-${String(i).padStart(width, '0')}/`
  const fresh =
    stamp &&
    stamp.layout === LAYOUT &&
    stamp.pages === pages &&
    stamp.sourcesMtime >= sourcesMtime() &&
    fs.existsSync(manifestFile)
  let buildSeconds = stamp ? stamp.buildSeconds : null
  let createPagesSeconds = stamp ? (stamp.createPagesSeconds ?? null) : null
  if (!fresh) {
    log(`building a copy of example/ with EXAMPLE_PAGES=${pages} in ${path.relative(ROOT, dir)} (real gatsby build)`)
    copyExample(dir, post(1))
    const started = Date.now()
    const result = spawnSync(process.execPath, [path.join(EXAMPLE, 'node_modules', 'gatsby', 'cli.js'), 'build'], {
      cwd: dir,
      env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1', EXAMPLE_PAGES: String(pages), CI: '1' },
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      timeout: 60 * 60 * 1000,
    })
    if (result.status !== 0) {
      throw new Error(
        `gatsby build of the bench site failed (exit ${result.status ?? result.signal}):\n${(result.stdout || '').slice(-4000)}\n${(result.stderr || '').slice(-4000)}`,
      )
    }
    buildSeconds = (Date.now() - started) / 1000
    createPagesSeconds = activitySeconds(result.stdout, 'createPages')
    fs.writeFileSync(
      stampFile,
      JSON.stringify({
        layout: LAYOUT,
        pages,
        sourcesMtime: sourcesMtime(),
        builtAt: new Date().toISOString(),
        buildSeconds,
        createPagesSeconds,
      }),
    )
    log(
      `gatsby build took ${buildSeconds.toFixed(0)} s (createPages ${createPagesSeconds === null ? '?' : createPagesSeconds.toFixed(1)} s)`,
    )
  }
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'))
  const deferred = manifest.pages.map((p) => p.path)
  const deferredSet = new Set(deferred)
  const deferredPosts = []
  const staticPosts = []
  for (let i = 0; i < pages; i += 1) (deferredSet.has(post(i)) ? deferredPosts : staticPosts).push(post(i))
  return {
    dir,
    pages,
    built: !fresh,
    deferred,
    deferredPosts,
    staticPosts,
    buildSeconds,
    createPagesSeconds,
    totalPages: countPages(dir, deferred.length),
  }
}

/** Seconds of one of Gatsby's activities, from its `success <name> - 12.345s` line (or null). */
function activitySeconds(output, name) {
  // eslint-disable-next-line no-control-regex -- Gatsby's colour codes start with ESC
  const plain = String(output || '').replace(/\u001b\[[0-9;]*[A-Za-z]/g, '')
  const match = plain.match(new RegExp(`success ${name} - ([0-9.]+)s`))
  return match ? Number(match[1]) : null
}

function countPages(dir, deferredCount) {
  // Every SSG page has a page-data.json in public/ (app-data.json is not a page).
  let ssg = 0
  const visit = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) visit(path.join(d, e.name))
      else if (e.name === 'page-data.json') ssg += 1
    }
  }
  visit(path.join(dir, 'public', 'page-data'))
  return { ssg, deferred: deferredCount }
}

/** Page-data URL of a page path: `/a/b/` → `/page-data/a/b/page-data.json`. */
function pageDataUrl(pagePath) {
  const trimmed = pagePath.replace(/^\/|\/$/g, '')
  return `/page-data/${trimmed === '' ? 'index' : trimmed}/page-data.json`
}

module.exports = { ensureSite, pageDataUrl, ROOT, EXAMPLE, WORK }
