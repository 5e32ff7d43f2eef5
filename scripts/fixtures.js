'use strict'
// The version-compatibility fixture sites (fixtures/README.md): one site source, fixtures/site/,
// built with each older Gatsby version the tests cover (the example site covers the newest).
// Each fixtures/gatsby-<version>/ holds only its package.json and package-lock.json; this step
// installs it, copies the site source in and runs that version's `gatsby build` — each skipped
// when its output is newer than its inputs, so a CI run builds each fixture once.
// Uses only Node built-ins (it runs before anything is installed).

const fs = require('fs')
const path = require('path')
const { run, mtime, newest, ROOT } = require('./prepare')

const FIXTURES = path.join(ROOT, 'fixtures')
const SOURCE = path.join(FIXTURES, 'site')
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
/** The files of fixtures/site/ that make a Gatsby site (copied into each version's directory). */
const SITE_ENTRIES = ['gatsby-config.js', 'gatsby-node.js', 'src']

/** The Gatsby versions with a fixture, oldest first: `4.25`, `5.12`. */
function fixtureVersions() {
  return fs
    .readdirSync(FIXTURES)
    .filter((name) => name.startsWith('gatsby-') && fs.existsSync(path.join(FIXTURES, name, 'package.json')))
    .map((name) => name.slice('gatsby-'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
}

function fixtureDir(version) {
  return path.join(FIXTURES, `gatsby-${version}`)
}

function install(dir) {
  const marker = path.join(dir, 'node_modules', '.package-lock.json')
  const lock = path.join(dir, 'package-lock.json')
  if (fs.existsSync(lock) && mtime(marker) >= mtime(lock) && fs.existsSync(path.join(dir, 'node_modules', 'gatsby')))
    return
  run(NPM, ['install', '--no-audit', '--no-fund'], dir)
}

/** Replaces the site source in `dir` with fixtures/site/'s (a copy, not a symlink: webpack would
 *  resolve a symlinked template to fixtures/site/ and look for react there). */
function copySource(dir) {
  for (const entry of SITE_ENTRIES) {
    fs.rmSync(path.join(dir, entry), { recursive: true, force: true })
    fs.cpSync(path.join(SOURCE, entry), path.join(dir, entry), { recursive: true })
  }
}

function build(dir) {
  const built = path.join(dir, 'public', 'page-data', 'app-data.json')
  const manifest = path.join(dir, '.cache', 'gatsby-dsg', 'deferred-pages.json')
  const inputs = newest(SOURCE, path.join(dir, 'package-lock.json'), path.join(ROOT, 'gatsby-plugin'))
  if (fs.existsSync(manifest) && mtime(built) >= inputs) return
  copySource(dir)
  run(process.execPath, [path.join(dir, 'node_modules', 'gatsby', 'cli.js'), 'build'], dir)
}

/** Installs and builds every fixture (or those of `versions`). */
function prepareFixtures(versions = fixtureVersions()) {
  for (const version of versions) {
    const dir = fixtureDir(version)
    const started = Date.now()
    install(dir)
    build(dir)
    console.log(`[fixtures] gatsby ${version} ready in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  }
}

module.exports = { prepareFixtures, fixtureVersions, fixtureDir, FIXTURES }

if (require.main === module) {
  try {
    prepareFixtures(process.argv.slice(2).length ? process.argv.slice(2) : undefined)
  } catch (error) {
    console.error(`[fixtures] ${error.message}`)
    process.exit(1)
  }
}
