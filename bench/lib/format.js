'use strict'
// Numbers as the table shows them, and the table itself (Markdown, also printed as is).

function num(x, digits = 0) {
  if (!Number.isFinite(x)) return '—'
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function rps(x) {
  if (!Number.isFinite(x)) return '—'
  return x >= 100 ? num(x) : num(x, 1)
}

function ms(x) {
  if (!Number.isFinite(x)) return '—'
  if (x >= 1000) return `${num(x / 1000, 2)} s`
  if (x >= 100) return `${num(x)} ms`
  if (x >= 10) return `${num(x, 1)} ms`
  return `${num(x, 2)} ms`
}

function bytes(x) {
  if (!Number.isFinite(x)) return '—'
  if (x >= 2 ** 30) return `${num(x / 2 ** 30, 2)} GiB`
  if (x >= 2 ** 20) return `${num(x / 2 ** 20, 1)} MiB`
  if (x >= 10 * 1024) return `${num(x / 1024, 1)} KiB`
  return `${num(x)} B`
}

function ratio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—'
  const r = a / b
  if (r >= 100) return `${num(r)}×`
  if (r >= 10) return `${num(r, 1)}×`
  return `${num(r, 2)}×`
}

/** A Markdown table; cells are escaped for `|`. */
function table(header, rows) {
  const esc = (c) =>
    String(c ?? '')
      .replace(/\|/g, '\\|')
      .replace(/\n/g, '<br>')
  const lines = [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ]
  return lines.join('\n')
}

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const m = Math.floor(v.length / 2)
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

/** Of several results, the one whose `key` is the median (lower middle): keeps its own percentiles. */
function medianBy(results, key) {
  const ok = results.filter((r) => r && Number.isFinite(r[key]))
  if (ok.length === 0) return results.find(Boolean) || null
  const sorted = [...ok].sort((a, b) => a[key] - b[key])
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], rounds: ok.length }
}

module.exports = { num, rps, ms, bytes, ratio, table, median, medianBy }
