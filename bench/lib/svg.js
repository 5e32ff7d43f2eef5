'use strict'
// Charts for BENCHMARKS.md as standalone SVG text (no library, no network): a line chart of
// values against the site's page count, one line per series (measured points are filled dots,
// extrapolated ones hollow on a dashed line), and a bar chart of ratios around 1×.

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']

function escape(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** A "nice" upper bound and step for an axis from 0 to `max`. */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 }
  const rough = max / 4
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough)
  return { top: Math.ceil(max / step) * step, step }
}

function label(x) {
  if (x >= 1e6) return `${+(x / 1e6).toFixed(1)}M`
  if (x >= 1e3) return `${+(x / 1e3).toFixed(1)}k`
  return `${+x.toFixed(2)}`
}

/**
 * `series`: [{ name, points: [{ x, y, extrapolated? }] }]. The x axis is logarithmic (page counts
 * from thousands to a million); the y axis linear from 0.
 */
function lineChart({ title, yLabel, series, width = 640, height = 320 }) {
  const margin = { left: 64, right: 170, top: 36, bottom: 44 }
  const plotW = width - margin.left - margin.right
  const plotH = height - margin.top - margin.bottom
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y) && p.x > 0)
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b)
  const [xMin, xMax] = [xs[0] || 1, xs[xs.length - 1] || 10]
  const logSpan = Math.log10(xMax) - Math.log10(xMin) || 1
  const sx = (x) => margin.left + ((Math.log10(x) - Math.log10(xMin)) / logSpan) * plotW
  const { top, step } = niceScale(Math.max(...all.map((p) => p.y), 0))
  const sy = (y) => margin.top + plotH - (y / top) * plotH
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${margin.left}" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ]
  for (let y = 0; y <= top + 1e-9; y += step) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/>`)
    out.push(`<text x="${margin.left - 6}" y="${sy(y) + 4}" text-anchor="end">${label(y)}</text>`)
  }
  for (const x of xs) {
    out.push(`<line x1="${sx(x)}" x2="${sx(x)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/>`)
    out.push(`<text x="${sx(x)}" y="${margin.top + plotH + 16}" text-anchor="middle">${label(x)}</text>`)
  }
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle">pages (log scale)</text>`)
  out.push(
    `<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`,
  )
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const points = s.points.filter((p) => Number.isFinite(p.y) && p.x > 0).sort((a, b) => a.x - b.x)
    for (let k = 1; k < points.length; k++) {
      const [a, b] = [points[k - 1], points[k]]
      const dash = a.extrapolated || b.extrapolated ? ' stroke-dasharray="5 4"' : ''
      out.push(
        `<line x1="${sx(a.x)}" y1="${sy(a.y)}" x2="${sx(b.x)}" y2="${sy(b.y)}" stroke="${color}" stroke-width="2"${dash}/>`,
      )
    }
    for (const p of points) {
      const fill = p.extrapolated ? '#fff' : color
      out.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="4" fill="${fill}" stroke="${color}" stroke-width="2"/>`)
    }
    const ly = margin.top + 10 + i * 18
    out.push(
      `<line x1="${width - margin.right + 12}" x2="${width - margin.right + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
    )
    out.push(`<text x="${width - margin.right + 38}" y="${ly + 4}">${escape(s.name)}</text>`)
  })
  if (all.some((p) => p.extrapolated)) {
    const ly = margin.top + 10 + series.length * 18
    out.push(`<text x="${width - margin.right + 12}" y="${ly + 4}" fill="#666">hollow: extrapolated</text>`)
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

/** Powers of ten (and their halves' neighbours 2 and 5) between `lo` and `hi`, for a log axis. */
function logTicks(lo, hi) {
  const ticks = []
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t)
    }
  return ticks
}

/**
 * Ratios as bars that start at 1× on a log axis: a bar to the right is a ratio above 1, to the
 * left below it. `groups`: [{ id, label, bars: [{ series, value }] }], `series`: the names in
 * legend order (each has its colour). Infinity (the other answered nothing) is a bar to the
 * axis's right end labelled ∞; other values that are not positive numbers are left out.
 */
function ratioChart({ title, note, series, groups, width = 840 }) {
  const margin = { left: 230, right: 210, top: 52, bottom: 40 }
  const barH = 9
  const shown = groups.map((g) => ({ ...g, bars: g.bars.filter((b) => b.value > 0) })).filter((g) => g.bars.length)
  const values = shown.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite)
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.5, ...values)))
  const hi = 10 ** Math.ceil(Math.log10(Math.max(2, ...values)))
  const plotW = width - margin.left - margin.right
  const sx = (v) => margin.left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW
  const groupH = (g) => g.bars.length * (barH + 2) + 10
  const plotH = shown.reduce((h, g) => h + groupH(g), 0)
  const height = margin.top + plotH + margin.bottom
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ]
  if (note) out.push(`<text x="12" y="38" fill="#444">${escape(note)}</text>`)
  for (const t of logTicks(lo, hi)) {
    const x = sx(t)
    out.push(`<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#e4e4e4"/>`)
    out.push(`<text x="${x}" y="${margin.top + plotH + 16}" text-anchor="middle">${label(t)}×</text>`)
  }
  let y = margin.top
  for (const g of shown) {
    const h = groupH(g)
    out.push(`<g data-row="${escape(g.id)}">`)
    out.push(
      `<text x="${margin.left - 8}" y="${y + h / 2 + 2}" text-anchor="end">${escape(`${g.id}  ${g.label}`)}</text>`,
    )
    g.bars.forEach((b, k) => {
      const color = COLORS[series.indexOf(b.series) % COLORS.length]
      const end = Number.isFinite(b.value) ? sx(b.value) : margin.left + plotW
      const [x0, x1] = [sx(1), end].sort((a, c) => a - c)
      const by = y + 5 + k * (barH + 2)
      out.push(
        `<rect x="${x0}" y="${by}" width="${Math.max(1, x1 - x0)}" height="${barH}" fill="${color}" data-series="${escape(b.series)}" data-value="${b.value}"/>`,
      )
      const right = b.value >= 1
      out.push(
        `<text x="${right ? x1 + 4 : x0 - 4}" y="${by + barH - 1}" font-size="10" text-anchor="${right ? 'start' : 'end'}">${Number.isFinite(b.value) ? `${label(b.value)}×` : '∞ (no response from it)'}</text>`,
      )
    })
    out.push('</g>')
    y += h
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#f2f2f2"/>`)
  }
  out.push(`<line x1="${sx(1)}" x2="${sx(1)}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#000"/>`)
  series.forEach((name, i) => {
    const ly = margin.top + 10 + i * 18
    out.push(
      `<rect x="${width - margin.right + 14}" y="${ly - 6}" width="18" height="${barH}" fill="${COLORS[i % COLORS.length]}"/>`,
    )
    out.push(`<text x="${width - margin.right + 38}" y="${ly + 2}">${escape(name)}</text>`)
  })
  out.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 6}" text-anchor="middle">log scale; 1× = as good as the other</text>`,
  )
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

module.exports = { lineChart, ratioChart }
