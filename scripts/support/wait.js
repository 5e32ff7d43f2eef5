'use strict'
// Bounded waits for work a server or a child process finishes in the background, for __test__/ and
// bench/ alike. Every wait gives up after a number of attempts (or milliseconds) and says what it
// waited for: a bound, never a timing assertion. Not part of the package's API.

/**
 * Polls `condition` (sync or async) until it is truthy; throws after `attempts` tries, naming
 * `what` (a string, or a function describing the state at that moment). Returns its value.
 */
async function waitFor(condition, { attempts = 400, intervalMs = 25, what = 'condition' } = {}) {
  for (let i = 0; i < attempts; i++) {
    const value = await condition()
    if (value) return value
    await sleep(intervalMs)
  }
  throw new Error(`${typeof what === 'function' ? what() : what} not met after ${attempts} attempts`)
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Until `server` (any handle with `stats()`) has no render, compression or disk write under way. */
function idle(server) {
  return waitFor(async () => (await server.stats()).rendersInFlight === 0, { what: 'rendersInFlight === 0' })
}

/** Resolves to `promise`'s value, or rejects when it takes longer than `ms` (a bound, not a measure). */
function within(ms, what, promise) {
  let timer
  const bound = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer))
}

module.exports = { waitFor, sleep, idle, within }
