'use strict'
// `npm version <v>` (its `version` step: after package.json's version is bumped, before npm
// commits): the seven npm/<platform> packages and the optional dependencies on them take the new
// version too, so the packages of one release always name each other's exact version.

const { execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const ROOT = path.resolve(__dirname, '..')
const file = path.join(ROOT, 'package.json')

execFileSync(process.execPath, [path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), 'version'], {
  cwd: ROOT,
  stdio: 'inherit',
})
const manifest = JSON.parse(fs.readFileSync(file, 'utf8'))
for (const name of Object.keys(manifest.optionalDependencies || {})) {
  if (name.startsWith(`${manifest.name}-`)) manifest.optionalDependencies[name] = manifest.version
}
fs.writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`)
// npm commits package.json and package-lock.json itself; the platform packages are added here.
execFileSync('git', ['add', 'package.json', 'npm'], { cwd: ROOT, stdio: 'inherit' })
console.log(`gatsby-dsg version: npm/* and optionalDependencies at ${manifest.version}`)
