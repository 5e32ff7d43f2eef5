'use strict'
// A render worker thread: loads Gatsby's engines once and registers its render callback with the
// Rust server (by the server's id: this thread cannot reach the server object itself).

const { parentPort, workerData } = require('worker_threads')
const { registerRenderer } = require('..')
const { loadEngines, createRenderer } = require('./gatsby-engines')

const render = createRenderer(loadEngines(workerData.root))
const id = registerRenderer(workerData.serverId, render)
parentPort.postMessage({ ready: true, id })
