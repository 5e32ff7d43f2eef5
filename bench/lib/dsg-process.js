'use strict'
// gatsby-dsg (lib/serve.js) in its own Node process, as in production. The bench talks to it over
// the control channel the tests use (scripts/support/control.js): `stats` reads the server's counters,
// `timings`, `renderWorkers`, `close` closes it.

const { serveControl } = require('../../scripts/support/control')
// With `instrument` (the child started with `-r bench/lib/instrument.js`), every render callback
// is timed; `timings` hands the collected ones over.
const options = JSON.parse(process.argv[2])
const timings = () => (globalThis.__gatsbyDsgBenchTimings || []).splice(0)
const { serve } = require('../../lib/serve')

serveControl(
  async () => {
    const server = await serve(options)
    // lib/serve.js may render in worker threads (a pool of them) or in this thread.
    const pool = server.renderWorkerPool
    return {
      ready: {
        port: server.port,
        summary: server.summary(),
        renderThreads: pool ? pool.count : 1,
        // How the count was chosen (lib/render-workers.js), when it was left to the server.
        choice: pool && pool.choice ? { ...pool.choice, firstWorkerBytes: pool.firstWorkerBytes } : null,
      },
      commands: {
        stats: () => ({ stats: server.stats() }),
        timings: () => ({ timings: timings() }),
        // The render workers: the Rust pool's view of each, and how many the JS pool has ready.
        renderWorkers: () => {
          // Each worker thread's event loop: how much of its time it was busy (cumulative ms).
          const loops = pool
            ? [...pool.workers.keys()].map((w) => ({ thread: w.threadId, ...w.performance.eventLoopUtilization() }))
            : []
          return {
            workers: server.renderWorkers(),
            ready: pool ? pool.ready() : 1,
            count: pool ? pool.count : 1,
            recycled: pool ? pool.recycled : 0,
            loops: loops.map(({ thread, idle, active }) => ({ thread, idle, active })),
          }
        },
      },
      close: () => server.close(),
    }
  },
  // The parent going away must not leave a server behind.
  { exitOnClose: true },
)
