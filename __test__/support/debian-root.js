'use strict'
// A Debian 11 (bullseye, glibc 2.31) root filesystem, made with
// `debootstrap --variant=minbase bullseye` from Debian's own packages, to run this machine's
// `node` and the addon against an older glibc than the build machine's.
//
// Made once per machine (≈60-90 s and 215 MB; measured 93 s on the 2-core CI machine under load)
// under $XDG_CACHE_HOME/gatsby-dsg/ (default ~/.cache/gatsby-dsg/; GATSBY_DSG_DEBIAN_ROOT
// overrides the path), and reused after that. Invariant: the root at that path is complete — it is
// made in a temporary sibling directory, marked complete, then renamed into place; a run killed
// half-way leaves only a temporary directory, which the next run removes (after unmounting
// whatever debootstrap had mounted in it).

const { spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const SUITE = 'bullseye'
const MIRROR = process.env.GATSBY_DSG_DEBIAN_MIRROR || 'http://deb.debian.org/debian'
const COMPLETE = '.gatsby-dsg-complete'
const DEBOOTSTRAP = '/usr/sbin/debootstrap'

function rootPath() {
  if (process.env.GATSBY_DSG_DEBIAN_ROOT) return path.resolve(process.env.GATSBY_DSG_DEBIAN_ROOT)
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(cache, 'gatsby-dsg', `debian-${SUITE}-minbase`)
}

/** Why the Debian root cannot be made or used here, or null when it can. */
function skipReason() {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `the Debian ${SUITE} root is for linux-x64 hosts (this is ${process.platform}-${process.arch})`
  if (fs.existsSync(path.join(rootPath(), COMPLETE))) {
    if (process.getuid() !== 0) return 'chroot needs root (this test runs as uid ' + process.getuid() + ')'
    return null
  }
  if (process.getuid() !== 0) return `debootstrap and chroot need root (this test runs as uid ${process.getuid()})`
  if (!fs.existsSync(DEBOOTSTRAP))
    return `${DEBOOTSTRAP} is missing (npm test installs it with apt-get where allowed: apt-get install debootstrap)`
  return null
}

/** Unmounts every mount point at or below `dir` (deepest first), so removing it cannot reach /proc or /sys. */
function unmountBelow(dir) {
  const mounts = fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter(Boolean)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
  for (const mount of mounts) spawnSync('umount', ['-l', mount])
}

function removeTree(dir) {
  unmountBelow(dir)
  fs.rmSync(dir, { recursive: true, force: true })
}

/** The root's path, made now if no complete one exists. Throws with debootstrap's log tail if it fails. */
function ensureRoot() {
  const root = rootPath()
  if (fs.existsSync(path.join(root, COMPLETE))) return root
  const parent = path.dirname(root)
  fs.mkdirSync(parent, { recursive: true })
  // Leftovers of killed runs (their process is gone).
  for (const name of fs.readdirSync(parent)) {
    const match = new RegExp(`^\\.${path.basename(root)}\\.(\\d+)$`).exec(name)
    if (!match) continue
    let alive = true
    try {
      process.kill(Number(match[1]), 0)
    } catch {
      alive = false
    }
    if (!alive) removeTree(path.join(parent, name))
  }
  const staging = path.join(parent, `.${path.basename(root)}.${process.pid}`)
  removeTree(staging)
  const started = Date.now()
  const result = spawnSync(DEBOOTSTRAP, ['--variant=minbase', SUITE, staging, MIRROR], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (result.status !== 0) {
    const log = `${result.stdout || ''}${result.stderr || ''}`.trim().split('\n').slice(-15).join('\n')
    removeTree(staging)
    throw new Error(
      `debootstrap --variant=minbase ${SUITE} failed (${result.error ? result.error.message : `exit ${result.status}`}):\n${log}`,
    )
  }
  unmountBelow(staging)
  fs.writeFileSync(
    path.join(staging, COMPLETE),
    `debootstrap --variant=minbase ${SUITE} ${MIRROR} in ${Date.now() - started} ms\n`,
  )
  try {
    fs.renameSync(staging, root)
  } catch (error) {
    // Another run finished first: keep its root.
    removeTree(staging)
    if (!fs.existsSync(path.join(root, COMPLETE))) throw error
  }
  return root
}

module.exports = { ensureRoot, skipReason, rootPath, removeTree, SUITE }
