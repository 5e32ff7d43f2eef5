'use strict'
// The linux-x64-gnu addon runs on older Linux distributions than the one it is built on:
// scripts/build-addon.js links it against a glibc 2.17 sysroot. Proven two ways: the symbol
// versions it asks of libc (objdump -T), and a real load — this machine's `node` running the
// addon's HTTP server inside a Debian 11 (bullseye, glibc 2.31) root made by debootstrap.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { ROOT, get } = require('./support/site')
const { start, killAll } = require('./support/processes')
const debianRoot = require('./support/debian-root')

jest.setTimeout(10 * 60_000)

const ADDON = path.join(ROOT, 'gatsby-dsg.linux-x64-gnu.node')
/** The glibc floor scripts/build-addon.js builds for (napi-rs's convention). */
const FLOOR = '2.17'

const linuxX64 = process.platform === 'linux' && process.arch === 'x64'
const compare = (a, b) => {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0)
  return 0
}

afterAll(async () => {
  await killAll()
})

;(linuxX64 ? test : test.skip)(`the linux-x64-gnu addon asks libc for no symbol version above GLIBC_${FLOOR} (objdump -T)`, () => {
  const dump = spawnSync('objdump', ['-T', ADDON], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  expect({ status: dump.status, error: dump.error && dump.error.message }).toEqual({ status: 0, error: undefined })
  const versions = [...new Set([...dump.stdout.matchAll(/\(GLIBC_([0-9.]+)\)/g)].map((m) => m[1]))].sort(compare)
  // The addon uses libc (threads, sockets, files): an empty list would mean objdump saw nothing.
  expect(versions.length).toBeGreaterThan(3)
  const highest = versions[versions.length - 1]
  expect({ highest, atMostFloor: compare(highest, FLOOR) <= 0 }).toEqual({ highest, atMostFloor: true })
  // And none of libstdc++'s (the addon is Rust and C, linked without it).
  expect(dump.stdout).not.toMatch(/GLIBCXX_/)
})

const skip = linuxX64 ? debianRoot.skipReason() : 'not a linux-x64 host'
if (skip) console.warn(`Debian ${debianRoot.SUITE} load test skipped: ${skip}`)

;(skip ? test.skip : test)(`this machine's node runs the addon's server inside a Debian 11 (${debianRoot.SUITE}, glibc 2.31) root: a static file, then a deferred page MISS then HIT`, async () => {
  const root = debianRoot.ensureRoot()
  expect(fs.readFileSync(path.join(root, 'etc', 'debian_version'), 'utf8')).toMatch(/^11\./)
  // This run's files inside the root: node, the package as npm would install it, a site.
  const run = fs.mkdtempSync(path.join(root, 'tmp', 'gatsby-dsg-'))
  const inside = (p) => `/${path.relative(root, p)}`
  try {
    fs.copyFileSync(process.execPath, path.join(run, 'node'))
    fs.chmodSync(path.join(run, 'node'), 0o755)
    const pkg = path.join(run, 'node_modules', 'gatsby-dsg')
    fs.mkdirSync(pkg, { recursive: true })
    for (const file of ['package.json', 'index.js', 'binding.js', 'gatsby-dsg.linux-x64-gnu.node']) fs.copyFileSync(path.join(ROOT, file), path.join(pkg, file))
    fs.mkdirSync(path.join(run, 'public'))
    fs.writeFileSync(path.join(run, 'public', 'index.html'), '<!DOCTYPE html><html><body>static on bullseye</body></html>')
    fs.writeFileSync(
      path.join(run, 'server.js'),
      `const { startServer } = require("gatsby-dsg");
const render = async (pagePath) => ({
  pageData: JSON.stringify({ path: pagePath }),
  html: Promise.resolve("<!DOCTYPE html><html><body>rendered " + pagePath + " on glibc " + process.report.getReport().header.glibcVersionRuntime + "</body></html>"),
});
startServer({ host: "127.0.0.1", port: 0, publicDir: ${JSON.stringify(inside(path.join(run, 'public')))}, buildId: "bullseye", deferredPages: [{ path: "/deferred/" }] }, render)
  .then((server) => console.log("listening " + server.port + " glibc " + process.report.getReport().header.glibcVersionRuntime))
  .catch((error) => { console.error(error.stack); process.exit(1) });
`,
    )
    // The root has no CA bundle; Node would warn about NODE_EXTRA_CA_CERTS pointing into the host's.
    const server = start('chroot', [root, inside(path.join(run, 'node')), inside(path.join(run, 'server.js'))], {
      cwd: ROOT,
      env: { NODE_EXTRA_CA_CERTS: '' },
    })
    const [, port, glibc] = await server.waitForOutput(/^listening (\d+) glibc (\S+)$/m)
    expect(glibc).toBe('2.31')
    const base = `http://127.0.0.1:${port}`
    const file = await get(`${base}/`)
    expect(file.status).toBe(200)
    expect(file.body).toContain('static on bullseye')
    const miss = await get(`${base}/deferred/`)
    expect(miss.status).toBe(200)
    expect(miss.headers['x-dsg-cache']).toBe('MISS')
    expect(miss.body).toContain('rendered /deferred/ on glibc 2.31')
    const hit = await get(`${base}/deferred/`)
    expect(hit.headers['x-dsg-cache']).toBe('HIT')
    expect(hit.body).toBe(miss.body)
    const stopped = await server.stop('SIGTERM')
    expect(stopped.stderr).not.toMatch(/GLIBC_|not found/)
  } finally {
    fs.rmSync(run, { recursive: true, force: true })
  }
})
