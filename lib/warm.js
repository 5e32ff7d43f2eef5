'use strict'
// Warm-up: generate deferred pages ahead of traffic, with a progress bar (plain lines when the
// output is not a terminal). The Rust engine lets live requests' renders go first.

const cliProgress = require('cli-progress')

/** The deferred pages matching any of `globs` (all when none), without duplicates. */
function pagesToWarm(server, globs) {
  if (!globs || globs.length === 0) return server.deferredPages()
  const paths = new Set()
  for (const glob of globs) for (const p of server.deferredPages(glob)) paths.add(p)
  return [...paths].sort()
}

function progressReporter(total, stream) {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'warm [{bar}] {value}/{total} pages | {rate} pages/s | ETA {eta_formatted}',
        stream,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    )
    bar.start(total, 0, { rate: '0.0' })
    return {
      update: (done, rate) => bar.update(done, { rate: rate.toFixed(1) }),
      stop: () => bar.stop(),
    }
  }
  let lastLine = 0
  let lastDone = -1
  return {
    update(done, rate, force = false) {
      const now = Date.now()
      if (!force && done < total && now - lastLine < 1000) return
      // The last page's update and the final forced one would print the same line.
      if (done === lastDone) return
      lastLine = now
      lastDone = done
      const eta = rate > 0 ? Math.ceil((total - done) / rate) : '?'
      stream.write(`warm: ${done}/${total} pages, ${rate.toFixed(1)} pages/s, ETA ${eta}s\n`)
    },
    stop() {},
  }
}

/**
 * Warms the deferred pages matching `globs` on a running server, `concurrency` at a time.
 * Resolves to `{ total, rendered, stored, failed }`.
 */
async function warm(server, { globs = [], concurrency = 2, stream = process.stderr, quiet = false } = {}) {
  const paths = pagesToWarm(server, globs)
  const result = { total: paths.length, rendered: 0, stored: 0, failed: [] }
  const progress = quiet ? { update() {}, stop() {} } : progressReporter(paths.length, stream)
  const started = Date.now()
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < paths.length) {
      const pagePath = paths[next++]
      try {
        const outcome = await server.warm(pagePath)
        if (outcome === 'rendered') result.rendered++
        else result.stored++
      } catch (error) {
        result.failed.push({ path: pagePath, error: error.message })
      }
      done++
      progress.update(done, done / Math.max((Date.now() - started) / 1000, 0.001))
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker))
  progress.update(done, done / Math.max((Date.now() - started) / 1000, 0.001), true)
  progress.stop()
  return result
}

module.exports = { warm, pagesToWarm }
