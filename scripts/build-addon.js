'use strict'
// Builds the native addon with `napi build --platform --release` (`npm run build`, `npm start`,
// `npm test`, `npm pack`). Uses only Node built-ins besides the napi CLI.
//
// Invariant: a Linux glibc addon built here needs glibc 2.17 at most, whatever glibc the build
// machine has. It is linked with the GCC + glibc 2.17 sysroot that napi-rs publishes on the npm
// registry (`@napi-rs/cross-toolchain-<host arch>-target-<arch>`, the toolchain behind
// `napi build --use-napi-cross`). Built with the machine's own toolchain on Debian 12 the addon
// needed GLIBC_2.34 and did not load on Debian 11 (glibc 2.31), Ubuntu 20.04 or RHEL 8.
//
// Why not `--use-napi-cross` itself: napi fetches the toolchain package at the version of its
// `@napi-rs/cross-toolchain` dependency (1.0.5 with @napi-rs/cli 3.10), and that version of the
// x86_64 toolchain is not on the registry (its packages are published at uneven versions: 1.0.0
// for x86_64, 1.0.3 for aarch64). So the versions are pinned below, each with its tarball's
// integrity, and the environment napi would set for a host build is set here.
//
// The toolchain is fetched once with `npm pack` (npm's cache and registry settings apply),
// checked against the pinned integrity, and extracted to napi's own cache directory
// (`~/.napi-rs/cross-toolchain/<version>/<triple>/`, override with GATSBY_DSG_TOOLCHAIN_DIR)
// through a temporary directory renamed into place, so a killed build never leaves half a
// toolchain that a later build would use. Other targets (macOS, Windows, musl) build with the
// machine's toolchain: they have no glibc to pin.

const { spawnSync } = require('child_process')
const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')

const ROOT = path.resolve(__dirname, '..')
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** glibc of the sysroot every toolchain below links against. */
const GLIBC_FLOOR = '2.17'

/** `<host arch>:<target triple>` → the npm package holding the toolchain, pinned. */
const TOOLCHAINS = {
  'x64:x86_64-unknown-linux-gnu': {
    name: '@napi-rs/cross-toolchain-x64-target-x86_64',
    version: '1.0.0',
    integrity: 'sha512-lecoghCfoTAX9MLFcIx9/nL9M8xdkZ9n8Pki8qjKUNzjiq1zbECdEbzIZAMMHRtrXxifK9dAyYuh8gSxNbr2og==',
  },
  'x64:aarch64-unknown-linux-gnu': {
    name: '@napi-rs/cross-toolchain-x64-target-aarch64',
    version: '1.0.3',
    integrity: 'sha512-EMFcy/ahFsmCY3BI1tMC3wRUYZ+cDuILg7nP1micaKXW1tO1+RvUB1CC6QYe+cv2W4Tuz9wr3qcFExWyjgWf2w==',
  },
}

function log(message) {
  console.log(`[build-addon] ${message}`)
}

/**
 * This machine's platform as napi names it in file and package names (`linux-x64-gnu`,
 * `linux-arm64-musl`, `darwin-arm64`, `win32-x64-msvc`): the addon a plain build writes is
 * `gatsby-dsg.<platform>.node`.
 */
function hostPlatform(platform = process.platform, arch = process.arch) {
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform !== 'linux') return `${platform}-${arch}`
  const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
  return report && report.header && report.header.glibcVersionRuntime ? `linux-${arch}-gnu` : `linux-${arch}-musl`
}

/** The Rust target triple of this build: `--target <t>`, else CARGO_BUILD_TARGET, else the host's. */
function targetOf(args) {
  const i = args.findIndex((a) => a === '--target' || a === '-t')
  if (i >= 0 && args[i + 1]) return args[i + 1]
  const inline = args.find((a) => a.startsWith('--target='))
  if (inline) return inline.slice('--target='.length)
  if (process.env.CARGO_BUILD_TARGET) return process.env.CARGO_BUILD_TARGET
  const rustc = spawnSync(process.env.RUSTC || 'rustc', ['-vV'], { encoding: 'utf8' })
  const host = /^host: (\S+)$/m.exec(rustc.stdout || '')
  if (!host)
    throw new Error(
      `cannot tell the Rust host triple (\`rustc -vV\` ${rustc.error ? rustc.error.message : `exited ${rustc.status}`}); is Rust installed?`,
    )
  return host[1]
}

/** The pinned toolchain for building `triple` on this host, or null when the target needs none. */
function toolchainFor(triple, platform = process.platform, arch = process.arch) {
  if (platform !== 'linux' || !triple.endsWith('-linux-gnu')) return null
  const toolchain = TOOLCHAINS[`${arch}:${triple}`]
  if (!toolchain) {
    throw new Error(
      `no glibc ${GLIBC_FLOOR} toolchain is pinned for building ${triple} on linux-${arch} (pinned: ${Object.keys(TOOLCHAINS).join(', ')}); ` +
        "add one to scripts/build-addon.js, or build with `napi build --platform --release` (the addon then needs this machine's glibc)",
    )
  }
  return toolchain
}

function toolchainDir(toolchain, triple) {
  const base = process.env.GATSBY_DSG_TOOLCHAIN_DIR || path.join(os.homedir(), '.napi-rs', 'cross-toolchain')
  return path.join(base, toolchain.version, triple)
}

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options })
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.error ? result.error.message : `exit ${result.status ?? result.signal}`})`,
    )
  }
  return result.stdout
}

/** Fetches and extracts the toolchain unless it is already in place; returns its directory. */
function ensureToolchain(toolchain, triple) {
  const dir = toolchainDir(toolchain, triple)
  // napi's marker of a complete extraction: the package.json inside the toolchain archive.
  if (fs.existsSync(path.join(dir, 'package.json'))) return dir
  const spec = `${toolchain.name}@${toolchain.version}`
  log(`fetching the glibc ${GLIBC_FLOOR} toolchain ${spec} from the npm registry (~50 MB, once)`)
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  const work = fs.mkdtempSync(path.join(path.dirname(dir), `.${triple}.`))
  try {
    let packed
    try {
      packed = JSON.parse(run(NPM, ['pack', spec, '--json', '--pack-destination', work], { cwd: work }))[0]
    } catch (error) {
      throw new Error(`cannot fetch ${spec} from the npm registry: ${error.message}`, { cause: error })
    }
    const tgz = path.join(work, packed.filename)
    const digest = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tgz)).digest('base64')}`
    if (digest !== toolchain.integrity) {
      throw new Error(`${spec} does not match its pinned integrity (got ${digest}, expected ${toolchain.integrity})`)
    }
    run('tar', ['-xzf', tgz, '-C', work])
    const archive = path.join(work, 'package', `${triple}.tar.xz`)
    const staging = path.join(work, 'toolchain')
    fs.mkdirSync(staging)
    try {
      run('tar', ['-xJf', archive, '-C', staging])
    } catch (error) {
      throw new Error(
        `cannot extract ${path.basename(archive)} (GNU tar with xz is needed: apt-get install xz-utils): ${error.message}`,
        { cause: error },
      )
    }
    if (!fs.existsSync(path.join(staging, 'package.json'))) throw new Error(`${spec} holds no toolchain for ${triple}`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.renameSync(staging, dir)
    log(`toolchain extracted to ${dir}`)
    return dir
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

/**
 * The environment napi's `--use-napi-cross` sets for `triple` (for a host build cc-rs reads the
 * `CC_<triple>` names, for a cross build `TARGET_CC`), keeping every variable already set.
 */
function toolchainEnv(dir, triple, env = process.env) {
  const bin = (tool) => path.join(dir, 'bin', `${triple}-${tool}`)
  const under = triple.replace(/[-.]/g, '_')
  const wanted = {
    [`CARGO_TARGET_${under.toUpperCase()}_LINKER`]: bin('gcc'),
    [`CC_${under}`]: bin('gcc'),
    [`CXX_${under}`]: bin('g++'),
    [`AR_${under}`]: bin('ar'),
    [`RANLIB_${under}`]: bin('ranlib'),
    TARGET_SYSROOT: path.join(dir, triple, 'sysroot'),
  }
  const out = {}
  for (const [name, value] of Object.entries(wanted)) if (!env[name]) out[name] = value
  out.PATH = `${path.join(dir, 'bin')}${path.delimiter}${env.PATH || ''}`
  return out
}

/**
 * Runs `napi build --platform --release --js binding.js [args]` (`--debug`: no `--release`) with
 * the pinned toolchain where one applies. The generated loader is `binding.js`: `index.js` is
 * hand-written around it (see there).
 */
function buildAddon(argv = []) {
  const debug = argv.includes('--debug')
  const args = argv.filter((a) => a !== '--debug')
  const triple = targetOf(args)
  const toolchain = toolchainFor(triple)
  let env = {}
  if (toolchain) {
    const dir = ensureToolchain(toolchain, triple)
    env = toolchainEnv(dir, triple)
    log(`building ${triple} against glibc ${GLIBC_FLOOR} (${toolchain.name}@${toolchain.version})`)
  } else {
    log(`building ${triple} with this machine's toolchain`)
  }
  const cli = path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  if (!fs.existsSync(cli)) throw new Error('the napi CLI is not installed: run `npm install` first')
  const result = spawnSync(
    process.execPath,
    [cli, 'build', '--platform', ...(debug ? [] : ['--release']), '--js', 'binding.js', ...args],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, ...env },
    },
  )
  if (result.status !== 0) throw new Error(`napi build failed (exit ${result.status ?? result.signal})`)
}

module.exports = { buildAddon, hostPlatform, toolchainFor, toolchainEnv, GLIBC_FLOOR, TOOLCHAINS }

if (require.main === module) {
  try {
    buildAddon(process.argv.slice(2))
  } catch (error) {
    console.error(`[build-addon] ${error.message}`)
    process.exit(1)
  }
}
