'use strict'
// The parts of BENCHMARKS.md the bench writes, each between its two markers: a run replaces its
// own part and keeps the rest of the file as it is (the analyses written by hand beside the
// numbers, the other generated part).

const fs = require('fs')
const path = require('path')

/**
 * Replaces the text between `markers` (`[start, end]`, themselves included) in `file` with
 * `text`, which carries the markers itself; where the file has no such part yet, `text` goes
 * first (`at: 'start'`) or last (`at: 'end'`). A missing file is created.
 */
function writeSection(file, [start, end], text, { at = 'end' } = {}) {
  let current = ''
  try {
    current = fs.readFileSync(file, 'utf8')
  } catch {}
  const [from, to] = [current.indexOf(start), current.indexOf(end)]
  const body = text.trim()
  let next
  if (from >= 0 && to > from) next = current.slice(0, from) + body + current.slice(to + end.length)
  else if (!current.trim()) next = body
  else next = at === 'start' ? `${body}\n\n${current.trimStart()}` : `${current.trimEnd()}\n\n${body}`
  fs.writeFileSync(file, `${next.trimEnd()}\n`)
}

/** Writes each of `charts` ({ file name: SVG text }) into `dir`, made if missing. */
function writeCharts(dir, charts) {
  fs.mkdirSync(dir, { recursive: true })
  for (const [name, svg] of Object.entries(charts)) fs.writeFileSync(path.join(dir, name), svg)
}

/** How the Markdown `file` links the chart `name` in `dir`: relative to the file, with `/`. */
function chartLink(file, dir, name) {
  return path.posix.join(path.relative(path.dirname(file), dir).split(path.sep).join('/'), name)
}

module.exports = { writeSection, writeCharts, chartLink }
