'use strict'
// For the render-worker tests: a server process whose render workers a test can see and have end
// mid-render, by themselves or by the pool (support/render-workers-server-process.js, with
// render-worker-crash.js preloaded).

const path = require('path')
const { EXAMPLE } = require('./site')
const { requestText } = require('./http')
const { startControlled } = require('../../scripts/support/control')

/**
 * Starts a server on the example site in a child process. The handle has `get`, `stats`,
 * `renderWorkers`, `pool`, `startPool` (the pool at start), `armEnd(rendererId, how, atRender)`,
 * `ended(rendererId)` (its worker's exit code), `stderr`, `exited` and `close` (resolves to
 * `{ code, signal, reply }`, `reply` being what the server said once closed).
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
    armEnd: async (rendererId, how, atRender) => call('armEnd', { rendererId, how, atRender }),
    ended: async (rendererId) => (await call('ended', { rendererId })).exitCode,
    close: async () => {
      const reply = await call('close')
      return { ...(await server.exited), reply }
    },
  })
}

module.exports = { startWorkersServer }
