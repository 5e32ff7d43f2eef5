'use strict'
// gatsby-dsg instances of the example site in child processes, for the tests of several instances
// sharing one Redis (the redis-servers themselves: scripts/support/redis.js; support/processes.js
// `killAll` ends what is left of both).

const path = require('path')
const { startServer } = require('./site')

/**
 * Starts one instance on the example site; as site.js `startServer`, plus `kill(signal)`. Runs
 * shared-instance-process.js, whose render hook `setGlobal('__gatsbyDsgTestHoldRenders', true)`
 * turns on (with `renderWorkers: 0`).
 */
function startInstance(options = {}) {
  return startServer(options, { script: path.join(__dirname, 'shared-instance-process.js') })
}

module.exports = { startInstance }
