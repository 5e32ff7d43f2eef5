'use strict'
// server-process.js (same fd-3 control protocol), with one test-only hook in the render callback:
// while `globalThis.__gatsbyDsgTestHoldRenders` is true (set with the `setGlobal` command), a
// render starts and never finishes. Only with `renderWorkers: 0`, where Gatsby's engines run in
// this thread. It lets a test SIGKILL an instance that is really in the middle of a render (and
// holds the page's Redis lock) without depending on how long a real render takes.

const engines = require('../../lib/gatsby-engines')

const createRenderer = engines.createRenderer
engines.createRenderer = (loaded) => {
  const render = createRenderer(loaded)
  return async function heldRender(pagePath) {
    if (globalThis.__gatsbyDsgTestHoldRenders) await new Promise(() => {})
    return render(pagePath)
  }
}

// lib/serve.js reads createRenderer from the module when it is first required: after the hook.
require('./server-process')
