'use strict'
// The real user's path, from a maintainer's: a fresh clone of this repository (no node_modules,
// no addon), `npm install`, `npm pack` (its prepack builds the addon: scripts/prepack.js), then
// `npm install` of the tarball into a fresh Gatsby 5 site outside the repository, the plugin in
// gatsby-config, `gatsby build`, `npx gatsby-dsg serve`.
// Slow: npm installs the clone's tools and Gatsby from the registry (~1 + ~2 min), cargo builds the
// addon (~2 min: the clone shares the repository's target/ through CARGO_TARGET_DIR, so only this
// package's own crates are compiled again) and Gatsby builds the site (~1 min).

const crypto = require('crypto')
const fs = require('fs')
const path = require('path')
const { tempDir, get, ROOT } = require('./support/site')
const { start, run, killAll } = require('./support/processes')
const { writeFreshSite, NOTES } = require('./support/fresh-site')
const { freshClone } = require('./support/fresh-clone')
const { waitFor } = require('../scripts/support/wait')

jest.setTimeout(20 * 60_000)

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx'
const ADDON = 'gatsby-dsg.linux-x64-gnu.node'

let work // temp dir holding the clone, the tarball and the site
let clone
let packLog // what prepack printed
let cloneAddons // addons in the clone before `npm pack`
let site
let pack // npm pack's JSON report
let tarball
let buildLog
let addonDigest // of the addon the clone's prepack built

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex')

beforeAll(async () => {
  work = fs.realpathSync(tempDir('gatsby-dsg-install-'))
  clone = path.join(work, 'clone')
  freshClone(clone)
  cloneAddons = fs.readdirSync(clone).filter((name) => name.endsWith('.node'))
  await run(NPM, ['install', '--no-audit', '--no-fund'], { cwd: clone })
  const packed = await run(NPM, ['pack', '--json', '--pack-destination', work], {
    cwd: clone,
    env: { CARGO_TARGET_DIR: path.join(ROOT, 'target') },
  })
  packLog = packed.stderr
  pack = JSON.parse(packed.stdout)[0]
  tarball = path.join(work, pack.filename)
  addonDigest = sha256(fs.readFileSync(path.join(clone, ADDON)))

  site = path.join(work, 'site')
  writeFreshSite(site)
  await run(NPM, ['install', '--no-audit', '--no-fund', tarball], { cwd: site })
  const build = await run(path.join(site, 'node_modules', '.bin', 'gatsby'), ['build'], { cwd: site })
  buildLog = build.stdout + build.stderr
})

afterEach(async () => {
  await killAll()
})

afterAll(async () => {
  await killAll()
  if (work) fs.rmSync(work, { recursive: true, force: true })
})

/** Starts `npx gatsby-dsg serve` in the site; resolves to the handle, its start-up line and its URL. */
async function npxServe() {
  const server = start(NPX, ['gatsby-dsg', 'serve', '-p', '0', '-H', '127.0.0.1'], { cwd: site })
  const [line, base] = await server.waitForOutput(/^gatsby-dsg: serving (http:\/\/127\.0\.0\.1:\d+)\/ .*$/m)
  return { server, line, base }
}

/** Whether the server has stored `relative` (laid out like public/) in the site's cache directory. */
function isStored(relative) {
  const artifacts = path.join(site, '.cache', 'gatsby-dsg', 'artifacts')
  if (!fs.existsSync(artifacts)) return false
  return fs
    .readdirSync(artifacts, { recursive: true })
    .some((name) => name.split(path.sep).join('/').endsWith(`/${relative}`))
}

test('`npm pack` in a fresh clone, which has no addon, builds it first (prepack), for glibc 2.17', () => {
  expect(cloneAddons).toEqual([])
  expect(packLog).toContain(`gatsby-dsg prepack: building ${ADDON}`)
  expect(packLog).toContain('building x86_64-unknown-linux-gnu against glibc 2.17')
  expect(fs.existsSync(path.join(clone, ADDON))).toBe(true)
})

test('the tarball holds the addon, its loader and types, the CLI, lib/ and the plugin, and nothing else', () => {
  // lib/: its modules and their types, nothing else.
  const libFiles = fs
    .readdirSync(path.join(ROOT, 'lib'), { recursive: true })
    .filter((name) => /\.(js|d\.ts)$/.test(name))
    .map((name) => `lib/${name.split(path.sep).join('/')}`)
  expect(libFiles).toEqual(expect.arrayContaining(['lib/serve.js', 'lib/serve.d.ts', 'lib/cli.js']))
  const expected = [
    'package.json',
    'README.md',
    'index.js',
    'binding.js',
    'index.d.ts',
    ADDON,
    'bin/gatsby-dsg.js',
    ...libFiles,
    'gatsby-plugin/package.json',
    'gatsby-plugin/index.js',
    'gatsby-plugin/index.d.ts',
    'gatsby-plugin/gatsby-node.js',
  ]
  expect(pack.files.map((f) => f.path).sort()).toEqual(expected.sort())
  // The binary installed is the one the clone built, a 64-bit ELF shared object.
  const installed = fs.readFileSync(path.join(site, 'node_modules', 'gatsby-dsg', ADDON))
  expect(sha256(installed)).toBe(addonDigest)
  expect(installed.subarray(0, 5)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02]))
  // Every path the manifest points at is in the tarball.
  const manifest = require(path.join(site, 'node_modules', 'gatsby-dsg', 'package.json'))
  for (const file of [manifest.main, manifest.types, ...Object.values(manifest.bin)]) {
    expect(pack.files.map((f) => f.path)).toContain(path.posix.normalize(file))
  }
})

test('the installed package loads from the site, not the repository: addon, JS API and plugin', async () => {
  const script = `
    const dsg = require("gatsby-dsg");
    const policy = new dsg.DeferPolicy({ defer: ["/notes/**"], exclude: ["/notes/pinned/"] });
    console.log(JSON.stringify({
      main: require.resolve("gatsby-dsg"),
      plugin: require.resolve("gatsby-dsg/gatsby-plugin/package.json"),
      startServer: typeof dsg.startServer,
      serve: typeof require("gatsby-dsg/lib/serve").serve,
      deferred: policy.shouldDefer("/notes/first/"),
      excluded: policy.shouldDefer("/notes/pinned/"),
    }));`
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: site })
  const loaded = JSON.parse(stdout)
  expect(loaded).toEqual({
    main: path.join(site, 'node_modules', 'gatsby-dsg', 'index.js'),
    plugin: path.join(site, 'node_modules', 'gatsby-dsg', 'gatsby-plugin', 'package.json'),
    startServer: 'function',
    serve: 'function',
    deferred: true,
    excluded: false,
  })
})

/** commander's option list: one entry per option, its wrapped lines joined. */
function optionEntries(help) {
  const entries = []
  let inOptions = false
  for (const line of help.split('\n')) {
    if (/^Options:/.test(line)) inOptions = true
    else if (/^\S/.test(line)) inOptions = false
    else if (inOptions && /^\s{2}-/.test(line)) entries.push(line.trim())
    else if (inOptions && entries.length && /^\s{4,}\S/.test(line)) entries[entries.length - 1] += ` ${line.trim()}`
  }
  return entries
}

test('the installed `gatsby-dsg --help` lists `serve`, and `gatsby-dsg serve --help` lists every flag with its default', async () => {
  const help = (await run(NPX, ['gatsby-dsg', '--help'], { cwd: site })).stdout
  expect(help).toMatch(/^\s+serve \[options\]\s+serve the site/m)

  const entries = optionEntries((await run(NPX, ['gatsby-dsg', 'serve', '--help'], { cwd: site })).stdout)
  const flags = entries.filter((entry) => !entry.startsWith('-h, --help'))
  expect(flags.length).toBeGreaterThanOrEqual(6)
  // Every flag, including any added later, says what it is when not given.
  expect(flags.filter((entry) => !/[(,] ?default: .+\)$/.test(entry))).toEqual([])
  const entry = (flag) => flags.find((e) => e.startsWith(`${flag} `))
  expect(entry('-p, --port <port>')).toMatch(/\(default: 9000\)$/)
  expect(entry('-H, --host <host>')).toMatch(/\(default: "localhost"\)$/)
  expect(entry('--root <dir>')).toMatch(/\(default: the working directory\)$/)
  expect(entry('--cache-dir <dir>')).toMatch(/\(default: "\.cache\/gatsby-dsg\/artifacts"\)$/)
  expect(entry('--cache-size <size>')).toMatch(/\(default: 256MB\)$/)
  expect(entry('--render-timeout <seconds>')).toMatch(/\(default: 30\)$/)
})

test('`gatsby build` with the plugin from the tarball defers the configured pages and writes the manifest', () => {
  expect(buildLog).toMatch(/gatsby-dsg: deferred 2 of \d+ pages \(2 by path globs\)/)
  const manifest = JSON.parse(fs.readFileSync(path.join(site, '.cache', 'gatsby-dsg', 'deferred-pages.json'), 'utf8'))
  expect(manifest.pages.map((p) => p.path)).toEqual(['/notes/first/', '/notes/second/'])
  // Deferred pages leave nothing in public/; the excluded one is built.
  expect(fs.existsSync(path.join(site, 'public', 'notes', 'first', 'index.html'))).toBe(false)
  expect(fs.existsSync(path.join(site, 'public', 'page-data', 'notes', 'first'))).toBe(false)
  expect(fs.readFileSync(path.join(site, 'public', 'notes', 'pinned', 'index.html'), 'utf8')).toContain('Pinned note')
})

test('`npx gatsby-dsg serve` renders a deferred page on its first request, then serves it as a HIT, also after a restart', async () => {
  const first = await npxServe()
  expect(first.line).toMatch(/ 2 deferred pages \(0 already generated\)/)

  const miss = await get(`${first.base}/notes/first/`)
  expect(miss.status).toBe(200)
  expect(miss.headers['x-dsg-cache']).toBe('MISS')
  expect(miss.body).toContain(`<h1>${NOTES[0].title}</h1>`)
  expect(miss.body).toContain(NOTES[0].body)
  const hit = await get(`${first.base}/notes/first/`)
  expect(hit.status).toBe(200)
  expect(hit.headers['x-dsg-cache']).toBe('HIT')
  expect(hit.body).toBe(miss.body)

  // Asked first as page-data (client-side navigation): one render serves the HTML too.
  const pageData = await get(`${first.base}/page-data/notes/second/page-data.json`)
  expect(pageData.status).toBe(200)
  expect(pageData.headers['x-dsg-cache']).toBe('MISS')
  expect(JSON.parse(pageData.body).result.data.note.title).toBe(NOTES[1].title)
  // The HTML is rendered after the page-data was answered; once stored, it is a HIT.
  await waitFor(() => isStored('notes/second/index.html'), { attempts: 1200, what: 'notes/second/index.html stored' })
  const secondHtml = await get(`${first.base}/notes/second/`)
  expect(secondHtml.headers['x-dsg-cache']).toBe('HIT')
  expect(secondHtml.body).toContain(`<h1>${NOTES[1].title}</h1>`)

  // The excluded page is a static file, never a deferred one.
  const pinned = await get(`${first.base}/notes/pinned/`)
  expect(pinned.status).toBe(200)
  expect(pinned.headers['x-dsg-cache']).toBeUndefined()
  expect(pinned.body).toContain(`<h1>${NOTES[2].title}</h1>`)

  await first.server.stop('SIGTERM')

  // A new server process finds both pages on disk, under the site's .cache.
  const second = await npxServe()
  expect(second.line).toMatch(/ 2 deferred pages \(2 already generated\)/)
  const again = await get(`${second.base}/notes/first/`)
  expect(again.headers['x-dsg-cache']).toBe('HIT')
  expect(again.body).toBe(miss.body)
  await second.server.stop('SIGTERM')
})

test('the hand-written types check in a TypeScript file of the site (plugin options, serve(), the addon)', async () => {
  const source = `
import { startServer, DeferPolicy } from "gatsby-dsg";
import type { DsgServer, ServerStats } from "gatsby-dsg";
import { serve, describe, DEFAULTS } from "gatsby-dsg/lib/serve";
import type { ServeOptions } from "gatsby-dsg/lib/serve";
import type { PluginEntry, PluginOptions } from "gatsby-dsg/gatsby-plugin";

export const entry: PluginEntry = {
  resolve: "gatsby-dsg/gatsby-plugin",
  options: { defer: ["/notes/**"], exclude: ["/notes/pinned/"] },
};
// @ts-expect-error \`defer\` is a list of globs
export const notAList: PluginOptions = { defer: "/notes/**" };
// @ts-expect-error there is no such option
export const misspelt: PluginOptions = { deffer: ["/notes/**"] };

export const options: ServeOptions = {
  root: ".",
  host: "127.0.0.1",
  port: 0,
  cacheDir: false,
  memoryCacheBytes: DEFAULTS.memoryCacheBytes,
  staticCacheBytes: DEFAULTS.staticCacheBytes,
  renderTimeoutMs: DEFAULTS.renderTimeoutMs,
  prefixPaths: DEFAULTS.prefixPaths,
  cdnMaxAge: 60,
  renderWorkers: 0,
  accessLog: "json",
};
// @ts-expect-error the port is a number
export const badPort: ServeOptions = { port: "9000" };

export async function main(): Promise<number> {
  const server = await serve(options);
  const addonServer: DsgServer = server;
  const line: string = describe(addonServer, "127.0.0.1");
  const stats: ServerStats = server.stats();
  const workersReady: number = server.renderWorkerPool ? server.renderWorkerPool.ready() : 0;
  // @ts-expect-error no such counter
  stats.nope;
  await server.close();
  const deferred: boolean = new DeferPolicy({ defer: ["/notes/**"] }).shouldDefer("/notes/first/");
  // @ts-expect-error the addon needs the site's public/ directory
  await startServer({ buildId: "x", deferredPages: [] });
  return workersReady + stats.renders + (server.summary().generatedPages ?? 0) + line.length + Number(deferred) + server.port;
}
`
  fs.writeFileSync(path.join(site, 'types-check.ts'), source)
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  // How a CommonJS Node project resolves, and how a bundler does. `types: []` keeps the site's
  // @types packages out; `skipLibCheck: false` checks the package's .d.ts files themselves.
  for (const [name, resolution] of [
    ['node', { module: 'nodenext', moduleResolution: 'nodenext' }],
    ['bundler', { module: 'preserve', moduleResolution: 'bundler' }],
  ]) {
    const config = path.join(site, `tsconfig.${name}.json`)
    const compilerOptions = {
      strict: true,
      noEmit: true,
      target: 'es2022',
      types: [],
      skipLibCheck: false,
      ...resolution,
    }
    fs.writeFileSync(config, JSON.stringify({ compilerOptions, files: ['types-check.ts'] }))
    const result = await start(process.execPath, [tsc, '-p', config], { cwd: site }).exited
    expect({ name, code: result.code, output: result.stdout + result.stderr }).toEqual({ name, code: 0, output: '' })
  }
})
