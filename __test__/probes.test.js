'use strict'
// The probes on real servers: `gatsby-dsg serve` of the example site built by real Gatsby, with its
// render workers, and a real redis-server stopped and started again. Load balancers and
// Kubernetes send no token: /__dsg/livez and /__dsg/readyz need none, the other admin endpoints
// still do.

const fs = require('fs')
const path = require('path')
const { startOpsServer } = require('./support/ops')
const { requestText: request } = require('./support/http')
const { startRedis } = require('../scripts/support/redis')
const { waitFor } = require('../scripts/support/wait')
const { killAll } = require('./support/processes')
const { trackedTempDir, removeTempDirs } = require('./support/site')
const { startServer, registerRenderer } = require('..')

jest.setTimeout(180_000)

const makeTempDir = () => trackedTempDir('gatsby-dsg-probes-')

afterAll(async () => {
  await killAll()
  removeTempDirs()
})

const json = (res) => JSON.parse(res.body)

test('without --admin-token, the example site answers livez and readyz (its render worker ready) and the rest of /__dsg/ stays 404', async () => {
  const server = await startOpsServer({ cacheDir: makeTempDir(), renderWorkers: 1 })
  try {
    const live = await server.get('/__dsg/livez')
    expect([live.status, json(live), live.headers['cache-control']]).toEqual([200, { status: 'live' }, 'no-store'])
    const ready = await server.get('/__dsg/readyz')
    expect([ready.status, json(ready)]).toEqual([200, { status: 'ready', renderWorkersReady: 1 }])
    expect((await server.get('/__dsg/health')).status).toBe(404)
    expect((await server.get('/__dsg/metrics')).status).toBe(404)
    // Probes are counted as their own route kind, not as page or admin requests.
    const metrics = await server.metrics()
    expect(metrics).toMatch(/^gatsby_dsg_requests_total\{route="probe",status="200",cache="none"\} 2$/m)
  } finally {
    await server.close()
  }
})

test('with an admin token, the probes still need none, while health, metrics and purge answer 401 without it', async () => {
  const token = 'probe-test-token'
  const server = await startOpsServer({ cacheDir: makeTempDir(), renderWorkers: 1, adminToken: token })
  try {
    expect((await server.get('/__dsg/livez')).status).toBe(200)
    expect((await server.get('/__dsg/readyz')).status).toBe(200)
    expect((await server.get('/__dsg/health')).status).toBe(401)
    expect((await server.get('/__dsg/metrics')).status).toBe(401)
    expect((await server.get('/__dsg/purge?all=1', { method: 'POST' })).status).toBe(401)
    const health = await server.get('/__dsg/health', { headers: { authorization: `Bearer ${token}` } })
    expect(health.status).toBe(200)
    // The build id is in the authenticated health answer only.
    expect(json(health).buildId).toBeTruthy()
    expect((await server.get('/__dsg/readyz')).body).not.toContain(json(health).buildId)
  } finally {
    await server.close()
  }
})

test('readyz is 503 while no render callback is registered for a site with deferred pages, and 200 once one is', async () => {
  const publicDir = makeTempDir()
  fs.writeFileSync(path.join(publicDir, 'index.html'), '<html><body>home</body></html>')
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    publicDir,
    buildId: 'probes',
    deferredPages: [{ path: '/later/' }],
  })
  const base = `http://127.0.0.1:${server.port}`
  try {
    const waiting = await request(base, '/__dsg/readyz')
    expect([waiting.status, json(waiting)]).toEqual([
      503,
      { status: 'not ready', renderWorkersReady: 0, waitingFor: ['no render worker is ready'] },
    ])
    expect((await request(base, '/__dsg/livez')).status).toBe(200)
    registerRenderer(server.serverId, async (pagePath) => ({
      pageData: JSON.stringify({ path: pagePath }),
      html: Promise.resolve('<html></html>'),
    }))
    const ready = await request(base, '/__dsg/readyz')
    expect([ready.status, json(ready).renderWorkersReady]).toEqual([200, 1])
  } finally {
    await server.close()
  }
})

test('with --redis, readyz is 503 while the real redis-server is down — the server still serves pages — and 200 once it is back', async () => {
  let redis = await startRedis()
  const server = await startOpsServer({ cacheDir: makeTempDir(), renderWorkers: 1, redis: redis.url })
  try {
    await waitFor(async () => (await server.get('/__dsg/readyz')).status === 200, {
      attempts: 200,
      what: 'ready with Redis up',
    })
    expect(json(await server.get('/__dsg/readyz')).redis).toBe('reachable')

    await redis.stop()
    const down = await server.get('/__dsg/readyz')
    expect(down.status).toBe(503)
    expect(json(down)).toMatchObject({
      status: 'not ready',
      redis: 'unreachable',
      waitingFor: ['Redis does not answer'],
    })
    expect((await server.get('/__dsg/livez')).status).toBe(200)
    const page = await server.get('/')
    expect(page.status).toBe(200)

    redis = await startRedis(redis.port)
    await waitFor(async () => (await server.get('/__dsg/readyz')).status === 200, {
      attempts: 200,
      what: 'ready again once Redis is back',
    })
    expect(json(await server.get('/__dsg/readyz')).redis).toBe('reachable')
  } finally {
    await server.close()
    await redis.stop()
  }
})
