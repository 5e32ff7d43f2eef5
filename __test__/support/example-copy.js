'use strict'
// Copies of the example site, built by real Gatsby with other gatsby-config settings (through the
// example's environment variables) into a temporary directory; and a static-only copy of its
// public/ with a few extra files (images drawn with the example's own example/src/png.js), for
// what the example itself does not contain.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { rgbPng } = require('../../example/src/png')
const { tempDir, EXAMPLE, ROOT } = require('./site')

/** A copy of the example's sources sharing its node_modules, with the plugin at its absolute path. */
function copyExampleSources(prefix = 'gatsby-dsg-example-copy-') {
  const dir = tempDir(prefix)
  for (const entry of ['gatsby-node.js', 'package.json', 'src']) {
    fs.cpSync(path.join(EXAMPLE, entry), path.join(dir, entry), { recursive: true })
  }
  const config = fs.readFileSync(path.join(EXAMPLE, 'gatsby-config.js'), 'utf8')
  // Either quote: prettier writes single quotes (the lint config), older sources had double.
  const pluginRef = /require\.resolve\((['"])\.\.\/gatsby-plugin\1\)/
  if (!pluginRef.test(config)) throw new Error(`example/gatsby-config.js no longer matches ${pluginRef}`)
  fs.writeFileSync(
    path.join(dir, 'gatsby-config.js'),
    config.replace(pluginRef, JSON.stringify(path.join(ROOT, 'gatsby-plugin'))),
  )
  fs.symlinkSync(path.join(EXAMPLE, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  return dir
}

/** `gatsby build ...args` in `dir` with extra environment; throws with Gatsby's output on failure. */
function gatsbyBuild(dir, { args = [], env = {} } = {}) {
  const result = spawnSync(
    process.execPath,
    [path.join(EXAMPLE, 'node_modules', 'gatsby', 'cli.js'), 'build', ...args],
    {
      cwd: dir,
      env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1', ...env },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  )
  if (result.status !== 0) throw new Error(`gatsby build failed:\n${result.stdout}\n${result.stderr}`)
  return result.stdout + result.stderr
}

/**
 * A copy of the example as built (public/ and .cache/ without webpack's cache), sharing its
 * node_modules: a site a test may break while a server runs on it.
 */
function builtCopy(prefix = 'gatsby-dsg-built-copy-') {
  const dir = tempDir(prefix)
  fs.cpSync(path.join(EXAMPLE, 'public'), path.join(dir, 'public'), { recursive: true })
  fs.cpSync(path.join(EXAMPLE, '.cache'), path.join(dir, '.cache'), {
    recursive: true,
    filter: (source) => source !== path.join(EXAMPLE, '.cache', 'webpack'),
  })
  for (const file of ['package.json', 'gatsby-config.js'])
    fs.copyFileSync(path.join(EXAMPLE, file), path.join(dir, file))
  fs.symlinkSync(path.join(EXAMPLE, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  return dir
}

/**
 * A site with only the example's built public/ (no engines, no manifest: served as a static
 * site), plus `extra` files (`{ 'static/x/a.png': Buffer }`) written into public/.
 */
function staticCopy(extra = {}) {
  const dir = tempDir('gatsby-dsg-static-copy-')
  fs.cpSync(path.join(EXAMPLE, 'public'), path.join(dir, 'public'), { recursive: true })
  for (const [name, bytes] of Object.entries(extra)) {
    const file = path.join(dir, 'public', name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, bytes)
  }
  return dir
}

/** A valid RGB PNG of `size`×`size` pseudo-random pixels (several KB: not a "tiny" body). */
function png(size = 48) {
  let x = 12345
  const next = () => {
    x = (x * 1103515245 + 12345) >>> 0
    return x >>> 24
  }
  return rgbPng(size, () => [next(), next(), next()])
}

module.exports = { copyExampleSources, gatsbyBuild, builtCopy, staticCopy, png }
