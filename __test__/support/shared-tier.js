'use strict'
// gatsby-dsg instances of the example site in child processes, for the tests of several instances
// sharing one Redis (the redis-servers themselves: scripts/support/redis.js; support/processes.js
// `killAll` ends what is left of both).

const path = require('path')
const { startServer, tempDir } = require('./site')
const { waitFor } = require('../../scripts/support/wait')

/**
 * Starts one instance on the example site; as site.js `startServer`, plus `kill(signal)`. Runs
 * shared-instance-process.js, whose render hook `setGlobal('__gatsbyDsgTestHoldRenders', true)`
 * turns on (with `renderWorkers: 0`).
 */
function startInstance(options = {}) {
  return startServer(options, { script: path.join(__dirname, 'shared-instance-process.js') })
}

/** `count` instances started at once, each with `options` and a cache directory of its own. */
function startInstances(count, options) {
  return Promise.all(Array.from({ length: count }, () => startInstance({ cacheDir: tempDir(), ...options })))
}

/** The renders of all `instances` together, from their stats. */
async function totalRenders(instances) {
  const stats = await Promise.all(instances.map((i) => i.stats()))
  return stats.reduce((sum, s) => sum + s.renders, 0)
}

/** Until none of `instances` has a render, compression or store under way (200 tries, 5 s). */
async function settled(instances) {
  await waitFor(
    async () => (await Promise.all(instances.map((i) => i.stats()))).every((s) => s.rendersInFlight === 0),
    {
      attempts: 200,
      what: 'no render, compression or store in flight',
    },
  )
}

module.exports = { startInstance, startInstances, totalRenders, settled }
