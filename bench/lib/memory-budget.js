'use strict'
// The README's memory budget, RSS ≤ C + B + (W + 1) × E + W × G, for one run of `gatsby-dsg
// serve`: W, E and G as the server chose and reported them on its start-up line (lib/serve.js
// describe(): the worker choice names E, the recycling choice G and the memory cache's bound C),
// B the one constant (lib/render-workers.js SERVER_BASE_BYTES) and the sum the one formula
// (memoryBudget there). No admin endpoint reports these choices (they are the JS pool's, not the
// Rust engine's), so the start-up line is the source; its wording is pinned by the tests
// (render-worker-memory.test.js), and a line this cannot read gives an error naming what is missing,
// never a guessed number. Values on the line are rounded to MiB: the bound is within W + 1 MiB of
// the exact one.

const parseBytes = require('bytes')
const { memoryBudget, SERVER_BASE_BYTES } = require('../../lib/render-workers')
const { DEFAULTS } = require('../../lib/serve')

const MiB = 2 ** 20

/**
 * What the start-up line says of the render workers: `{ ready, workers, firstWorkerBytes,
 * recycleMemoryBytes, cacheBytes }` (each null when the line does not say it: no render workers,
 * a count or budget given instead of chosen, never recycled by memory, no memory cache).
 */
function choicesOf(startupLine) {
  const number = (re) => {
    const m = startupLine.match(re)
    return m ? Number(m[1]) : null
  }
  const pool = startupLine.match(/, (\d+) of (\d+) render workers ready/)
  // E: from the worker choice ("at 2 × E MiB (the first worker's cost)") or, with a count given,
  // the recycling choice ("at most 1 × E MiB").
  const firstMiB = number(/ at \d+ × (\d+) MiB \(the first worker's cost\)/) ?? number(/, at most \d+ × (\d+) MiB\)/)
  const growthMiB = number(/, recycled after (?:\d+ renders or )?(\d+) MiB of growth/)
  const cacheMiB = number(/ MiB available − (\d+) MiB cache − /)
  const bytes = (n) => (n === null ? null : n * MiB)
  return {
    ready: pool ? Number(pool[1]) : null,
    workers: pool ? Number(pool[2]) : null,
    firstWorkerBytes: bytes(firstMiB),
    recycleMemoryBytes: bytes(growthMiB),
    cacheBytes: bytes(cacheMiB),
  }
}

/** `--cache-size` as the command line reads it from `serveArgs` (lib/cli.js), else its default. */
function cacheSizeOf(serveArgs) {
  let value = null
  serveArgs.forEach((arg, i) => {
    if (arg === '--cache-size') value = serveArgs[i + 1]
    else if (arg.startsWith('--cache-size=')) value = arg.slice('--cache-size='.length)
  })
  return value === null ? DEFAULTS.memoryCacheBytes : parseBytes.parse(value)
}

/**
 * The budget for a run: `{ terms: { C, B, W, E, G }, cacheFrom, boundBytes, peakRssBytes, holds,
 * notEvaluated }`. `holds` is null (and `notEvaluated` says why) when a term is unknown or
 * unbounded: no render workers, E not on the line, or no growth bound (`--recycle-memory 0`).
 */
function evaluateBudget({ startupLine, serveArgs = [], peakRssBytes }) {
  const choices = choicesOf(startupLine)
  const fromLine = choices.cacheBytes !== null
  const terms = {
    C: fromLine ? choices.cacheBytes : cacheSizeOf(serveArgs),
    B: SERVER_BASE_BYTES,
    W: choices.workers,
    E: choices.firstWorkerBytes,
    G: choices.recycleMemoryBytes,
  }
  const result = {
    terms,
    cacheFrom: fromLine
      ? 'the start-up line'
      : serveArgs.some((a) => a.startsWith('--cache-size'))
        ? '--cache-size'
        : 'the default --cache-size',
    readyAtStart: choices.ready,
    peakRssBytes,
    boundBytes: null,
    holds: null,
    notEvaluated: null,
  }
  if (terms.W === null) result.notEvaluated = 'the start-up line names no render workers'
  else if (terms.E === null) result.notEvaluated = "the start-up line does not say the first worker's cost (E)"
  else if (terms.G === null) result.notEvaluated = 'no growth bound before recycling (G): the formula bounds nothing'
  if (result.notEvaluated) return result
  result.boundBytes = memoryBudget({
    cacheBytes: terms.C,
    count: terms.W,
    firstWorkerBytes: terms.E,
    recycleMemory: terms.G,
  })
  result.holds = peakRssBytes <= result.boundBytes
  return result
}

/** `C + B + (W+1)×E + W×G = 256 + 150 + 2×126 + 1×126 = 784 MiB; peak RSS 539 MiB: holds` */
function describeBudget(b) {
  const peak = `peak RSS ${Math.round(b.peakRssBytes / MiB)} MiB`
  if (b.holds === null) return `formula not evaluated (${b.notEvaluated}); ${peak}`
  const m = (bytes) => Math.round(bytes / MiB)
  const { C, B, W, E, G } = b.terms
  return (
    `formula: C + B + (W+1)×E + W×G = ${m(C)} + ${m(B)} + ${W + 1}×${m(E)} + ${W}×${m(G)} = ` +
    `${m(b.boundBytes)} MiB; ${peak}: ${b.holds ? 'holds' : `does not hold (over by ${m(b.peakRssBytes - b.boundBytes)} MiB)`}`
  )
}

module.exports = { choicesOf, cacheSizeOf, evaluateBudget, describeBudget }
