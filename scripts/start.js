'use strict'
// `npm start`: build what is missing, then serve the example site with DSG on port 9000.

const path = require('path')
const { prepare, EXAMPLE } = require('./prepare')

try {
  prepare()
} catch (error) {
  console.error(`[start] ${error.message}`)
  process.exit(1)
}
const port = process.env.PORT || '9000'
process.argv = [
  process.argv[0],
  path.join(__dirname, '..', 'bin', 'gatsby-dsg.js'),
  'serve',
  '--root',
  EXAMPLE,
  '-p',
  port,
  ...process.argv.slice(2),
]
require('../lib/cli').main()
