'use strict'
// Gatsby's engine alone, with no server, in `threads` worker threads of one process, each loading
// it as lib/gatsby-engines.js does and rendering its share of the pages (`concurrency` at a time,
// page-data and HTML): how far the engine itself scales over threads. Row 8's reference.
//
//   node engine-threads.js <site dir> <threads> <concurrency> <input.json: { paths }>   → prints JSON

const fs = require('fs')
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads')

if (isMainThread) {
  const [siteDir, threadsArg, concurrencyArg, inputFile] = process.argv.slice(2)
  const [threads, concurrency] = [Number(threadsArg), Number(concurrencyArg)]
  const { paths } = JSON.parse(fs.readFileSync(inputFile, 'utf8'))
  process.chdir(siteDir)
  const share = Math.floor(paths.length / threads)
  const workers = Array.from(
    { length: threads },
    (_, i) =>
      new Worker(__filename, { workerData: { siteDir, concurrency, paths: paths.slice(i * share, (i + 1) * share) } }),
  )
  let ready = 0
  let done = 0
  let started
  const cpuAtStart = { usage: null }
  for (const worker of workers) {
    worker.on('error', (error) => {
      console.error(error.stack || error.message)
      process.exit(1)
    })
    worker.on('message', (message) => {
      if (message === 'ready' && ++ready === threads) {
        // Every thread has loaded the engine and rendered one page: the clock starts now.
        started = process.hrtime.bigint()
        cpuAtStart.usage = process.cpuUsage()
        for (const w of workers) w.postMessage('go')
      }
      if (message === 'done' && ++done === threads) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        const cpu = process.cpuUsage(cpuAtStart.usage)
        const renders = share * threads
        console.log(
          JSON.stringify({
            threads,
            renders,
            seconds,
            rendersPerSecond: renders / seconds,
            cores: (cpu.user + cpu.system) / 1e6 / seconds,
          }),
        )
        process.exit(0)
      }
    })
  }
} else {
  const { loadEngines, createRenderer } = require('../../lib/gatsby-engines')
  const render = createRenderer(loadEngines(workerData.siteDir))
  const renderFully = async (pagePath) => {
    const { html } = await render(pagePath)
    await html
  }
  const { paths, concurrency } = workerData
  renderFully(paths[0]).then(() => {
    parentPort.postMessage('ready')
    parentPort.once('message', async () => {
      let next = 1
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < paths.length) await renderFully(paths[next++])
        }),
      )
      parentPort.postMessage('done')
    })
  })
}
