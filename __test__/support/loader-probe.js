'use strict'
// Runs the package's entry (index.js → napi's binding.js) as if on another platform, without any
// real addon: process.platform, process.arch and process.report are replaced, /usr/bin/ldd is
// unreadable (so the libc comes from the report, as on a system without ldd), and every addon
// candidate the loader asks for (`./gatsby-dsg.<platform>.node`, `gatsby-dsg-<platform>`, the
// WASI ones) is recorded and answered from `present` or as "Cannot find module".
// Prints one JSON line: { requested, exports } or { requested, error: { code, platform, message } }.

const fs = require('fs')
const Module = require('module')
const path = require('path')

const { platform, arch, libc, present = [], entry } = JSON.parse(process.argv[2])

Object.defineProperty(process, 'platform', { value: platform })
Object.defineProperty(process, 'arch', { value: arch })
const report =
  libc === 'gnu'
    ? { header: { glibcVersionRuntime: '2.31' }, sharedObjects: ['/lib/x86_64-linux-gnu/libc.so.6'] }
    : { header: {}, sharedObjects: libc === 'musl' ? ['/lib/ld-musl-x86_64.so.1'] : [] }
process.report.getReport = () => report

const readFileSync = fs.readFileSync
fs.readFileSync = function (file, ...rest) {
  if (file === '/usr/bin/ldd') {
    const error = new Error(`ENOENT: no such file or directory, open '${file}'`)
    error.code = 'ENOENT'
    throw error
  }
  return readFileSync.call(this, file, ...rest)
}

const candidate = (request) =>
  /^\.\/gatsby-dsg\.[^/]+\.(node|cjs|wasm)$/.test(request) || /^gatsby-dsg-[a-z0-9-]+(\/package\.json)?$/.test(request)
const requested = []
const notFound = (request) => {
  const error = new Error(`Cannot find module '${request}'`)
  error.code = 'MODULE_NOT_FOUND'
  return error
}
const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (candidate(request)) {
    if (present.includes(request.replace(/\/package\.json$/, ''))) return `/probe/${request}`
    throw notFound(request)
  }
  return resolveFilename.call(this, request, ...rest)
}
const load = Module._load
Module._load = function (request, ...rest) {
  if (!candidate(request)) return load.call(this, request, ...rest)
  if (!request.endsWith('/package.json')) requested.push(request)
  if (!present.includes(request.replace(/\/package\.json$/, ''))) throw notFound(request)
  if (request.endsWith('/package.json'))
    return { version: require(path.join(path.dirname(entry), 'package.json')).version }
  return { loadedFrom: request }
}

try {
  const exports = require(entry)
  console.log(JSON.stringify({ requested, exports: { loadedFrom: exports.loadedFrom } }))
} catch (error) {
  console.log(
    JSON.stringify({ requested, error: { code: error.code, platform: error.platform, message: error.message } }),
  )
}
