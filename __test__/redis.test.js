'use strict'
// The shared tier, end to end: three gatsby-dsg instances of the example site (built by real
// Gatsby), each with its own disk cache, sharing one real redis-server started here on a free
// loopback port. Each deferred page is rendered once in the whole cluster; purges reach every
// instance; a dead renderer's lock expires; Redis paused or gone leaves every instance serving.

const path = require('path')
const { startInstance, startInstances, totalRenders, settled } = require('./support/shared-tier')
const { startRedis } = require('../scripts/support/redis')
const { freePort } = require('../scripts/support/ports')
const { waitFor, within } = require('../scripts/support/wait')
const { killAll } = require('./support/processes')

const NAMESPACE = 'dsg-e2e'
const ADMIN_TOKEN = 'redis-e2e-admin-token'
/** How long one request may take while Redis is gone (every Redis call is bounded by 500 ms). */
const REQUEST_BOUND_MS = 5000

let redis
let cluster
let buildId

const post = (n) => `/blog/post-${String(n).padStart(5, '0')}/`
const heading = (n) => `<h1>Blog post ${n}</h1>`
const key = (...rest) => [NAMESPACE, buildId, ...rest].join(':')
/** A page's part of its keys: a hash tag, so that all of a page's keys share one cluster slot. */
const tag = (pagePath) => `{${pagePath}}`

/**
 * Each instance holds a connection subscribed to the purge channel and, once it has used Redis, one
 * for commands (after a Redis restart, an instance reconnects the latter on its next call).
 */
async function connected(count, { commands = true } = {}) {
  await waitFor(
    () => {
      const subscribers = Number((redis.cli('PUBSUB', 'NUMSUB', key('purge')) || '').split('\n')[1])
      const commandConnections = (redis.cli('CLIENT', 'LIST') || '')
        .split('\n')
        .filter((line) => / flags=N /.test(line) && !/ cmd=client\|list /.test(line)).length
      return subscribers >= count && (!commands || commandConnections >= count)
    },
    {
      what: () =>
        `${count} instances connected to Redis and subscribed to purges; ` +
        `NUMSUB ${JSON.stringify(redis.cli('PUBSUB', 'NUMSUB', key('purge')))}, clients ${JSON.stringify(redis.cli('CLIENT', 'LIST'))}`,
      attempts: 400,
    },
  )
}

function artifactKeys(pagePath) {
  return (redis.cli('KEYS', key('artifact', '*', tag(pagePath))) || '').split('\n').filter(Boolean).sort()
}

function linesMatching(text, regex) {
  return text.split('\n').filter((line) => regex.test(line))
}

const UNAVAILABLE =
  /^gatsby-dsg: Redis at redis:\/\/127\.0\.0\.1:\d+\/ unavailable \(.*\); serving and rendering locally until it is back$/
const BACK = /^gatsby-dsg: Redis at redis:\/\/127\.0\.0\.1:\d+\/ is reachable again; sharing resumed$/

/**
 * From now on (or, with `fromStart`, since the instance started), the lines about Redis an
 * instance logs (stderr has its own pipe: wait, bounded).
 */
function redisLog(instance, { fromStart = false } = {}) {
  const start = fromStart ? 0 : instance.stderr().length
  const lines = () => linesMatching(instance.stderr().slice(start), /Redis/)
  return {
    lines,
    waitFor: (regex, what) =>
      waitFor(() => lines().some((line) => regex.test(line)), {
        attempts: 200,
        what: () => `${what}, in ${JSON.stringify(instance.stderr().slice(start))}`,
      }),
  }
}

beforeAll(async () => {
  redis = await startRedis()
  cluster = await startInstances(3, {
    redis: redis.url,
    redisNamespace: NAMESPACE,
    adminToken: ADMIN_TOKEN,
    renderWorkers: 1,
  })
  // The build id names each instance's cache directory and namespaces the Redis keys.
  buildId = path.basename(cluster[0].summary.cacheDir)
  expect(cluster.map((i) => path.basename(i.summary.cacheDir))).toEqual([buildId, buildId, buildId])
  await connected(3)
})

afterAll(async () => {
  await killAll()
})

describe('three instances sharing one Redis', () => {
  test('100 concurrent first requests spread over all three render the page once in total, with identical bodies', async () => {
    const page = post(2)
    const before = await totalRenders(cluster)
    const responses = await Promise.all(Array.from({ length: 100 }, (_, n) => cluster[n % 3].get(page)))
    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200))
    expect(new Set(responses.map((r) => r.body)).size).toBe(1)
    expect(responses[0].body).toContain(heading(2))
    await settled(cluster)
    expect((await totalRenders(cluster)) - before).toBe(1)
    expect(artifactKeys(page)).toEqual([key('artifact', 'html', tag(page)), key('artifact', 'page-data', tag(page))])
  })

  test('a page rendered by one instance is a HIT on the others, HTML and page-data', async () => {
    const page = post(4)
    const before = await totalRenders(cluster)
    const first = await cluster[0].get(page)
    expect(first.status).toBe(200)
    expect(first.headers['x-dsg-cache']).toBe('MISS')
    // Stored in Redis after compression, off the response path.
    await settled([cluster[0]])
    for (const other of cluster.slice(1)) {
      const html = await other.get(page)
      expect([html.status, html.headers['x-dsg-cache']]).toEqual([200, 'HIT'])
      expect(html.body).toBe(first.body)
      const data = await other.get(`/page-data${page}page-data.json`)
      expect([data.status, data.headers['x-dsg-cache']]).toEqual([200, 'HIT'])
      expect(JSON.parse(data.body).path).toBe(page)
      // Every encoding came through Redis: a compressed request is served compressed.
      const br = await other.get(page, { headers: { 'accept-encoding': 'br' } })
      expect([br.headers['x-dsg-cache'], br.headers['content-encoding']]).toEqual(['HIT', 'br'])
    }
    expect((await totalRenders(cluster)) - before).toBe(1)
  })

  test('a purge on one instance (POST /__dsg/purge) removes the page from Redis and from every instance', async () => {
    const page = post(6)
    await cluster[0].get(page)
    await settled([cluster[0]])
    for (const other of cluster.slice(1)) expect((await other.get(page)).headers['x-dsg-cache']).toBe('HIT')
    await settled(cluster)
    const before = await Promise.all(cluster.map((i) => i.stats()))
    expect(before.every((s) => s.diskEntries >= 2)).toBe(true)
    const rendersBefore = before.reduce((sum, s) => sum + s.renders, 0)

    const purge = await cluster[1].get(`/__dsg/purge?path=${encodeURIComponent(page)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(purge.status).toBe(200)
    expect(artifactKeys(page)).toEqual([])
    // Every instance drops the page's two artifacts from memory and from disk.
    await waitFor(
      async () => {
        const now = await Promise.all(cluster.map((i) => i.stats()))
        return now.every(
          (s, n) => s.memoryEntries === before[n].memoryEntries - 2 && s.diskEntries === before[n].diskEntries - 2,
        )
      },
      { attempts: 200, what: 'the purged page gone from the memory and disk of all three instances' },
    )

    const again = await cluster[2].get(page)
    expect([again.status, again.headers['x-dsg-cache']]).toEqual([200, 'MISS'])
    expect(again.body).toContain(heading(6))
    await settled(cluster)
    expect((await totalRenders(cluster)) - rendersBefore).toBe(1)
    expect((await cluster[0].get(page)).headers['x-dsg-cache']).toBe('HIT')
  })

  test('purging all pages on one instance empties Redis and every instance', async () => {
    const page = post(18)
    await cluster[0].get(page)
    await settled([cluster[0]])
    await cluster[1].get(page)
    await settled(cluster)
    const purge = await cluster[0].get('/__dsg/purge?all=1', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(purge.status).toBe(200)
    expect(redis.cli('KEYS', key('artifact', '*'))).toBe('')
    await waitFor(
      async () =>
        (await Promise.all(cluster.map((i) => i.stats()))).every((s) => s.memoryEntries === 0 && s.diskEntries === 0),
      {
        attempts: 200,
        what: 'every instance empty after purging all',
      },
    )
    expect((await cluster[2].get(post(2))).headers['x-dsg-cache']).toBe('MISS')
    await settled(cluster)
  })
})

describe('an instance killed in the middle of a render', () => {
  test('holds the lock until its TTL, then exactly one other instance renders the page', async () => {
    const page = post(8)
    // A real SIGKILL of an instance that holds the lock mid-render. The render is held open by a
    // test hook in its render callback (support/shared-instance-process.js; renderWorkers: 0 so
    // it runs in the process's main thread), so the kill never races a render that already ended.
    const victim = await startInstance({
      cacheDir: false,
      redis: redis.url,
      redisNamespace: NAMESPACE,
      redisLockTtlMs: 1000,
      renderWorkers: 0,
    })
    await connected(4)
    await victim.setGlobal('__gatsbyDsgTestHoldRenders', true)
    const pending = victim.get(page).catch((error) => error)
    await waitFor(async () => (await victim.stats()).renders === 1, {
      attempts: 200,
      what: 'the render started on the victim',
    })
    const owner = redis.cli('GET', key('lock', tag(page)))
    expect(owner).toBeTruthy()
    // Its render lock is renewed while it renders: it outlives its 1000 ms TTL.
    await new Promise((r) => setTimeout(r, 1500))
    expect(redis.cli('GET', key('lock', tag(page)))).toBe(owner)

    expect((await victim.kill('SIGKILL')).signal).toBe('SIGKILL')
    // The victim's own request ends with its process, unanswered.
    expect((await pending).status).toBeUndefined()

    const before = await totalRenders(cluster)
    const waiting = [cluster[1].get(page), cluster[2].get(page)]
    // While the dead owner's lock stands, nobody renders (read renders first, then the lock).
    const rendersMeanwhile = await totalRenders(cluster)
    if (redis.cli('GET', key('lock', tag(page))) === owner) expect(rendersMeanwhile).toBe(before)
    const responses = await within(15000, 'the render after the lock TTL', Promise.all(waiting))
    expect(responses.map((r) => r.status)).toEqual([200, 200])
    expect(responses[0].body).toContain(heading(8))
    expect(responses[1].body).toBe(responses[0].body)
    await settled(cluster)
    expect((await totalRenders(cluster)) - before).toBe(1)
    expect(redis.cli('EXISTS', key('lock', tag(page)))).toBe('0')
  })
})

/** Renders `n`-th posts on `from` until one is a HIT on `to`; resolves to it, or null after `last`. */
async function firstSharedPage(from, to, first, last) {
  for (let n = first; n <= last; n += 2) {
    await new Promise((r) => setTimeout(r, 200))
    const rendered = await within(REQUEST_BOUND_MS, post(n), from.get(post(n)))
    expect(rendered.status).toBe(200)
    await settled([from])
    const res = await within(REQUEST_BOUND_MS, post(n), to.get(post(n)))
    if (res.headers['x-dsg-cache'] === 'HIT') return { page: post(n), body: res.body, rendered: rendered.body }
  }
  return null
}

describe('Redis that stops answering (SIGSTOP)', () => {
  test('instances serve new pages within the bound of its timeouts, and share again once it answers', async () => {
    await connected(3)
    const logs = [redisLog(cluster[0]), redisLog(cluster[1])]
    redis.pause()
    try {
      for (const [instance, n] of [
        [cluster[0], 30],
        [cluster[1], 32],
        [cluster[2], 4],
      ]) {
        const res = await within(REQUEST_BOUND_MS, `${post(n)} while Redis is paused`, instance.get(post(n)))
        expect(res.status).toBe(200)
        expect(res.body).toContain(heading(n))
      }
    } finally {
      redis.resume()
    }
    const shared = await firstSharedPage(cluster[0], cluster[1], 40, 58)
    expect(shared).not.toBeNull()
    expect(shared.body).toBe(shared.rendered)
    for (const log of logs) {
      await log.waitFor(BACK, 'the line saying Redis is back')
      expect(log.lines()).toEqual([expect.stringMatching(UNAVAILABLE), expect.stringMatching(BACK)])
    }
    await settled(cluster)
  })
})

describe('Redis going away', () => {
  test('instances keep serving and rendering locally, each logging one line, and share again once it is back', async () => {
    await connected(3)
    const logs = [redisLog(cluster[0]), redisLog(cluster[1])]
    await redis.stop()

    for (const [instance, n] of [
      [cluster[0], 10],
      [cluster[1], 12],
      [cluster[0], 14],
      [cluster[0], 16],
      [cluster[1], 4],
    ]) {
      const res = await within(REQUEST_BOUND_MS, `${post(n)} without Redis`, instance.get(post(n)))
      expect(res.status).toBe(200)
      expect(res.body).toContain(heading(n))
    }
    await settled(cluster)
    for (const log of logs) {
      await log.waitFor(UNAVAILABLE, 'the line saying Redis is unavailable')
      expect(log.lines()).toEqual([expect.stringMatching(UNAVAILABLE)])
    }

    redis = await startRedis(redis.port)
    // Once both have reconnected, a page rendered by one instance is a HIT on the other.
    const shared = await firstSharedPage(cluster[0], cluster[1], 60, 118)
    expect(shared).not.toBeNull()
    expect(shared.body).toBe(shared.rendered)
    for (const log of logs) {
      await log.waitFor(BACK, 'the line saying Redis is back')
      expect(log.lines()).toEqual([expect.stringMatching(UNAVAILABLE), expect.stringMatching(BACK)])
    }

    // Purges reach every instance again once they have subscribed anew.
    await connected(3, { commands: false })
    await settled(cluster)
    const before = await Promise.all(cluster.map((i) => i.stats()))
    const purge = await cluster[1].get(`/__dsg/purge?path=${encodeURIComponent(shared.page)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(purge.status).toBe(200)
    await waitFor(async () => (await cluster[0].stats()).memoryEntries === before[0].memoryEntries - 2, {
      attempts: 200,
      what: 'the purge published after Redis came back reaching another instance',
    })
    expect((await cluster[0].get(shared.page)).headers['x-dsg-cache']).toBe('MISS')
  })
})

describe('the Redis URL in the log', () => {
  test('the line saying Redis is unavailable does not show the password of the URL', async () => {
    // A port nobody listens on: the instance logs that Redis is unavailable at start.
    const closed = await freePort()
    const instance = await startInstance({
      cacheDir: false,
      redis: `redis://:s3cret-redis-password@127.0.0.1:${closed}/0`,
      redisNamespace: NAMESPACE,
      renderWorkers: 1,
    })
    // It may log the line before it is ready (Redis is tried at once): read from its start.
    const log = redisLog(instance, { fromStart: true })
    await within(REQUEST_BOUND_MS, 'a page while Redis is unreachable', instance.get(post(100)))
    await log.waitFor(/unavailable/, 'the line saying Redis is unavailable')
    expect(log.lines()).toEqual([expect.stringContaining(`127.0.0.1:${closed}`)])
    expect(instance.stderr()).not.toContain('s3cret-redis-password')
    await instance.kill()
  })
})
