'use strict'
// A gatsby-dsg server in its own Node process, as in production (Gatsby's engines are loaded once
// per process). The test talks to it with JSON lines on fd 3 (not Node's IPC channel, which
// Gatsby's reporter would use too): `stats` reads the server handle's counters, `close` closes
// the handle and lets Node exit on its own, proving nothing of ours keeps it alive.

const net = require('net')
const readline = require('readline')
const { serve } = require('../../lib/serve')

const control = new net.Socket({ fd: 3, readable: true, writable: true })
const send = (message) => control.write(`${JSON.stringify(message)}\n`)

async function main() {
  const options = JSON.parse(process.argv[2])
  const server = await serve(options)
  readline.createInterface({ input: control }).on('line', async (line) => {
    const message = JSON.parse(line)
    if (message.cmd === 'stats') send({ id: message.id, stats: server.stats() })
    // Lets a test flip a global the example's flaky template reads while rendering.
    if (message.cmd === 'setGlobal') {
      globalThis[message.name] = message.value
      send({ id: message.id, set: true })
    }
    if (message.cmd === 'close') {
      await server.close()
      control.end(`${JSON.stringify({ id: message.id, closed: true })}\n`)
    }
  })
  send({ ready: true, port: server.port, summary: server.summary() })
}

main().catch((error) => {
  control.end(`${JSON.stringify({ error: error.message })}\n`)
  process.exitCode = 1
})
