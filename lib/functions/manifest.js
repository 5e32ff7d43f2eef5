'use strict'
// The Gatsby Functions a `gatsby build` compiled: `.cache/functions/manifest.json`, written by
// Gatsby's functions plugin (`internal-plugins/functions/gatsby-node.ts`). Each entry has
// `functionRoute` (`users/[id]`, relative to /api/), `matchPath` (`users/:id`, `files/*`,
// `docs/*slug`; absent for an exact route), and the compiled file both relative to
// `.cache/functions/` and absolute. Sites are built in one directory and served in another, so
// the compiled file is located from `relativeCompiledFilePath` (Gatsby 5); `absoluteCompiledFilePath`
// is used only when the relative path is missing (older manifests).

const fs = require('fs')
const path = require('path')

const FUNCTIONS_DIR = path.join('.cache', 'functions')
const FUNCTIONS_MANIFEST = path.join(FUNCTIONS_DIR, 'manifest.json')

class FunctionsManifestError extends Error {}

/**
 * The functions of the site at `root`, in the manifest's order (Gatsby's matching order), with
 * `compiledFile` made absolute for this directory. A site without functions gives `[]`.
 * @returns {{ functionRoute: string, matchPath: string|null, functionId: string, compiledFile: string, entry: object }[]}
 */
function readFunctions(root) {
  const file = path.join(root, FUNCTIONS_MANIFEST)
  if (!fs.existsSync(file)) return []
  let entries
  try {
    entries = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (error) {
    throw new FunctionsManifestError(`cannot read Gatsby's functions manifest ${file}: ${error.message}`)
  }
  if (!Array.isArray(entries)) throw new FunctionsManifestError(`Gatsby's functions manifest ${file} is not a list`)
  return entries.map((entry, index) => {
    if (!entry || typeof entry.functionRoute !== 'string') {
      throw new FunctionsManifestError(`entry ${index} of Gatsby's functions manifest ${file} has no functionRoute`)
    }
    const compiledFile = entry.relativeCompiledFilePath
      ? path.join(root, FUNCTIONS_DIR, entry.relativeCompiledFilePath)
      : entry.absoluteCompiledFilePath
    if (!compiledFile || !fs.existsSync(compiledFile)) {
      throw new FunctionsManifestError(
        `the compiled file of function /api/${entry.functionRoute} is missing (${compiledFile || 'no path in the manifest'}): run \`gatsby build\` again`,
      )
    }
    return {
      functionRoute: entry.functionRoute,
      matchPath: entry.matchPath || null,
      functionId: entry.functionId || entry.functionRoute,
      compiledFile,
      // What Gatsby's own middleware reads, pointing at this directory's compiled file.
      entry: { ...entry, absoluteCompiledFilePath: compiledFile },
    }
  })
}

module.exports = { readFunctions, FunctionsManifestError, FUNCTIONS_MANIFEST }
