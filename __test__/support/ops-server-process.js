'use strict'
// A gatsby-dsg server in its own Node process (as support/server-process.js), with the rest of
// the server handle reachable over the JSON-lines control channel on fd 3: metrics, purge,
// deferredPages and warm, besides stats, setGlobal and close.

const net = require('net')
const readline = require('readline')
const { serve } = require('../../lib/serve')

const control = new net.Socket({ fd: 3, readable: true, writable: true })
const send = (message) => control.write(`${JSON.stringify(message)}\n`)

async function main() {
  const options = JSON.parse(process.argv[2])
  const server = await serve(options)
  const commands = {
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
  }
  readline.createInterface({ input: control }).on('line', async (line) => {
    const message = JSON.parse(line)
    if (message.cmd === 'close') {
      await server.close()
      control.end(`${JSON.stringify({ id: message.id, closed: true })}\n`)
      return
    }
    try {
      send({ id: message.id, ...(await commands[message.cmd](message)) })
    } catch (error) {
      send({ id: message.id, error: error.message })
    }
  })
  send({ ready: true, port: server.port, summary: server.summary() })
}

main().catch((error) => {
  control.end(`${JSON.stringify({ error: error.message })}\n`)
  process.exitCode = 1
})
