'use strict'
// A gatsby-dsg server in its own Node process (as support/server-process.js), with its render
// workers reachable over the control channel (scripts/support/control.js): `renderWorkers` (the
// Rust pool's view: id, renders, inFlight, oldestRenderMs, with each worker's memory), `pool` (the
// RenderWorkers: count, ready, replaced, recycled, recycledBy, collected, recycles, recycleMemory,
// reloadMs, threads), `armEnd` and `ended` (one worker ends at its Nth render from then on, by
// itself or terminated by the pool: support/render-worker-crash.js), besides `stats` and `close`.
// After `close` the process is left to exit on its own, proving nothing of ours keeps it alive.

const { serve } = require('../../lib/serve')
const { serveControl } = require('../../scripts/support/control')
const { armWorkerEnd } = require('./render-worker-crash')

/** What the JS side of the pool knows (no pool when rendering in the main thread). */
function poolState(server) {
  const pool = server.renderWorkerPool
  if (!pool) return { pool: null }
  return {
    pool: {
      count: pool.count,
      ready: pool.ready(),
      replaced: pool.replaced,
      recycled: pool.recycled,
      recycledBy: pool.recycledBy,
      collected: pool.collected,
      recycles: pool.recycles,
      recycleMemory: pool.recycleMemory,
      reloadMs: pool.reloadMs,
      threads: pool.workers.size,
    },
  }
}

serveControl(async (options) => {
  const server = await serve(options)
  const ends = new Map()
  return {
    ready: { port: server.port, summary: server.summary(), ...poolState(server) },
    commands: {
      stats: () => ({ stats: server.stats() }),
      renderWorkers: () => ({ workers: server.renderWorkers() }),
      pool: () => poolState(server),
      // Arms the worker of renderer `rendererId` to end, `how`, at the start of its `atRender`th
      // render from now (see render-worker-crash.js); resolves once armed. `ended` resolves to
      // its exit code once its thread has stopped.
      armEnd: async (m) => {
        const worker = [...server.renderWorkerPool.workers].find(([, id]) => id === m.rendererId)
        if (!worker) throw new Error(`no render worker with renderer id ${m.rendererId}`)
        ends.set(m.rendererId, new Promise((resolve) => worker[0].once('exit', resolve)))
        await armWorkerEnd(worker[0].threadId, m.how, m.atRender, () => server.renderWorkerPool.terminate(m.rendererId))
        return {}
      },
      ended: async (m) => ({ exitCode: await ends.get(m.rendererId) }),
    },
    close: async () => {
      await server.close()
      // What is left once closed: renderers the Rust server still holds, and worker threads.
      return { renderers: server.renderWorkers(), ...poolState(server) }
    },
  }
})
