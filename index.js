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

/** The messages of an error and its `cause` chain (napi chains one cause per candidate it tried). */
function causes(error) {
  const messages = []
  for (let e = error, depth = 0; e && depth < 32; e = e.cause, depth++) {
    const first = String(e.message || e).split('\n')[0]
    if (!messages.includes(first)) messages.push(first)
  }
  return messages
}

function loadError(cause) {
  const platform = currentPlatform()
  const supported = SUPPORTED.includes(platform)
  const tried = causes(cause)
    .slice(1)
    .map((m) => `\n  - ${m}`)
    .join('')
  const lines = [
    `gatsby-dsg: no native addon loads on ${platform} (Node ${process.version}).`,
    supported
      ? `An addon is published for ${platform} as the optional dependency gatsby-dsg-${platform}: reinstall without --omit=optional / --no-optional, and make sure the platform npm installs for matches the one that runs (a node_modules copied from another OS or CPU, e.g. into a container, has the wrong one).`
      : `Addons are published for: ${SUPPORTED.join(', ')}. ${platform} is not one of them.`,
    'To build one from source (Rust from https://rustup.rs and Node 18+): clone the gatsby-dsg repository, `npm install`, `npm run build` (it writes gatsby-dsg.<platform>.node beside index.js), then `npm pack` and install that tarball in your site.',
  ]
  if (tried) lines.push(`What was tried:${tried}`)
  const error = new Error(lines.join('\n'))
  error.code = 'ERR_GATSBY_DSG_NO_ADDON'
  error.platform = platform
  error.cause = cause
  return error
}

// `module.exports = require(...)` as a statement of its own: Node's CommonJS lexer sees it as a
// re-export, so `import { startServer } from "gatsby-dsg"` works from ES modules too.
try {
  module.exports = require('./binding.js')
} catch (error) {
  throw loadError(error)
}
