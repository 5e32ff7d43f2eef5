'use strict'
// Problems a bench run saw (a non-200 answer, a server's stray output): listed in the report, so
// that a figure measured on failing requests is never read as a result.

/** Records `text` once in `ctx.issues` and logs it. */
function issue(ctx, text) {
  if (!ctx.issues.includes(text)) ctx.issues.push(text)
  ctx.log(`PROBLEM: ${text}`)
}

/** `{ 200: 9, 503: 1 }` as `9× 200, 1× 503`. */
function statusText(statuses = {}) {
  return Object.entries(statuses)
    .map(([s, n]) => `${n}× ${s}`)
    .join(', ')
}

/** Records an issue unless every response of `result` (`statuses`, `errors`) was a 200. */
function expectAll200(ctx, what, result) {
  const bad = Object.entries(result.statuses || {}).filter(([s]) => s !== '200')
  const errors = result.errors || []
  if (bad.length === 0 && errors.length === 0) return
  issue(
    ctx,
    `${what}: responses ${statusText(result.statuses)}${errors.length ? `; errors: ${errors.slice(0, 3).join('; ')}` : ''}`,
  )
}

/** The report's line on a run's problems: `none.`, or one list item each. */
function problemsText(issues) {
  const items = issues.map((i) => `- ${i.replace(/\n/g, ' ')}`).join('\n')
  return `Problems seen during the run: ${issues.length === 0 ? 'none.' : `\n\n${items}`}`
}

module.exports = { issue, expectAll200, statusText, problemsText }
