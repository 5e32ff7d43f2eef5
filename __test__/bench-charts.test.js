'use strict'
// The bench's chart of its ratios (bench/lib/report.js advantages, bench/lib/svg.js ratioChart):
// every ratio is turned so that above 1× means gatsby-dsg did better, and drawn on that side of 1×.

const { advantages, ratiosChart, rows, PEERS } = require('../bench/lib/report')
const { ratioChart } = require('../bench/lib/svg')

const [NGINX, GATSBY, ENGINE] = PEERS
const wrk = (rps) => ({ best: { rps } })

/** The bars of an SVG from ratioChart: row, series, value, and where the bar starts and ends. */
function bars(svg) {
  const one = Number(svg.match(/<line x1="([\d.]+)" x2="\1" y1="[\d.]+" y2="[\d.]+" stroke="#000"\/>/)[1])
  const out = []
  for (const group of svg.split('<g data-row="').slice(1)) {
    const row = group.slice(0, group.indexOf('"'))
    for (const m of group.matchAll(
      /<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"[^>]*data-series="([^"]+)" data-value="([\d.e+-]+|Infinity)"/g,
    ))
      out.push({
        row,
        series: m[3],
        value: Number(m[4]),
        from: Number(m[1]),
        to: Number(m[1]) + Number(m[2]),
        one,
      })
  }
  return out
}

test('throughput is gatsby-dsg over the other and latency the other over gatsby-dsg, so above 1 is always gatsby-dsg better', () => {
  const groups = advantages({
    steady: { '1a': { servers: { dsg: wrk(300), nginx: wrk(200), gatsby: wrk(10) } } },
    first: { pages: 3, dsg: { p50: 2 }, gatsby: { p50: 4 }, engine: { p50: 1 } },
    stampede: { requests: 200, dsg: { p99: 10 }, gatsby: { p99: 50 } },
  })
  const byRow = Object.fromEntries(
    groups.map((g) => [g.id, Object.fromEntries(g.bars.map((b) => [b.series, b.value]))]),
  )
  expect(byRow['1a'][NGINX]).toBeCloseTo(1.5)
  expect(byRow['1a'][GATSBY]).toBeCloseTo(30)
  expect(byRow['3'][GATSBY]).toBeCloseTo(2)
  expect(byRow['3'][ENGINE]).toBeCloseTo(0.5)
  expect(byRow['4'][GATSBY]).toBeCloseTo(5)
})

test('a ratio above 1× is a bar to the right of the 1× line, one below it a bar to its left', () => {
  const svg = ratioChart({
    title: 't',
    series: ['a', 'b'],
    groups: [
      { id: '1', label: 'better', bars: [{ series: 'a', value: 20 }] },
      { id: '2', label: 'worse', bars: [{ series: 'b', value: 0.25 }] },
    ],
  })
  const [better, worse] = bars(svg)
  expect(better).toMatchObject({ row: '1', series: 'a', value: 20 })
  expect(better.from).toBeCloseTo(better.one)
  expect(better.to).toBeGreaterThan(better.one)
  expect(worse).toMatchObject({ row: '2', series: 'b', value: 0.25 })
  expect(worse.to).toBeCloseTo(worse.one)
  expect(worse.from).toBeLessThan(worse.one)
  // On a log axis 20× reaches further from 1× than 1/4 does.
  expect(better.to - better.one).toBeGreaterThan(worse.one - worse.from)
})

test('a peer a row did not measure gets no bar, and a row with none is left out', () => {
  const svg = ratiosChart({
    steady: {
      9: { servers: { dsg: wrk(5000), gatsby: wrk(1000) } },
      '1a': { servers: {} },
    },
  })
  expect(bars(svg).map((b) => [b.row, b.series, b.value])).toEqual([['9', GATSBY, 5]])
})

test('a peer that answered nothing while gatsby-dsg answered is an unbounded bar to the axis end, and its table cells say so', () => {
  const answered = { best: { rps: 900, p50: 40, p99: 190, requests: 9000 } }
  const nothing = { best: { rps: 0, p50: 0, p99: 0, requests: 0, errors: { timeout: 50 } } }
  const results = { steady: { 9: { url: '/api/hello', servers: { dsg: answered, gatsby: nothing } } } }
  const svg = ratiosChart(results)
  const [bar] = bars(svg)
  expect(bar).toMatchObject({ row: '9', series: GATSBY, value: Infinity })
  const axisEnd = Math.max(...[...svg.matchAll(/<line x1="([\d.]+)" x2="\1"/g)].map((m) => Number(m[1])))
  expect(bar.to).toBeCloseTo(axisEnd)
  expect(svg).toContain('∞ (no response from it)')

  const [row] = rows(results, { duration: 10 }, {})
  expect(row[4]).toBe('no response within the measurement (50 timeouts)')
  expect(row[7]).toBe('∞ (no response from it)')
  // gatsby-dsg answering nothing is no advantage at all: no bar.
  expect(
    advantages({ steady: { 9: { servers: { dsg: nothing, gatsby: answered } } } })[0].bars.every((b) => !(b.value > 0)),
  ).toBe(true)
})
