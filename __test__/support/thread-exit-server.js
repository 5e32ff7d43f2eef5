'use strict'
// The addon's own server whose only renderer, at first, is a worker thread made here: its render
// returns a promise that never settles and ends its thread 100 ms later — without leaving the
// server first, as lib/render-worker.js would (so nothing but the call itself tells Rust). The test
// then registers a renderer on this main thread (`registerMain`): a render that ran on the dead
// thread must fail, not be sent on to it. Commands: `workerExited`, `registerMain`, `calls` (the
// main renderer's calls per page).

const path = require('path')
const { Worker } = require('worker_threads')
const { startServer, registerRenderer } = require('../..')
const { serveControl } = require('../../scripts/support/control')

const WORKER = `
const { parentPort, workerData } = require('worker_threads')
const { registerRenderer } = require(workerData.addon)
registerRenderer(workerData.serverId, () => {
  setTimeout(() => process.exit(0), 100)
  return new Promise(() => {})
})
parentPort.postMessage('registered')
`

const calls = {}

serveControl(async (options) => {
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    buildId: 'thread-exit',
    deferredPages: [{ path: '/ends-its-thread/' }, { path: '/after/' }],
    ...options,
  })
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { addon: path.join(__dirname, '..', '..'), serverId: server.serverId },
  })
  const exited = new Promise((resolve) => worker.once('exit', resolve))
  await new Promise((resolve) => worker.once('message', resolve))
  return {
    ready: { port: server.port },
    commands: {
      workerExited: async () => ({ code: await exited }),
      registerMain: () => {
        registerRenderer(server.serverId, async (pagePath) => {
          calls[pagePath] = (calls[pagePath] || 0) + 1
          return { pageData: JSON.stringify({ path: pagePath }), html: Promise.resolve(`<html>${pagePath}</html>`) }
        })
        return {}
      },
      calls: () => ({ calls }),
    },
    close: () => server.close(),
  }
})
