'use strict'
// A gatsby-dsg server in its own Node process, as in production (Gatsby's engines are loaded once
// per process), driven over the control channel (scripts/support/control.js): `stats` reads the
// server handle's counters, `close` closes the handle and lets Node exit on its own, proving
// nothing of ours keeps it alive.

const { serve } = require('../../lib/serve')
const { serveControl } = require('../../scripts/support/control')

serveControl(async (options) => {
  const server = await serve(options)
  return {
    ready: { port: server.port, summary: server.summary() },
    commands: {
      stats: () => ({ stats: server.stats() }),
      // Lets a test flip a global the example's flaky template reads while rendering.
      setGlobal: (m) => {
        globalThis[m.name] = m.value
        return { set: true }
      },
    },
    close: () => server.close(),
  }
})
