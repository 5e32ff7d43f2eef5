'use strict'
// Reliability end to end: a server SIGKILLed during a burst of first renders leaves only whole
// artifacts and cleans up at restart; an unusable or full cache disk costs only the disk tier; a
// render callback that throws, rejects, hangs or returns the wrong type is a 500 that is not
// cached; Gatsby's engines crashing at load is a clear start-up error.
//
// Every server runs in a child process (tracked; afterAll SIGKILLs what is left: support/processes.js). Waits are
// bounded; nothing here asserts on timing.

const { execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const R = require('./support/reliability')
const { exampleDeferredPages } = require('./support/site')
const { runCliToEnd } = require('./support/cli')
const { killAll } = require('./support/processes')
const { waitFor } = require('../scripts/support/wait')

const ADDON_SERVER = path.join(__dirname, 'support', 'addon-server.js')
const THREAD_EXIT_SERVER = path.join(__dirname, 'support', 'thread-exit-server.js')
// Node's announced default: an exception left pending by a N-API callback is an uncaught
// exception (today Node only warns, DEP0168). Faults must not crash the server under it either.
const STRICT_NODE = ['--force-node-api-uncaught-exceptions-policy=true']

const temps = []
function tempDir(prefix = 'gatsby-dsg-reliability-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  temps.push(dir)
  return dir
}

afterAll(async () => {
  await killAll()
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true })
})

/** Lines of `text` matching `regex`. */
const linesMatching = (text, regex) => text.split('\n').filter((line) => regex.test(line))

/** The page path of a stored file, relative to the build directory. */
function pageOfStored(buildDir, file) {
  const rel = path.relative(buildDir, file).split(path.sep)
  if (rel[0] === 'page-data') {
    const inner = rel.slice(1, -1).join('/')
    return inner === 'index' ? '/' : `/${inner}/`
  }
  const inner = rel.slice(0, -1).join('/')
  return inner === '' ? '/' : `/${inner}/`
}

function storedHtml(buildDir, page) {
  return path.join(buildDir, ...page.split('/').filter(Boolean), 'index.html')
}

function storedPageData(buildDir, page) {
  return path.join(buildDir, 'page-data', ...page.split('/').filter(Boolean), 'page-data.json')
}

// -------------------------------------------------------------------------------------------------

describe('kill -9 during a burst of first renders', () => {
  const pages = exampleDeferredPages().filter((p) => p !== '/broken/' && p !== '/flaky/')

  test('leaves only whole artifacts; the restarted server removes temp files and serves what was stored', async () => {
    const cacheDir = tempDir()
    const first = await R.startExample({ cacheDir })
    const buildDir = first.summary.cacheDir
    expect(R.buildDirs(cacheDir)).toEqual([buildDir])

    // Every page's HTML and page-data at once: first renders, compression and disk writes in
    // flight. Killed once a few have been answered.
    let answered = 0
    const burst = pages.flatMap((page) => [R.urlOf(page), R.pageDataUrlOf(page)])
    const results = burst.map((url) =>
      first.get(url).then(
        (res) => {
          if (res.status === 200) answered++
          return res
        },
        () => null, // cut off by the kill
      ),
    )
    await waitFor(() => answered >= 6 && R.checkArtifacts(buildDir).html.length >= 3, {
      what: 'a few pages were answered and stored',
    })
    const { signal } = await first.kill('SIGKILL')
    expect(signal).toBe('SIGKILL')
    const settled = await Promise.all(results)
    expect(settled.filter((r) => r === null).length).toBeGreaterThan(0) // killed mid-burst

    const afterKill = R.checkArtifacts(cacheDir)
    if (process.env.RELIABILITY_DEBUG)
      console.log(
        JSON.stringify({
          cut: settled.filter((r) => r === null).length,
          of: settled.length,
          html: afterKill.html.length,
          pageData: afterKill.pageData.length,
          variants: afterKill.variants.length,
          orphans: afterKill.orphanVariants.length,
          temps: afterKill.temps.length,
        }),
      )
    expect(afterKill.problems).toEqual([])
    expect(afterKill.other).toEqual([])
    expect(afterKill.html.length + afterKill.pageData.length).toBeGreaterThan(0)

    // What a kill between `create(temp)` and `rename` leaves: torn temp files, one beside a page
    // that was not stored, one beside a page that was.
    const unstored = pages.find((p) => !fs.existsSync(storedHtml(buildDir, p)) && !/[^\x20-\x7e]/.test(p))
    expect(unstored).toBeDefined()
    const tornHtml = path.join(path.dirname(storedHtml(buildDir, unstored)), '.index.html.999999.0.tmp')
    const tornPageData = path.join(path.dirname(storedPageData(buildDir, unstored)), '.page-data.json.999999.1.tmp')
    for (const file of [tornHtml, tornPageData]) fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(tornHtml, '<!DOCTYPE html><html><body><h1>torn')
    fs.writeFileSync(tornPageData, '{"path":"torn')
    const stored = afterKill.html[0] || afterKill.pageData[0]
    fs.writeFileSync(path.join(path.dirname(stored), `.${path.basename(stored)}.999999.2.tmp`), 'torn')
    expect(R.checkArtifacts(cacheDir).temps.length).toBeGreaterThanOrEqual(3)

    // Restart on the same cache directory: temp files gone before the first request.
    const second = await R.startExample({ cacheDir })
    try {
      expect(second.summary.cacheDir).toBe(buildDir)
      const restarted = R.checkArtifacts(cacheDir)
      expect(restarted.temps).toEqual([])
      expect(restarted.problems).toEqual([])
      expect(second.summary.generatedPages).toBe(afterKill.html.length)

      // Everything stored before the kill is served as stored: a HIT, byte for byte.
      for (const file of afterKill.html) {
        const page = pageOfStored(buildDir, file)
        const res = await second.get(R.urlOf(page))
        expect([page, res.status, res.headers['x-dsg-cache']]).toEqual([page, 200, 'HIT'])
        expect(res.body.equals(fs.readFileSync(file))).toBe(true)
      }
      for (const file of afterKill.pageData) {
        const page = pageOfStored(buildDir, file)
        const res = await second.get(R.pageDataUrlOf(page))
        expect([page, res.status, res.headers['x-dsg-cache']]).toEqual([page, 200, 'HIT'])
        expect(JSON.parse(res.text).path).toBe(page)
      }

      // The page with only torn temp files is rendered afresh, whole.
      const fresh = await second.get(R.urlOf(unstored))
      expect([fresh.status, fresh.headers['x-dsg-cache']]).toEqual([200, 'MISS'])
      expect(fresh.text).not.toContain('torn')
      expect(fresh.text.trimEnd().endsWith('</html>')).toBe(true)

      // A temp file being written while the server runs is never served, by any URL.
      // (A page without a matchPath: under /app/* any name is the /app/ page.)
      const storedPage = [...afterKill.html.map((f) => pageOfStored(buildDir, f)), unstored].find((p) => p !== '/app/')
      const dir = path.dirname(storedHtml(buildDir, storedPage))
      fs.writeFileSync(path.join(dir, '.index.html.424242.0.tmp'), '<html><body>torn')
      const page = await second.get(R.urlOf(storedPage))
      expect(page.status).toBe(200)
      expect(page.text).not.toContain('torn')
      for (const url of [
        `${R.urlOf(storedPage)}.index.html.424242.0.tmp`,
        `${R.urlOf(storedPage)}%2e%69ndex.html.424242.0.tmp`,
      ]) {
        const res = await second.get(url)
        expect([url, res.status]).toEqual([url, 404])
        expect(res.text).not.toContain('torn')
      }
      fs.rmSync(path.join(dir, '.index.html.424242.0.tmp'))

      // The rest of the burst completes on the restarted server, and all of it is whole.
      const rest = await Promise.all(burst.map((url) => second.get(url)))
      expect(rest.map((r) => r.status).filter((s) => s !== 200)).toEqual([])
      await waitFor(async () => (await second.stats()).rendersInFlight === 0, {
        what: 'every render and write finished',
      })
      const final = R.checkArtifacts(cacheDir)
      expect(final.problems).toEqual([])
      expect(final.temps).toEqual([])
      expect(final.orphanVariants).toEqual([]) // a variant left without its identity file was rewritten
      expect(final.html.length).toBe(pages.length)
      expect(final.pageData.length).toBe(pages.length)
      expect(final.variants.length).toBeGreaterThan(0)
    } finally {
      await second.kill()
    }
  })
})

// -------------------------------------------------------------------------------------------------

describe('disk faults', () => {
  const BLOG = ['/blog/post-00002/', '/blog/post-00004/', '/blog/post-00006/']

  /** Starts on `cacheDir`, asks for BLOG's HTML and page-data twice; returns the server. */
  async function serveBlogPages(cacheDir) {
    const server = await R.startExample({ cacheDir })
    for (const page of BLOG) {
      const res = await server.get(R.urlOf(page))
      expect([page, res.status, res.headers['x-dsg-cache']]).toEqual([page, 200, 'MISS'])
      expect(res.text).toContain(`<h1>Blog post ${Number(page.match(/\d+/)[0])}</h1>`)
    }
    await waitFor(async () => (await server.stats()).rendersInFlight === 0, { what: 'the renders and writes ended' })
    for (const page of BLOG) {
      const html = await server.get(R.urlOf(page))
      expect([page, html.status, html.headers['x-dsg-cache']]).toEqual([page, 200, 'HIT'])
      const pageData = await server.get(R.pageDataUrlOf(page))
      expect([page, pageData.status, pageData.headers['x-dsg-cache']]).toEqual([page, 200, 'HIT'])
    }
    return server
  }

  test('a file where the cache must create a directory: pages are served from memory, one log line, nothing torn', async () => {
    // Simulated: the build's directory exists, but `blog` and `page-data` in it are regular
    // files, so every write of a blog page fails with ENOTDIR (chmod cannot stop root).
    const cacheDir = tempDir()
    const probe = await R.startExample({ cacheDir })
    const buildDir = probe.summary.cacheDir
    await probe.kill()
    const blockers = ['blog', 'page-data'].map((name) => path.join(buildDir, name))
    for (const file of blockers) fs.writeFileSync(file, 'a file where a directory must go\n')

    const server = await serveBlogPages(cacheDir)
    try {
      const stats = await server.stats()
      expect(stats.diskWriteFailures).toBeGreaterThanOrEqual(BLOG.length * 2)
      expect(stats.diskEntries).toBe(0)
      const logged = linesMatching(server.stderr(), /cannot store/)
      expect(logged).toHaveLength(1)
      expect(logged[0]).toContain(buildDir)
      expect((await server.get('/')).status).toBe(200)

      const disk = R.checkArtifacts(cacheDir)
      expect(disk.problems).toEqual([])
      expect(disk.temps).toEqual([])
      expect(disk.html).toEqual([])
      expect(disk.pageData).toEqual([])
      for (const file of blockers) expect(fs.readFileSync(file, 'utf8')).toBe('a file where a directory must go\n')
    } finally {
      await server.kill()
    }
  })

  test('a cache directory that cannot be created at start-up is one clear start-up error', async () => {
    const file = path.join(tempDir(), 'not-a-directory')
    fs.writeFileSync(file, 'x')
    const { code, stdout, stderr } = await runCliToEnd(
      ['serve', '--root', R.EXAMPLE, '-p', '0', '-H', '127.0.0.1', '--no-access-log', '--cache-dir', file],
      { timeoutMs: 60_000 },
    )
    expect(code).toBe(1)
    expect(stdout).not.toContain('serving')
    const lines = stderr.split('\n').filter((l) => l.trim() !== '')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^gatsby-dsg: cannot use cache directory .*not-a-directory/)
  })

  const tmpfsWorks = canMountTmpfs()

  ;(tmpfsWorks ? test : test.skip)(
    'a full disk (a 512 KiB tmpfs, filled up): pages are served from memory, one log line, nothing torn; freed, pages are stored again',
    async () => {
      const tmpfs = mountTmpfs()
      const cacheDir = path.join(tmpfs, 'cache')
      const server = await R.startExample({ cacheDir }).catch((error) => {
        unmount(tmpfs)
        throw error
      })
      try {
        // Fill the file system to the last byte.
        const filler = path.join(tmpfs, 'filler')
        const fd = fs.openSync(filler, 'w')
        const chunk = Buffer.alloc(4096, 'x')
        try {
          for (;;) fs.writeSync(fd, chunk)
        } catch (error) {
          expect(error.code).toBe('ENOSPC')
        }
        try {
          for (;;) fs.writeSync(fd, chunk, 0, 1)
        } catch (error) {
          expect(error.code).toBe('ENOSPC')
        }
        fs.closeSync(fd)

        for (const page of BLOG) {
          const res = await server.get(R.urlOf(page))
          expect([page, res.status]).toEqual([page, 200])
        }
        await waitFor(async () => (await server.stats()).rendersInFlight === 0, {
          what: 'the renders and writes ended',
        })
        for (const page of BLOG) {
          const res = await server.get(R.urlOf(page))
          expect([page, res.status, res.headers['x-dsg-cache']]).toEqual([page, 200, 'HIT'])
        }
        expect((await server.stats()).diskWriteFailures).toBeGreaterThan(0)
        expect(linesMatching(server.stderr(), /cannot store/)).toHaveLength(1)
        const full = R.checkArtifacts(cacheDir)
        expect(full.problems).toEqual([])
        expect(full.temps).toEqual([])

        // Space again: the next pages are stored, whole.
        fs.rmSync(filler)
        const later = ['/guides/guide-01/', '/products/product-01/']
        for (const page of later) expect((await server.get(R.urlOf(page))).status).toBe(200)
        await waitFor(async () => (await server.stats()).rendersInFlight === 0, {
          what: 'the renders and writes ended',
        })
        const freed = R.checkArtifacts(cacheDir)
        expect(freed.problems).toEqual([])
        expect(freed.temps).toEqual([])
        for (const page of later) expect(freed.html).toContain(storedHtml(server.summary.cacheDir, page))
        expect(linesMatching(server.stderr(), /cannot store/)).toHaveLength(1)
      } finally {
        await server.kill()
        unmount(tmpfs)
      }
    },
  )
})

/** A fresh 512 KiB tmpfs (needs root, and a kernel that allows it here). */
function mountTmpfs() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatsby-dsg-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir], { stdio: 'ignore' })
  } catch (error) {
    fs.rmdirSync(dir)
    throw error
  }
  return dir
}

function unmount(dir) {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    fs.rmdirSync(dir)
  } catch {
    // not mounted
  }
}

/** Whether a tmpfs can be mounted here (mounted and unmounted at once to find out). */
function canMountTmpfs() {
  try {
    unmount(mountTmpfs())
    return true
  } catch {
    console.warn('reliability.test.js: cannot mount a tmpfs here (not root?); the disk-full test is skipped')
    return false
  }
}

// -------------------------------------------------------------------------------------------------

describe('renderer faults: the addon with a render callback that misbehaves', () => {
  /** A built site's minimal layout for the addon: public/ with its 404 and 500 pages. */
  function faultSite() {
    const dir = tempDir()
    const publicDir = path.join(dir, 'public')
    fs.mkdirSync(publicDir)
    fs.writeFileSync(path.join(publicDir, 'index.html'), '<html><body>home</body></html>')
    fs.writeFileSync(path.join(publicDir, '404.html'), '<html><body>not found</body></html>')
    fs.writeFileSync(path.join(publicDir, '500.html'), '<html><body>site 500 page</body></html>')
    return { publicDir, cacheDir: path.join(dir, 'cache') }
  }

  function startFaults(site) {
    return R.startControlled(ADDON_SERVER, { ...site, renderTimeoutMs: 500 }, { nodeArgs: STRICT_NODE })
  }

  /** Files stored for `page` under the cache directory. */
  function storedFor(cacheDir, page) {
    const name = page.replace(/\//g, '')
    return R.walk(cacheDir).filter((f) => f.split(path.sep).includes(name))
  }

  test('a render whose worker thread ends while its promise is pending is a 500, never rendered again by another renderer', async () => {
    const server = await R.startControlled(
      THREAD_EXIT_SERVER,
      { ...faultSite(), renderTimeoutMs: 10_000 },
      { nodeArgs: STRICT_NODE },
    )
    try {
      const pending = server.get('/ends-its-thread/')
      expect(await server.request('workerExited')).toMatchObject({ code: 0 })
      // Another renderer is there once the thread is gone: the render that ran must not go to it.
      await server.request('registerMain')
      expect((await pending).status).toBe(500)
      expect((await server.request('calls')).calls).toEqual({})
      expect(linesMatching(server.stderr(), /ends-its-thread/).join('\n')).toMatch(/ended before its promise settled/)
      // The server goes on rendering with the renderer it has left.
      expect((await server.get('/after/')).status).toBe(200)
      expect((await server.request('calls')).calls).toEqual({ '/after/': 1 })
    } finally {
      await server.close()
    }
  })

  describe('a render callback that returns something other than a promise', () => {
    test.each(['/returns-number/', '/returns-null/', '/returns-string/'])(
      '%s is a 500 with a clear log line; the server stays up and caches nothing',
      async (page) => {
        const site = faultSite()
        const server = await startFaults(site)
        try {
          for (let i = 0; i < 2; i++) {
            const res = await server.get(page).catch(async (error) => {
              const exit = await Promise.race([server.exited, new Promise((r) => setTimeout(r, 1000, 'still running'))])
              throw new Error(
                `GET ${page}: ${error.message}; server: ${JSON.stringify(exit)}; its stderr:\n${server.stderr()}`,
              )
            })
            expect([res.status, res.text]).toEqual([500, '<html><body>site 500 page</body></html>'])
            expect(res.headers['x-dsg-cache']).toBe('MISS')
          }
          expect((await server.get('/')).status).toBe(200)
          expect((await server.request('calls')).calls[page]).toBe(2)
          expect(server.child.exitCode).toBeNull()
          expect(storedFor(site.cacheDir, page)).toEqual([])
          const logged = linesMatching(server.stderr(), new RegExp(`${page} not generated`))
          expect(logged).toHaveLength(2)
          for (const line of logged) expect(line).toMatch(/render failed: \S.*promise/i)
        } finally {
          await server.kill()
        }
      },
    )
  })

  describe('one server, many faults', () => {
    let site
    let server
    beforeAll(async () => {
      site = faultSite()
      server = await startFaults(site)
    })
    afterAll(() => server && server.kill())

    // Nothing usable: page-data and HTML are both 500, and the next request renders again.
    test.each([
      ['/resolves-number/', /pageData/],
      ['/resolves-empty-object/', /pageData/],
      ['/no-page-data/', /pageData/],
      ['/page-data-number/', /pageData/],
      ['/page-data-object/', /pageData/],
      ['/throws/', /render threw synchronously \(test\)/],
      ['/rejects/', /render rejected \(test\)/],
      ['/rejects-string/', /render rejected with a string \(test\)/],
      ['/never-settles/', /timed out/],
      ['/html-not-a-promise/', /html/i],
    ])('%s is a 500 for HTML and page-data, logged, never cached', async (page, reason) => {
      const html = await server.get(page)
      expect([html.status, html.text, html.headers['x-dsg-cache']]).toEqual([
        500,
        '<html><body>site 500 page</body></html>',
        'MISS',
      ])
      const pageData = await server.get(R.pageDataUrlOf(page))
      expect(pageData.status).toBe(500)
      expect((await server.request('calls')).calls[page]).toBe(2)
      expect(storedFor(site.cacheDir, page)).toEqual([])
      const logged = linesMatching(server.stderr(), new RegExp(`${page} not generated`))
      expect(logged.length).toBeGreaterThanOrEqual(2)
      expect(logged[0]).toMatch(reason)
    })

    // The page-data is fine and served; the HTML is a 500 and is rendered again next time.
    test.each([
      ['/html-number/', /String/],
      ['/html-rejects/', /HTML render rejected \(test\)/],
      ['/html-never-settles/', /timed out/],
    ])('%s serves its page-data and is a 500 for its HTML, which is never cached', async (page, reason) => {
      const pageData = await server.get(R.pageDataUrlOf(page))
      expect([pageData.status, JSON.parse(pageData.text).path]).toEqual([200, page])
      await waitFor(async () => (await server.stats()).rendersInFlight === 0, { what: 'the HTML render ended' })
      const html = await server.get(page)
      expect([html.status, html.headers['x-dsg-cache']]).toEqual([500, 'MISS'])
      expect((await server.request('calls')).calls[page]).toBe(2)
      // Stored: the page-data alone (its write may still be under way once the render ended).
      const stored = () => storedFor(site.cacheDir, page).map((f) => path.basename(f))
      await waitFor(() => stored().join() === 'page-data.json', { what: 'the page-data alone is stored' })
      expect(linesMatching(server.stderr(), new RegExp(`html of ${page} not generated`))[0]).toMatch(reason)
    })

    test('a render is told which artifact its request waits for; asked for the HTML first, it may resolve with the HTML itself, served and stored as any', async () => {
      const page = '/good-html-first/'
      const html = await server.get(page)
      expect([html.status, html.headers['x-dsg-cache']]).toEqual([200, 'MISS'])
      expect(html.text).toContain(`<h1>${page}</h1>`)
      const pageData = await server.get(R.pageDataUrlOf(page))
      expect([pageData.status, pageData.headers['x-dsg-cache'], JSON.parse(pageData.text).path]).toEqual([
        200,
        'HIT',
        page,
      ])
      // Purged, then asked by a navigation first: page-data first this time.
      await waitFor(() => storedFor(site.cacheDir, page).length >= 2, { what: 'both artifacts stored' })
      const purged = await server.request('purge', { path: page })
      expect(purged.removed).toBeGreaterThan(0)
      const navigated = await server.get(R.pageDataUrlOf(page))
      expect([navigated.status, navigated.headers['x-dsg-cache']]).toEqual([200, 'MISS'])
      expect((await server.request('calls')).firsts[page]).toEqual(['html', 'page-data'])
    })

    test('the same server still serves static files and renders a good page', async () => {
      expect((await server.get('/')).status).toBe(200)
      const good = await server.get('/good/')
      expect([good.status, good.headers['x-dsg-cache']]).toEqual([200, 'MISS'])
      expect(good.text).toContain('<h1>/good/</h1>')
      expect(server.child.exitCode).toBeNull()
    })
  })
})

// -------------------------------------------------------------------------------------------------

describe("Gatsby's engines crash at start", () => {
  /** A built site's layout whose engines are `queryEngine` and `pageSsr` (module sources). */
  function siteWithEngines(queryEngine, pageSsr) {
    const root = tempDir()
    const write = (rel, text) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
      fs.writeFileSync(path.join(root, rel), text)
    }
    write('public/index.html', '<html><body>home</body></html>')
    write('public/page-data/app-data.json', JSON.stringify({ webpackCompilationHash: 'crash' }))
    write(
      '.cache/gatsby-dsg/deferred-pages.json',
      JSON.stringify({ version: 1, buildId: 'crash', pages: [{ path: '/p/', matchPath: null }] }),
    )
    write('.cache/query-engine/index.js', queryEngine)
    write('.cache/page-ssr/index.js', pageSsr)
    return root
  }

  const GOOD_QUERY_ENGINE = 'exports.GraphQLEngine = class { constructor() {} }'
  const GOOD_PAGE_SSR =
    'exports.getData = async () => ({}); exports.renderPageData = async () => ({}); exports.renderHTML = async () => "<html></html>"'

  test.each([
    [
      'the query engine throws when loaded',
      'throw new Error("query engine exploded while loading (test)")',
      GOOD_PAGE_SSR,
      /query engine exploded while loading \(test\)/,
    ],
    [
      'the SSR engine throws when loaded',
      GOOD_QUERY_ENGINE,
      'throw new Error("page-ssr exploded while loading (test)")',
      /page-ssr exploded while loading \(test\)/,
    ],
    [
      'the query engine constructor throws',
      'exports.GraphQLEngine = class { constructor() { throw new Error("no datastore (test)") } }',
      GOOD_PAGE_SSR,
      /no datastore \(test\)/,
    ],
    [
      'the query engine is not what Gatsby builds',
      'module.exports = 42',
      GOOD_PAGE_SSR,
      /GraphQLEngine|constructor|not a function/i,
    ],
    [
      'the engines have no page lookup (not those of Gatsby 4.25 or 5.x)',
      GOOD_QUERY_ENGINE,
      GOOD_PAGE_SSR,
      /no page lookup .*supports Gatsby 4\.25 and 5\.x/,
    ],
    [
      'the SSR engine does not export renderHTML',
      GOOD_QUERY_ENGINE,
      'exports.getData = async () => ({}); exports.renderPageData = async () => ({}); exports.findEnginePageByPath = () => undefined',
      /does not export renderHTML: gatsby-dsg supports Gatsby 4\.25 and 5\.x/,
    ],
  ])(
    '%s: `gatsby-dsg serve` exits 1 with a clear error and serves nothing',
    async (_, queryEngine, pageSsr, reason) => {
      const root = siteWithEngines(queryEngine, pageSsr)
      const { code, signal, stdout, stderr } = await runCliToEnd(
        ['serve', '--root', root, '-p', '0', '-H', '127.0.0.1', '--no-access-log'],
        { timeoutMs: 60_000 },
      )
      expect(signal).toBeNull()
      expect(code).toBe(1)
      expect(stdout).not.toContain('serving')
      const last = stderr
        .split('\n')
        .filter((l) => l.trim() !== '')
        .pop()
      expect(last).toMatch(/^gatsby-dsg: /)
      expect(last).toMatch(reason)
    },
  )
})
