'use strict'
// `npm run bench` still works: its smoke mode (a tiny site, 1 s per measurement) completes, its
// table has every row, the stampede made exactly one render, and row 3's wrk run answered every
// page, a report written into a BENCHMARKS.md keeps what was written there by hand, and its ratios
// are drawn beside it (charts/ratios.svg). No speed
// is asserted here: the numbers are the bench's business (npm run bench), not the
// tests'.

const { spawn, spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

const ROOT = path.resolve(__dirname, '..')
const ROWS = ['1a', '1b', '2a', '2b', '3', '4', '5', '6', '7a', '7b', '9', '10a', '10b', '10c', '11']

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`]).status === 0
// The bench installs nginx and wrk with apt-get when they are missing; without root (or apt) it cannot.
const runnable = (has('nginx') && has('wrk')) || (process.getuid && process.getuid() === 0 && has('apt-get'))
const maybe = runnable ? test : test.skip
if (!runnable) console.warn('bench smoke test skipped: nginx/wrk missing and apt-get cannot install them here')

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'run.js'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stderr += c))
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

maybe(
  'npm run bench:smoke completes with every row and one render for the stampede, and leaves the rest of its file as it was',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatsby-dsg-bench-'))
    try {
      const out = path.join(dir, 'BENCHMARKS.md')
      const json = path.join(dir, 'results.json')
      // A file with an earlier report and an analysis written beside it.
      const handWritten = '## An analysis written by hand\n\nKept across runs.\n'
      fs.writeFileSync(out, `<!-- report:start -->\n# Benchmarks\n\nold table\n<!-- report:end -->\n\n${handWritten}`)
      const result = await run(['--smoke', '--out', out, '--json', json])
      if (result.code !== 0)
        throw new Error(`bench failed (${result.code ?? result.signal}):\n${result.stderr.slice(-4000)}`)

      const markdown = fs.readFileSync(out, 'utf8')
      for (const id of ROWS) {
        expect(markdown).toMatch(new RegExp(`^\\| ${id} \\|`, 'm'))
        expect(result.stdout).toMatch(new RegExp(`^\\| ${id} \\|`, 'm'))
      }
      expect(markdown).toMatch(/cores \(nproc\)/)
      expect(markdown).toContain(handWritten)
      expect(markdown).not.toContain('old table')
      expect(markdown.match(/<!-- report:start -->/g)).toHaveLength(1)
      // The ratios as a chart beside the report, a group of bars for every row that compares a peer.
      expect(markdown).toContain("![each row's ratios as a chart](charts/ratios.svg)")
      const chart = fs.readFileSync(path.join(dir, 'charts', 'ratios.svg'), 'utf8')
      for (const id of ROWS.filter((id) => id !== '6' && id !== '11'))
        expect(chart).toMatch(new RegExp(`<g data-row="${id}">\\s*<text[^>]*>[^<]*</text>\\s*<rect `))

      const { results } = JSON.parse(fs.readFileSync(json, 'utf8'))
      // Row 3's second client: every page it asked was a first request answered 200.
      for (const server of [results.first.dsg, results.first.gatsby]) {
        expect(server.wrk.count).toBe(results.first.pages)
        expect(server.wrk.statuses).toEqual({ 200: results.first.pages })
      }
      expect(results.stampede.dsg.renders).toBe(1)
      expect(results.stampede.dsg.statuses).toEqual({ 200: results.stampede.requests })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  },
  900_000,
)
