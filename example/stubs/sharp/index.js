'use strict'
// Stand-in for `sharp`. Gatsby pulls sharp in through gatsby-plugin-utils even for sites
// without images; the real package downloads libvips at install time, and its native addon
// cannot be relocated into Gatsby's query engine bundle. This site processes no images, so
// any actual use fails loudly.
const platform = `${process.platform}-${process.arch}`

function sharp() {
  throw new Error('sharp is stubbed out in the gatsby-dsg example site (no image processing available)')
}

sharp.simd = () => false
sharp.concurrency = () => 1
sharp.cache = () => ({ memory: {}, files: {}, items: {} })
sharp.counters = () => ({ queue: 0, process: 0 })
sharp.versions = { vips: '0.0.0-stub', sharp: '0.32.6' }
// Makes Gatsby's engine bundler believe the right platform binary is present, so it does not
// try to `npm install sharp` for the engines.
sharp.vendor = { current: platform, installed: [platform] }
sharp.format = {}

module.exports = sharp
module.exports.default = sharp
