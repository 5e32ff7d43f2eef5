'use strict'
// For the render-worker tests: a server process whose render workers a test can see, terminate
// and make end themselves (support/render-workers-server-process.js, with render-worker-crash.js
// preloaded).

const path = require('path')
const { EXAMPLE } = require('./site')
const { requestText } = require('./http')
const { startControlled } = require('../../scripts/support/control')

/**
 * Starts a server on the example site in a child process. The handle has `get`, `stats`,
 * `renderWorkers`, `pool`, `startPool` (the pool at start), `terminate(rendererId)`,
 * `crash(rendererId, how)`, `stderr`, `exited` and `close` (resolves to `{ code, signal, reply }`,
 * `reply` being what the server said once closed).
 */
async function startWorkersServer(options = {}) {
  const server = await startControlled(
    path.join(__dirname, 'render-workers-server-process.js'),
    { root: EXAMPLE, host: '127.0.0.1', port: 0, ...options },
    { nodeArgs: ['-r', path.join(__dirname, 'render-worker-crash.js')] },
  )
  const { call } = server
  return Object.assign(server, {
    startPool: server.ready.pool,
    get: (urlPath, init) => requestText(server.base, urlPath, init),
    renderWorkers: async () => (await call('renderWorkers')).workers,
    pool: async () => (await call('pool')).pool,
    terminate: async (rendererId) => (await call('terminate', { rendererId })).exitCode,
    crash: async (rendererId, how) => (await call('crash', { rendererId, how })).exitCode,
    close: async () => {
      const reply = await call('close')
      return { ...(await server.exited), reply }
    },
  })
}

module.exports = { startWorkersServer }
