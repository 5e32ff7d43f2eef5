'use strict'
// `npm run lint`: prettier --check and ESLint on the JavaScript, `cargo fmt --check` and clippy
// (warnings are errors) on the Rust. `npm test` runs it first. `npm run format` fixes what the
// formatters can.

const path = require('path')
const { run, ROOT } = require('./prepare')

const bin = (pkg, file) => path.join(ROOT, 'node_modules', pkg, file)

/** The steps, in the order they run; each fails the lint with its own output. */
const STEPS = [
  [process.execPath, [bin('prettier', 'bin/prettier.cjs'), '--check', '--log-level', 'warn', '.']],
  [process.execPath, [bin('eslint', 'bin/eslint.js'), '--max-warnings', '0', '.']],
  ['cargo', ['fmt', '--all', '--check']],
  ['cargo', ['clippy', '--workspace', '--all-targets', '--target', 'x86_64-unknown-linux-gnu', '--', '-D', 'warnings']],
]

function lint() {
  for (const [command, args] of STEPS) run(command, args, ROOT)
}

function format() {
  run(process.execPath, [bin('prettier', 'bin/prettier.cjs'), '--write', '--log-level', 'warn', '.'], ROOT)
  run('cargo', ['fmt', '--all'], ROOT)
}

if (require.main === module) {
  try {
    if (process.argv.includes('--fix')) format()
    else lint()
  } catch (error) {
    console.error(`[lint] ${error.message}`)
    process.exit(1)
  }
}

module.exports = { lint, format }
