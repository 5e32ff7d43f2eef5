'use strict'
// `npm test`: build what is missing, then the Rust engine's tests, then the end-to-end tests on
// the example site built by real Gatsby.

const path = require('path')
const { prepare, run, ROOT } = require('./prepare')

try {
  prepare()
  run('cargo', ['test', '-p', 'gatsby-dsg-engine'], ROOT)
  run(process.execPath, [path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--runInBand', ...process.argv.slice(2)], ROOT)
} catch (error) {
  console.error(`[test] ${error.message}`)
  process.exit(1)
}
