'use strict'
// The bench writes its parts of BENCHMARKS.md between markers and keeps the rest of the file
// (bench/lib/sections.js): the analyses written by hand beside the numbers survive a new run.

const fs = require('fs')
const os = require('os')
const path = require('path')
const { writeSection } = require('../bench/lib/sections')

const MARKERS = ['<!-- part:start -->', '<!-- part:end -->']
const part = (text) => `${MARKERS[0]}\n${text}\n${MARKERS[1]}\n`

let dir
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatsby-dsg-sections-'))))
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

test('a part already in the file is replaced and everything around it is kept', () => {
  const file = path.join(dir, 'B.md')
  fs.writeFileSync(file, `# Notes\n\nbefore\n\n${part('old numbers')}\nafter, by hand\n`)
  writeSection(file, MARKERS, part('new numbers'))
  expect(fs.readFileSync(file, 'utf8')).toBe(`# Notes\n\nbefore\n\n${part('new numbers')}\nafter, by hand\n`)
})

test('a part the file does not have yet goes first or last, as asked', () => {
  const file = path.join(dir, 'B.md')
  fs.writeFileSync(file, 'by hand\n')
  writeSection(file, MARKERS, part('report'), { at: 'start' })
  expect(fs.readFileSync(file, 'utf8')).toBe(`${part('report')}\nby hand\n`)
  writeSection(file, ['<!-- s:start -->', '<!-- s:end -->'], '<!-- s:start -->\nscale\n<!-- s:end -->')
  expect(fs.readFileSync(file, 'utf8')).toBe(`${part('report')}\nby hand\n\n<!-- s:start -->\nscale\n<!-- s:end -->\n`)
})

test('a missing file is created with the part alone', () => {
  const file = path.join(dir, 'new.md')
  writeSection(file, MARKERS, part('report'), { at: 'start' })
  expect(fs.readFileSync(file, 'utf8')).toBe(part('report'))
})
