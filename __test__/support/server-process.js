'use strict'
// A gatsby-dsg server in its own Node process, as in production (Gatsby's engines are loaded once
// per process), its handle reachable over the control channel (scripts/support/control.js):
// stats, summary, metrics, purge, deferredPages, warm, setGlobal; `close` closes the handle and
// lets Node exit on its own, proving nothing of ours keeps it alive.

const { serve } = require('../../lib/serve')
const { serveControl } = require('../../scripts/support/control')

serveControl(async (options) => {
  const server = await serve(options)
  return {
    ready: { port: server.port, summary: server.summary() },
    commands: {
      stats: () => ({ stats: server.stats() }),
      summary: () => ({ summary: server.summary() }),
      metrics: () => ({ metrics: server.metrics() }),
      purge: async (m) => ({ purged: await server.purge(m.target) }),
      deferredPages: (m) => ({ pages: server.deferredPages(m.glob) }),
      warm: async (m) => ({ outcome: await server.warm(m.path) }),
      // Lets a test flip a global the example's flaky template reads while rendering.
      setGlobal: (m) => {
        globalThis[m.name] = m.value
        return { set: true }
      },
    },
    close: () => server.close(),
  }
})
