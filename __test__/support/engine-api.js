'use strict'
// Loads a built site's Gatsby engines through lib/gatsby-engines (as a render worker does) in
// this process and prints, as one JSON line, what gatsby-versions detected and found:
// `node engine-api.js <site root> <page path>...`.

const path = require('path')
const { loadEngines } = require('../../lib/gatsby-engines')
const { builtWithGatsby } = require('../../lib/gatsby-versions')

const [root, ...paths] = process.argv.slice(2)
process.chdir(root)
const engines = loadEngines(path.resolve(root))
const pages = Object.fromEntries(
  paths.map((p) => {
    const page = engines.findPage(p)
    return [p, page ? { path: page.path, mode: page.mode } : null]
  }),
)
process.stdout.write(
  `${JSON.stringify({ gatsbyVersion: builtWithGatsby(root), pageLookup: engines.pageLookup, pages })}\n`,
)
process.exit(0)
