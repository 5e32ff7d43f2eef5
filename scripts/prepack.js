'use strict'
// `prepack` (run by `npm pack` and `npm publish`): no tarball of gatsby-dsg is made without a
// native addon for it to load. Uses only Node built-ins.
//
// - Release (the publish job of .github/workflows/release.yml): every per-platform package under
//   npm/<platform>/ holds its addon (put there by `napi artifacts`). The root tarball then holds
//   none; npm installs the matching `gatsby-dsg-<platform>` optional dependency.
// - Otherwise (a clone, CI, a maintainer's machine): the tarball holds this machine's addon,
//   built now with scripts/build-addon.js unless it is newer than its sources. If it cannot be
//   built (no Rust toolchain, a failed build), this exits 1 with what is missing and how to get
//   it — npm then makes no tarball.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const ROOT = path.resolve(__dirname, '..')

// Everything goes to stderr: `npm pack --json` prints its report on stdout.
const say = (message) => console.error(`gatsby-dsg prepack: ${message}`)

function fail(message) {
  console.error(`gatsby-dsg prepack: ${message}`)
  console.error(
    'gatsby-dsg prepack: no tarball was made (a tarball without the native addon installs but cannot load).',
  )
  process.exit(1)
}

/** The per-platform packages and whether each holds its addon. */
function platformPackages() {
  const npmDir = path.join(ROOT, 'npm')
  if (!fs.existsSync(npmDir)) return []
  return fs
    .readdirSync(npmDir)
    .filter((name) => fs.existsSync(path.join(npmDir, name, 'package.json')))
    .map((name) => {
      const manifest = JSON.parse(fs.readFileSync(path.join(npmDir, name, 'package.json'), 'utf8'))
      return { name: manifest.name, dir: name, has: fs.existsSync(path.join(npmDir, name, manifest.main)) }
    })
}

function main() {
  const packages = platformPackages()
  if (packages.length > 0 && packages.every((p) => p.has)) {
    say(`all ${packages.length} platform packages hold their addon (${packages.map((p) => p.dir).join(', ')})`)
    return
  }
  const { hostPlatform } = require('./build-addon')
  const { addonState } = require('./prepare')
  const platform = hostPlatform()
  if (addonState().fresh) {
    say(`packing gatsby-dsg.${platform}.node (newer than its sources)`)
    return
  }
  const cargo = spawnSync(process.env.CARGO || 'cargo', ['--version'], { encoding: 'utf8' })
  if (cargo.error || cargo.status !== 0) {
    const state = fs.existsSync(addonState().addon) ? 'is older than the Rust sources' : 'has not been built'
    fail(
      `gatsby-dsg.${platform}.node ${state}, and it cannot be built here: ` +
        `\`cargo\` ${cargo.error ? 'was not found' : `failed (exit ${cargo.status})`}. ` +
        'Install Rust (https://rustup.rs), then run `npm pack` again (or `npm run build` first).',
    )
  }
  if (!fs.existsSync(path.join(ROOT, 'node_modules', '@napi-rs', 'cli'))) {
    fail('the napi CLI is not installed: run `npm install` in the repository first.')
  }
  say(`building gatsby-dsg.${platform}.node`)
  const build = spawnSync(process.execPath, [path.join(__dirname, 'build-addon.js')], {
    cwd: ROOT,
    stdio: ['ignore', 2, 2],
  })
  if (build.status !== 0)
    fail(`building the addon failed (exit ${build.status ?? build.signal}); see the output above.`)
  if (!addonState().fresh) fail(`the build finished but gatsby-dsg.${platform}.node is not there.`)
}

main()
