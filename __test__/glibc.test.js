'use strict'
// The linux-x64-gnu addon runs on older Linux distributions than the one it is built on:
// scripts/build-addon.js links it against a glibc 2.17 sysroot. Proven two ways: the symbol
// versions it asks of libc (objdump -T), and a real load — this machine's `node` running the
// addon's HTTP server inside a Debian 11 (bullseye, glibc 2.31) root made by debootstrap.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { ROOT } = require('./support/site')
const { start, killAll } = require('./support/processes')
const debianRoot = require('./support/debian-root')

jest.setTimeout(10 * 60_000)

const ADDON = path.join(ROOT, 'gatsby-dsg.linux-x64-gnu.node')
/** The glibc floor scripts/build-addon.js builds for (napi-rs's convention). */
const FLOOR = '2.17'

const linuxX64 = process.platform === 'linux' && process.arch === 'x64'
const compare = (a, b) => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)]
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0)
  return 0
}

afterAll(async () => {
  await killAll()
})

;(linuxX64 ? test : test.skip)(
  `the linux-x64-gnu addon asks libc for no symbol version above GLIBC_${FLOOR} (objdump -T)`,
  () => {
    const dump = spawnSync('objdump', ['-T', ADDON], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    expect({ status: dump.status, error: dump.error && dump.error.message }).toEqual({ status: 0, error: undefined })
    const versions = [...new Set([...dump.stdout.matchAll(/\(GLIBC_([0-9.]+)\)/g)].map((m) => m[1]))].sort(compare)
    // The addon uses libc (threads, sockets, files): an empty list would mean objdump saw nothing.
    expect(versions.length).toBeGreaterThan(3)
    const highest = versions[versions.length - 1]
    expect({ highest, atMostFloor: compare(highest, FLOOR) <= 0 }).toEqual({ highest, atMostFloor: true })
    // And none of libstdc++'s (the addon is Rust and C, linked without it).
    expect(dump.stdout).not.toMatch(/GLIBCXX_/)
  },
)

const skip = linuxX64 ? debianRoot.skipReason() : 'not a linux-x64 host'
if (skip) console.warn(`Debian ${debianRoot.SUITE} load test skipped: ${skip}`)

;(skip ? test.skip : test)(
  `this machine's node runs the addon's server inside a Debian 11 (${debianRoot.SUITE}, glibc 2.31) root: a static file, a deferred page MISS then HIT, a 404`,
  async () => {
    const root = debianRoot.ensureRoot()
    expect(fs.readFileSync(path.join(root, 'etc', 'debian_version'), 'utf8')).toMatch(/^11\./)
    // This run's files inside the root: node, and the package as npm would install it.
    const run = fs.mkdtempSync(path.join(root, 'tmp', 'gatsby-dsg-'))
    const inside = (p) => `/${path.relative(root, p)}`
    try {
      fs.copyFileSync(process.execPath, path.join(run, 'node'))
      fs.chmodSync(path.join(run, 'node'), 0o755)
      const pkg = path.join(run, 'node_modules', 'gatsby-dsg')
      fs.mkdirSync(path.join(pkg, 'scripts'), { recursive: true })
      for (const file of [
        'package.json',
        'index.js',
        'binding.js',
        'gatsby-dsg.linux-x64-gnu.node',
        'scripts/smoke-addon.js',
      ]) {
        fs.copyFileSync(path.join(ROOT, file), path.join(pkg, file))
      }
      // The root has no CA bundle: NODE_EXTRA_CA_CERTS pointing at the host's would only add a warning.
      const smoke = await start(
        'chroot',
        [root, inside(path.join(run, 'node')), inside(path.join(pkg, 'scripts', 'smoke-addon.js'))],
        {
          cwd: ROOT,
          env: { NODE_EXTRA_CA_CERTS: '' },
        },
      ).exited
      expect({ code: smoke.code, stderr: smoke.stderr }).toEqual({ code: 0, stderr: '' })
      expect(smoke.stdout).toMatch(/^gatsby-dsg smoke: ok on linux-x64 glibc 2\.31, Node v\d+/m)
    } finally {
      fs.rmSync(run, { recursive: true, force: true })
    }
  },
)
