'use strict'
// Brings a fresh clone to a runnable state: npm packages, the addon, the example site's packages
// and its Gatsby build. Uses only Node built-ins (nothing is installed when it starts), and skips
// every step whose output is newer than its inputs.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const { hostPlatform } = require('./build-addon')

const ROOT = path.resolve(__dirname, '..')
const EXAMPLE = path.join(ROOT, 'example')
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function log(message) {
  console.log(`[prepare] ${message}`)
}

function run(command, args, cwd, env = {}) {
  log(`${path.relative(ROOT, cwd) || '.'}$ ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1', ...env },
  })
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd} (exit ${result.status ?? result.signal})`)
  }
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs
  } catch {
    return 0
  }
}

/** Newest modification time of the files below `dirs` (skipping heavy or generated folders). */
function newest(...entries) {
  let latest = 0
  const skip = new Set(['node_modules', '.cache', 'public', 'target'])
  const visit = (entry) => {
    let stat
    try {
      stat = fs.statSync(entry)
    } catch {
      return
    }
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(entry)) if (!skip.has(name)) visit(path.join(entry, name))
    } else {
      latest = Math.max(latest, stat.mtimeMs)
    }
  }
  entries.forEach(visit)
  return latest
}

function installRoot() {
  const marker = path.join(ROOT, 'node_modules', '.package-lock.json')
  if (
    mtime(marker) >= mtime(path.join(ROOT, 'package-lock.json')) &&
    fs.existsSync(path.join(ROOT, 'node_modules', '@napi-rs', 'cli'))
  )
    return
  run(NPM, ['install', '--no-audit', '--no-fund'], ROOT)
}

/** The addon this machine builds, and the newest of the inputs it is built from. */
function addonState() {
  const addon = path.join(ROOT, `gatsby-dsg.${hostPlatform()}.node`)
  const sources = newest(
    path.join(ROOT, 'src'),
    path.join(ROOT, 'crates'),
    path.join(ROOT, 'Cargo.toml'),
    path.join(ROOT, 'Cargo.lock'),
    path.join(ROOT, 'build.rs'),
    path.join(ROOT, 'scripts', 'build-addon.js'),
  )
  return { addon, fresh: fs.existsSync(addon) && mtime(addon) >= sources }
}

/** Builds the addon (scripts/build-addon.js: glibc 2.17 floor on Linux) unless it is fresh. */
function buildAddon() {
  if (addonState().fresh) return
  run(process.execPath, [path.join(ROOT, 'scripts', 'build-addon.js')], ROOT)
}

function installExample() {
  const marker = path.join(EXAMPLE, 'node_modules', '.package-lock.json')
  if (
    mtime(marker) >= mtime(path.join(EXAMPLE, 'package-lock.json')) &&
    fs.existsSync(path.join(EXAMPLE, 'node_modules', 'gatsby'))
  )
    return
  run(NPM, ['install', '--no-audit', '--no-fund'], EXAMPLE)
}

/** What a build of the example site is made from: a newer file in these means a rebuild. */
const EXAMPLE_SOURCES = [
  path.join(EXAMPLE, 'src'),
  path.join(EXAMPLE, 'gatsby-config.js'),
  path.join(EXAMPLE, 'gatsby-node.js'),
  path.join(EXAMPLE, 'package-lock.json'),
  path.join(ROOT, 'gatsby-plugin'),
]

/** Builds the example site with real Gatsby when it has no build or its sources changed. */
function buildExample() {
  const built = path.join(EXAMPLE, 'public', 'page-data', 'app-data.json')
  const manifest = path.join(EXAMPLE, '.cache', 'gatsby-dsg', 'deferred-pages.json')
  if (fs.existsSync(manifest) && mtime(built) >= newest(...EXAMPLE_SOURCES)) return
  run(process.execPath, [path.join(EXAMPLE, 'node_modules', 'gatsby', 'cli.js'), 'build'], EXAMPLE)
}

function prepare() {
  installRoot()
  buildAddon()
  installExample()
  buildExample()
}

module.exports = { prepare, run, mtime, newest, installRoot, buildAddon, addonState, ROOT, EXAMPLE, EXAMPLE_SOURCES }

if (require.main === module) {
  try {
    prepare()
  } catch (error) {
    console.error(`[prepare] ${error.message}`)
    process.exit(1)
  }
}
