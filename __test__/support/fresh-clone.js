'use strict'
// A fresh clone of this repository as a maintainer would have it: the files git tracks (and new
// files not ignored yet, so uncommitted work is what gets tested), from the working tree — no
// node_modules, no target/, no built addon, no binaries under npm/.

const { execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { ROOT } = require('./site')

/** Copies the repository's files into `dest`; returns the relative paths copied. */
function freshClone(dest) {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
    .split('\0')
    .filter(Boolean)
  const copied = []
  for (const relative of listed) {
    const from = path.join(ROOT, relative)
    let stat
    try {
      stat = fs.lstatSync(from)
    } catch {
      continue // deleted in the working tree, not committed yet
    }
    if (!stat.isFile()) continue
    const to = path.join(dest, relative)
    fs.mkdirSync(path.dirname(to), { recursive: true })
    fs.copyFileSync(from, to)
    fs.chmodSync(to, stat.mode)
    copied.push(relative)
  }
  return copied
}

module.exports = { freshClone }
