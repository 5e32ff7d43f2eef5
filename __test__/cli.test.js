'use strict'
// The `gatsby-dsg` command line (bin/gatsby-dsg.js), run as a child process: its help, its
// start-up line on the example site built by real Gatsby, its one-line errors, and its exit.

const fs = require('fs')
const http = require('http')
const path = require('path')
const { get, tempDir, EXAMPLE } = require('./support/site')
const { runCli, runCliToEnd, serveArgs, baseOf, lines, BIN } = require('./support/cli')
const { killAll, start } = require('./support/processes')

const PUBLIC = path.join(EXAMPLE, 'public')
const APP_DATA = path.join(PUBLIC, 'page-data', 'app-data.json')
const MANIFEST = path.join(EXAMPLE, '.cache', 'gatsby-dsg', 'deferred-pages.json')

const tempDirs = []
function makeTempDir() {
  const dir = tempDir('gatsby-dsg-cli-test-')
  tempDirs.push(dir)
  return dir
}

/** Writes `contents` (or copies `from`) to `dir/relative`, creating the directories. */
function put(dir, relative, { from, contents } = {}) {
  const file = path.join(dir, relative)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  if (from) fs.copyFileSync(from, file)
  else fs.writeFileSync(file, contents || '')
  return file
}

/** Pages Gatsby built: every `index.html`, plus top-level `*.html` (404.html, 500.html); not slices. */
function countHtmlFiles(dir, top = true) {
  let n = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) n += countHtmlFiles(full, false)
    else if (entry.isFile() && (entry.name === 'index.html' || (top && entry.name.endsWith('.html')))) n += 1
  }
  return n
}

/**
 * SIGTERMs `cli` and expects it to exit 0 with `startupLine` as the first line of its stdout;
 * returns the lines after it (the access log).
 */
async function accessLogAfterSigterm(cli, startupLine) {
  cli.signal('SIGTERM')
  const { code, signal, stdout } = await cli.exited
  expect({ code, signal }).toEqual({ code: 0, signal: null })
  const [startup, ...accessLog] = lines(stdout)
  expect(startup).toBe(startupLine)
  return accessLog
}

afterEach(async () => {
  await killAll()
})

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

describe('help', () => {
  /** commander's option list, one entry per option with its wrapped lines joined. */
  function optionEntries(help) {
    const entries = []
    for (const line of help.split('\n')) {
      if (/^\s{2}-/.test(line)) entries.push(line.trim())
      else if (entries.length && /^\s{4,}\S/.test(line)) entries[entries.length - 1] += ` ${line.trim()}`
      else if (line.trim() === '' || /^\S/.test(line)) entries.push(null)
    }
    return entries.filter(Boolean)
  }

  test('`serve --help` lists every flag with its default', async () => {
    const { code, stdout } = await runCliToEnd(['serve', '--help'])
    expect(code).toBe(0)
    const entries = optionEntries(stdout)
    const entryOf = (flag) => {
      const found = entries.filter((e) => e.split(/[ ,]+/).includes(flag))
      expect({ flag, found: found.length }).toEqual({ flag, found: 1 })
      return found[0]
    }
    expect(entryOf('--port')).toMatch(/^-p, --port <port> .*\(default: 9000\)$/)
    expect(entryOf('--host')).toMatch(/^-H, --host <host> .*\(default: "localhost"\)$/)
    expect(entryOf('--root')).toMatch(/^--root <dir> .*\(default: the working directory\)$/)
    expect(entryOf('--cache-dir')).toContain(
      `(default: ${JSON.stringify(path.join('.cache', 'gatsby-dsg', 'artifacts'))})`,
    )
    expect(entryOf('--cache-size')).toMatch(/\(default: 256MB\)$/)
    expect(entryOf('--render-timeout')).toMatch(/\(default: 30\)$/)
    expect(entryOf('--function-timeout')).toMatch(/\(default: 30\)$/)
    expect(entryOf('--function-max-body')).toMatch(/\(default: 32MB\)$/)
  })

  test('`--help` lists the serve command', async () => {
    const { code, stdout } = await runCliToEnd(['--help'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^Commands:$/m)
    expect(stdout).toMatch(/^\s+serve \[options\]\s+serve the site/m)
  })
})

describe('serve on the example site', () => {
  test('prints one start-up line with the URL and page counts, serves a deferred page, and exits 0 on SIGTERM', async () => {
    const cacheDir = makeTempDir()
    const staticPages = countHtmlFiles(PUBLIC)
    const deferredPages = JSON.parse(fs.readFileSync(MANIFEST, 'utf8')).pages.length
    expect(staticPages).toBe(68) // 66 `<p>/index.html` (incl. /404/, /500/, /account/[...]/), 404.html, 500.html
    expect(deferredPages).toBe(117) // incl. the 24 /gallery/ pages

    const cli = runCli(['serve', '--root', EXAMPLE, '-p', '0', '-H', '127.0.0.1', '--cache-dir', cacheDir])
    const line = await cli.firstLine()
    const match = line.match(/http:\/\/127\.0\.0\.1:(\d+)\//)
    expect(match).not.toBeNull()
    const port = Number(match[1])
    expect(port).toBeGreaterThan(0)
    expect(line).toContain(
      `${staticPages} static pages, ${deferredPages} deferred pages (0 already generated), 6 SSR pages`,
    )
    expect(line).toMatch(/, 12 functions under \/api\/$/)

    const res = await get(`http://127.0.0.1:${port}/blog/post-00002/`)
    expect(res.status).toBe(200)
    expect(res.body).toContain('<h1>Blog post 2</h1>')

    // The start-up line, then the access log: one line for the one request.
    expect(await accessLogAfterSigterm(cli, line)).toEqual([
      expect.stringMatching(/ "GET \/blog\/post-00002\/" 200 MISS \d+ [\d.]+ms$/),
    ])
  })
})

describe('serve stopped by a signal to its whole process group (Ctrl-C in a terminal, systemd)', () => {
  test('a function still answering finishes, the functions process is not restarted, and the exit is 0', async () => {
    const cli = start(process.execPath, [BIN, ...serveArgs(EXAMPLE, makeTempDir())])
    const base = baseOf(await cli.firstLine())
    // A streamed answer of 20 chunks, 50 ms apart: the signal arrives after its first chunk.
    const body = new Promise((resolve, reject) => {
      http
        .get(`${base}/api/stream?chunks=20`, (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk) => {
            if (text === '') cli.stop('SIGTERM')
            text += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode, text }))
          res.on('error', reject)
        })
        .on('error', reject)
    })
    const { status, text } = await body
    expect(status).toBe(200)
    expect(text).toBe(`${Array.from({ length: 20 }, (_, n) => `chunk ${n}\n`).join('')}done\n`)
    const { code, signal, stderr } = await cli.exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    expect(stderr).not.toMatch(/functions process exited/)
  })
})

describe('serve refuses a site it cannot serve, in one line', () => {
  /** Exit code 1 and exactly one stderr line, starting `gatsby-dsg:`; resolves to that line. */
  async function expectOneLineFailure(result) {
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 1, stdout: '' })
    const errorLines = lines(result.stderr)
    expect(errorLines).toHaveLength(1)
    expect(errorLines[0]).toMatch(/^gatsby-dsg: /)
    return errorLines[0]
  }

  test('a directory with no build: says to run `gatsby build`', async () => {
    const dir = makeTempDir()
    // No --root: the working directory is the site.
    const line = await expectOneLineFailure(await runCliToEnd(['serve', '-p', '0', '-H', '127.0.0.1'], { cwd: dir }))
    expect(line).toContain('run `gatsby build`')
    expect(line).toContain(fs.realpathSync(dir))
  })

  test('deferred pages but no rendering engines: names the missing engines', async () => {
    const dir = makeTempDir()
    put(dir, 'public/page-data/app-data.json', { from: APP_DATA })
    put(dir, '.cache/gatsby-dsg/deferred-pages.json', { from: MANIFEST })
    const line = await expectOneLineFailure(await runCliToEnd(['serve', '--root', dir, '-p', '0', '-H', '127.0.0.1']))
    expect(line).toContain('engines are missing')
    expect(line).toContain(path.join('.cache', 'query-engine', 'index.js'))
    expect(line).toContain(path.join('.cache', 'page-ssr', 'index.js'))
  })

  test('rendering engines but no manifest: says to add the plugin', async () => {
    const dir = makeTempDir()
    put(dir, 'public/page-data/app-data.json', { from: APP_DATA })
    put(dir, '.cache/query-engine/index.js')
    put(dir, '.cache/page-ssr/index.js')
    const line = await expectOneLineFailure(await runCliToEnd(['serve', '--root', dir, '-p', '0', '-H', '127.0.0.1']))
    expect(line).toContain("without gatsby-dsg's plugin")
    expect(line).toContain('add "gatsby-dsg/gatsby-plugin" to the plugins in gatsby-config')
  })
})

describe('serve on a static site (no manifest, no engines)', () => {
  test('starts, says there are no deferred pages, serves / and exits 0 on SIGTERM', async () => {
    const dir = makeTempDir()
    const index = put(dir, 'public/index.html', { from: path.join(PUBLIC, 'index.html') })
    put(dir, 'public/404.html', { from: path.join(PUBLIC, '404.html') })
    put(dir, 'public/page-data/app-data.json', { from: APP_DATA })

    const cli = runCli(['serve', '--root', dir, '-p', '0', '-H', '127.0.0.1'])
    const line = await cli.firstLine()
    expect(line).toMatch(/^gatsby-dsg: serving http:\/\/127\.0\.0\.1:\d+\/ /)
    expect(line).toContain('2 static pages, no deferred pages (static site)')
    const port = Number(line.match(/:(\d+)\//)[1])

    const res = await get(`http://127.0.0.1:${port}/`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(res.body).toBe(fs.readFileSync(index, 'utf8'))

    expect(await accessLogAfterSigterm(cli, line)).toEqual([expect.stringMatching(/ "GET \/" 200 - \d+ [\d.]+ms$/)])
  })
})

describe('bad flag values', () => {
  test.each([
    [['-p', 'abc'], "'-p, --port <port>'", 'abc'],
    [['-p', '70000'], "'-p, --port <port>'", '70000'],
    [['--cache-size', 'lots'], "'--cache-size <size>'", 'lots'],
    [['--render-timeout', '0'], "'--render-timeout <seconds>'", '0'],
  ])('serve %j is refused with an error naming the option', async (args, option, value) => {
    // A servable static site, so the flag is the only thing wrong.
    const dir = makeTempDir()
    put(dir, 'public/index.html', { contents: '<h1>static</h1>' })
    put(dir, 'public/page-data/app-data.json', { from: APP_DATA })
    const cli = runCli(['serve', '--root', dir, '-H', '127.0.0.1', ...args])
    // Either it exits, or it starts serving (a failure: the bad value was accepted).
    const outcome = await Promise.race([
      cli.exited,
      cli.firstLine().then(
        (line) => ({ startedWith: line }),
        () => cli.exited,
      ),
    ])
    expect(outcome.startedWith).toBeUndefined()
    expect(outcome.code).not.toBe(0)
    expect(outcome.code).not.toBeNull()
    expect(outcome.stdout).toBe('')
    expect(outcome.stderr).toContain(`option ${option} argument '${value}' is invalid`)
  })
})
