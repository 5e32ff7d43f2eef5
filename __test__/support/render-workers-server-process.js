'use strict'
// A gatsby-dsg server in its own Node process (as support/server-process.js), with its render
// workers reachable over the JSON-lines control channel on fd 3: `renderWorkers` (the Rust pool's
// view: id, renders, inFlight, oldestRenderMs), `pool` (the RenderWorkers: count, ready, replaced,
// threads), `terminate` (one worker, by renderer id, through the pool) and `crash` (one worker
// exits by itself: support/render-worker-crash.js), besides `stats` and `close`. After `close`
// the process is left to exit on its own, proving nothing of ours keeps it alive.

const net = require('net')
const readline = require('readline')
const { serve } = require('../../lib/serve')
const { crashWorker } = require('./render-worker-crash')

const control = new net.Socket({ fd: 3, readable: true, writable: true })
const send = (message) => control.write(`${JSON.stringify(message)}\n`)

/** What the JS side of the pool knows (no pool when rendering in the main thread). */
function poolState(server) {
  const pool = server.renderWorkerPool
  if (!pool) return { pool: null }
  return { pool: { count: pool.count, ready: pool.ready(), replaced: pool.replaced, recycled: pool.recycled, threads: pool.workers.size } }
}

async function main() {
  const options = JSON.parse(process.argv[2])
  const server = await serve(options)
  const commands = {
    stats: () => ({ stats: server.stats() }),
    renderWorkers: () => ({ workers: server.renderWorkers() }),
    pool: () => poolState(server),
    // Resolves once the worker's thread has stopped.
    terminate: async (m) => ({ exitCode: await server.renderWorkerPool.terminate(m.rendererId) }),
    // The worker of renderer `rendererId` exits by itself (see render-worker-crash.js); resolves
    // once its thread has stopped.
    crash: async (m) => {
      const worker = [...server.renderWorkerPool.workers].find(([, id]) => id === m.rendererId)
      if (!worker) throw new Error(`no render worker with renderer id ${m.rendererId}`)
      const exited = new Promise((resolve) => worker[0].once('exit', resolve))
      crashWorker(worker[0].threadId, m.how)
      return { exitCode: await exited }
    },
  }
  readline.createInterface({ input: control }).on('line', async (line) => {
    const message = JSON.parse(line)
    if (message.cmd === 'close') {
      await server.close()
      // What is left once closed: renderers the Rust server still holds, and worker threads.
      const after = { renderers: server.renderWorkers(), ...poolState(server) }
      control.end(`${JSON.stringify({ id: message.id, closed: true, ...after })}\n`)
      return
    }
    try {
      send({ id: message.id, ...(await commands[message.cmd](message)) })
    } catch (error) {
      send({ id: message.id, error: error.message })
    }
  })
  send({ ready: true, port: server.port, summary: server.summary(), ...poolState(server) })
}

main().catch((error) => {
  control.end(`${JSON.stringify({ error: error.message })}\n`)
  process.exitCode = 1
})
