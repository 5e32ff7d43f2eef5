'use strict'
// gatsby-dsg (lib/serve.js) in its own Node process, as in production. The bench talks to it with
// JSON lines on fd 3 (not Node's IPC channel, which Gatsby's reporter would use too), the pattern
// of __test__/support/server-process.js: `stats` reads the server's counters, `close` closes it.

const net = require('net')
const readline = require('readline')
// With `instrument` (the child started with `-r bench/lib/instrument.js`), every render callback
// is timed; `timings` hands the collected ones over.
const options = JSON.parse(process.argv[2])
const timings = () => (globalThis.__gatsbyDsgBenchTimings || []).splice(0)
const { serve } = require('../../lib/serve')

const control = new net.Socket({ fd: 3, readable: true, writable: true })
const send = (message) => control.write(`${JSON.stringify(message)}\n`)

async function main() {
  const server = await serve(options)
  readline.createInterface({ input: control }).on('line', async (line) => {
    const message = JSON.parse(line)
    if (message.cmd === 'stats') send({ id: message.id, stats: server.stats() })
    if (message.cmd === 'timings') send({ id: message.id, timings: timings() })
    // The render workers: the Rust pool's view of each, and how many the JS pool has ready.
    if (message.cmd === 'renderWorkers') {
      const pool = server.renderWorkerPool
      // Each worker thread's event loop: how much of its time it was busy (cumulative ms).
      const loops = pool ? [...pool.workers.keys()].map((w) => w.performance.eventLoopUtilization()) : []
      send({
        id: message.id,
        workers: server.renderWorkers(),
        ready: pool ? pool.ready() : 1,
        count: pool ? pool.count : 1,
        recycled: pool ? pool.recycled : 0,
        loops: loops.map(({ idle, active }) => ({ idle, active })),
      })
    }
    if (message.cmd === 'close') {
      await server.close()
      control.end(`${JSON.stringify({ id: message.id, closed: true })}\n`, () => process.exit(0))
    }
  })
  // The parent going away must not leave a server behind.
  control.on('end', () => process.exit(0))
  // lib/serve.js may render in worker threads (a pool of them) or in this thread.
  const pool = server.renderWorkerPool
  send({ ready: true, port: server.port, summary: server.summary(), renderThreads: pool ? pool.count : 1 })
}

main().catch((error) => {
  control.end(`${JSON.stringify({ error: error.stack || error.message })}\n`)
  process.exitCode = 1
})
