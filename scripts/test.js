'use strict'
// `npm test`: build what is missing, lint (scripts/lint.js), then the Rust engine's tests, then
// the end-to-end tests on the example site built by real Gatsby, and on the fixture sites built
// by older Gatsby versions (scripts/fixtures.js).

const fs = require('fs')
const path = require('path')
const { prepare, run, ROOT } = require('./prepare')
const { lint } = require('./lint')
const { prepareFixtures } = require('./fixtures')

/** Debian packages the tests drive: Chromium (browser tests), redis-server and redis-cli (shared
 *  tier, TLS and Redis Cluster), openssl (the TLS tests' certificates), wrk and nginx (the
 *  benchmark's smoke run), debootstrap (the Debian 11 root the addon is loaded in) and objdump
 *  (its glibc symbol versions), systemd-analyze (deploy/gatsby-dsg.service); xz-utils extracts
 *  the addon's glibc 2.17 toolchain.
 *  Installed with apt-get when missing and allowed. */
const SYSTEM_PACKAGES = [
  { pkg: 'chromium', bin: '/usr/bin/chromium' },
  { pkg: 'redis-server', bin: '/usr/bin/redis-server' },
  { pkg: 'redis-tools', bin: '/usr/bin/redis-cli' },
  { pkg: 'openssl', bin: '/usr/bin/openssl' },
  { pkg: 'nginx', bin: '/usr/sbin/nginx' },
  { pkg: 'wrk', bin: '/usr/bin/wrk' },
  { pkg: 'debootstrap', bin: '/usr/sbin/debootstrap' },
  { pkg: 'binutils', bin: '/usr/bin/objdump' },
  { pkg: 'xz-utils', bin: '/usr/bin/xz' },
  { pkg: 'systemd', bin: '/usr/bin/systemd-analyze' },
]

function installSystemPackages() {
  const missing = SYSTEM_PACKAGES.filter(({ bin }) => !fs.existsSync(bin)).map(({ pkg }) => pkg)
  if (missing.length === 0) return
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  const apt = root ? ['apt-get'] : ['sudo', '-n', 'apt-get']
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  try {
    run(apt[0], [...apt.slice(1), 'update', '-qq'], ROOT, env)
    run(apt[0], [...apt.slice(1), 'install', '-y', '-qq', ...missing], ROOT, env)
  } catch (error) {
    throw new Error(`the tests need these Debian packages: ${missing.join(' ')} (${error.message})`, { cause: error })
  }
}

try {
  installSystemPackages()
  prepare()
  lint()
  prepareFixtures()
  run('cargo', ['test', '-p', 'gatsby-dsg-engine'], ROOT)
  run(
    process.execPath,
    [path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--runInBand', ...process.argv.slice(2)],
    ROOT,
  )
} catch (error) {
  console.error(`[test] ${error.message}`)
  process.exit(1)
}
