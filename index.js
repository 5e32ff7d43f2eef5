'use strict'
// The package's entry: the native addon for this platform, loaded by napi-rs's generated loader
// (`binding.js`, written by `napi build --js binding.js`), which tries, for the platform it
// detects (os, CPU, and glibc or musl on Linux), the addon beside it
// (`gatsby-dsg.<platform>.node`, what a local build or `npm pack` of a clone holds) and then the
// per-platform package (`gatsby-dsg-<platform>`, an optional dependency npm installs only where
// its `os`/`cpu`/`libc` match).
//
// Invariant: when no addon loads, the error says which platform this is, which platforms have a
// published addon, why each candidate failed (e.g. `GLIBC_2.33 not found`), and how to build one
// from source — instead of napi's generic "npm has a bug related to optional dependencies".

/** The platforms an addon is built and published for: package.json `napi.targets`, as napi names them. */
const SUPPORTED = [
  'linux-x64-gnu',
  'linux-x64-musl',
  'linux-arm64-gnu',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
]

/** This process's platform as napi names it (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, …). */
function currentPlatform() {
  const { platform, arch } = process
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform !== 'linux') return `${platform}-${arch}`
  let glibc = null
  try {
    const report = process.report && typeof process.report.getReport === 'function' ? process.report.getReport() : null
    glibc = report && report.header ? report.header.glibcVersionRuntime || null : null
  } catch {
    // keep null: said as "musl or unknown libc" below
  }
  return glibc ? `linux-${arch}-gnu` : `linux-${arch}-musl`
}

/** The errors chained below `error` (napi chains one `cause` per candidate it tried, last tried first). */
function attempts(error) {
  const chain = []
  for (let e = error && error.cause, depth = 0; e && depth < 32; e = e.cause, depth++) chain.push(e)
  return chain.reverse()
}

const firstLine = (e) => String((e && e.message) || e).split('\n')[0]

function loadError(cause) {
  const platform = currentPlatform()
  const tried = attempts(cause)
  // A candidate that exists but does not load (wrong glibc, wrong CPU, a damaged file) says more
  // than the missing ones. napi's chain keeps only messages, so missing ones are told by theirs.
  const broken = tried.filter((e) => !/^Cannot find module /.test(firstLine(e)))
  const lines = [`gatsby-dsg: no native addon loads on ${platform} (Node ${process.version}).`]
  if (broken.length > 0) {
    lines.push(`An addon was found but could not be loaded: ${firstLine(broken[0])}`)
    if (/GLIBC_/.test(firstLine(broken[0])))
      lines.push(
        '(The linux-*-gnu addons gatsby-dsg publishes, and those `npm run build` makes, need glibc 2.17 or newer.)',
      )
  } else if (SUPPORTED.includes(platform)) {
    lines.push(
      `Its addon is the optional dependency gatsby-dsg-${platform}, which is not installed: reinstall without --omit=optional / --no-optional, ` +
        'and install on the platform that runs the server (a node_modules copied from another OS, CPU or libc, e.g. into a container, holds the wrong one).',
    )
  } else {
    lines.push(`Addons are published for ${SUPPORTED.join(', ')}; ${platform} is not one of them.`)
  }
  lines.push(
    'To build one from source (Rust from https://rustup.rs, Node 18+): clone the gatsby-dsg repository, `npm install`, `npm run build` ' +
      `(it writes gatsby-dsg.${platform}.node beside index.js), then \`npm pack\` and install that tarball in your site.`,
  )
  if (tried.length > 0) lines.push(`Tried, in order:${tried.map((e) => `\n  - ${firstLine(e)}`).join('')}`)
  else lines.push(`Cause: ${firstLine(cause)}`)
  const error = new Error(lines.join('\n'))
  error.code = 'ERR_GATSBY_DSG_NO_ADDON'
  error.platform = platform
  // Not `cause`: Node prints an uncaught error's cause, and napi's says "npm has a bug"; what
  // each candidate said is in the message already.
  return error
}

// `module.exports = require(...)` as a statement of its own: Node's CommonJS lexer sees it as a
// re-export, so `import { startServer } from "gatsby-dsg"` works from ES modules too.
try {
  module.exports = require('./binding.js')
} catch (error) {
  throw loadError(error)
}
