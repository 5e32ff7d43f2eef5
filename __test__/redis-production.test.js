'use strict'
// Redis as production runs it, end to end on the example site built by real Gatsby: a TLS-only
// redis-server (certificates made with openssl here) verified against a custom CA with a client
// certificate, and a real Redis Cluster (3 masters + 3 replicas, `redis-cli --cluster create`) with
// gatsby-dsg instances in child processes; one of its masters is killed under load.

const path = require('path')
const { tempDir } = require('./support/site')
const { startInstance, startInstances, totalRenders, settled } = require('./support/shared-tier')
const { startTlsRedis, startCluster, makeCertificates } = require('../scripts/support/redis')
const { freePort } = require('../scripts/support/ports')
const { waitFor, within } = require('../scripts/support/wait')
const { killAll } = require('./support/processes')

const NAMESPACE = 'dsg-prod'
const ADMIN_TOKEN = 'redis-production-admin-token'
const REQUEST_BOUND_MS = 5000

const post = (n) => `/blog/post-${String(n).padStart(5, '0')}/`
/** The example defers the even-numbered posts (60 of them: 0, 2, … 118). */
const deferred = (i) => post(2 * i)
const heading = (n) => `<h1>Blog post ${n}</h1>`

function purge(instance, query) {
  return instance.get(`/__dsg/purge?${query}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
}

/** The lines about Redis an instance logged so far. */
const redisLines = (instance) =>
  instance
    .stderr()
    .split('\n')
    .filter((line) => /Redis/.test(line))

afterAll(async () => {
  await killAll()
})

describe('a TLS-only Redis', () => {
  let certs
  let redis

  beforeAll(async () => {
    certs = makeCertificates(tempDir())
    redis = await startTlsRedis(certs, {
      requireClientCertificates: true,
      acl: { user: 'dsg-acl-user', password: 'acl-s3cret-password' },
    })
  })

  test('with its CA and a client certificate, instances share pages through it and an ACL user in the URL is in no log line', async () => {
    const url = `rediss://dsg-acl-user:acl-s3cret-password@127.0.0.1:${redis.port}/`
    const tls = { redisCa: certs.ca, redisCert: certs.clientCert, redisKey: certs.clientKey }
    const instances = await Promise.all(
      [0, 1].map(() =>
        startInstance({
          cacheDir: false,
          redis: url,
          redisNamespace: NAMESPACE,
          renderWorkers: 1,
          accessLog: 'text',
          ...tls,
        }),
      ),
    )
    // Both connected: a page rendered by one is a HIT on the other.
    let shared = null
    for (let n = 2; n <= 40 && !shared; n += 2) {
      const first = await instances[0].get(post(n))
      expect(first.status).toBe(200)
      await settled(instances)
      const other = await instances[1].get(post(n))
      if (other.headers['x-dsg-cache'] === 'HIT') shared = { n, first, other }
    }
    expect(shared).not.toBeNull()
    expect(shared.other.body).toBe(shared.first.body)
    expect(shared.other.body).toContain(heading(shared.n))
    expect(redis.keys(`${NAMESPACE}:*:artifact:html:{${post(shared.n)}}`)).toHaveLength(1)
    for (const instance of instances) {
      const output = instance.stdout() + instance.stderr()
      expect(output).not.toContain('dsg-acl-user')
      expect(output).not.toContain('acl-s3cret-password')
      await instance.kill()
    }
  })

  test('a server certificate another CA signed is refused with one clear log line, and pages are still served', async () => {
    const instance = await startInstance({
      cacheDir: false,
      redis: `rediss://dsg-acl-user:acl-s3cret-password@127.0.0.1:${redis.port}/`,
      redisNamespace: NAMESPACE,
      renderWorkers: 1,
      redisCa: certs.otherCa,
      redisCert: certs.clientCert,
      redisKey: certs.clientKey,
    })
    const res = await within(REQUEST_BOUND_MS, 'a page while Redis is refused', instance.get(post(50)))
    expect(res.status).toBe(200)
    expect(res.body).toContain(heading(50))
    await waitFor(() => redisLines(instance).length > 0, { attempts: 200, what: 'the line about Redis' })
    // It keeps retrying (every second) without logging more.
    await new Promise((r) => setTimeout(r, 2500))
    expect(redisLines(instance)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^gatsby-dsg: Redis at rediss://\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/ unavailable \\(TLS certificate of the server not accepted: .*UnknownIssuer.*\\); serving and rendering locally until it is back$`,
        ),
      ),
    ])
    expect(instance.stderr()).not.toContain('acl-s3cret-password')
    expect(instance.stderr()).not.toContain('dsg-acl-user')
    await instance.kill()
  })

  test('TLS files that cannot be read fail the start with their name', async () => {
    const missing = path.join(tempDir(), 'no-such-ca.pem')
    await expect(
      startInstance({
        cacheDir: false,
        redis: `rediss://127.0.0.1:${await freePort()}/`,
        renderWorkers: 0,
        redisCa: missing,
      }),
    ).rejects.toThrow(missing)
  })
})

describe('a Redis Cluster of 3 masters and 3 replicas', () => {
  let cluster
  let instances

  const artifactKeysByMaster = () => cluster.masters().map((m) => m.keys(`${NAMESPACE}:*:artifact:*`))

  beforeAll(async () => {
    cluster = await startCluster(tempDir())
    instances = await startInstances(3, {
      redis: cluster.url,
      redisNamespace: NAMESPACE,
      adminToken: ADMIN_TOKEN,
      renderWorkers: 1,
    })
    // Each instance connected: a command connection on every master, a purge subscription somewhere.
    await waitFor(
      () => {
        const clients = (node, flag) =>
          (node.cli('CLIENT', 'LIST') || '')
            .split('\n')
            .filter((l) => l.includes(` flags=${flag} `) && !l.includes('cmd=client|list')).length
        const subscriptions = cluster.nodes.reduce((sum, node) => sum + clients(node, 'P'), 0)
        return cluster.masters().every((m) => clients(m, 'N') >= 3) && subscriptions >= 3
      },
      { what: 'three instances connected to the cluster', attempts: 400 },
    )
  })

  test("three instances render each page once; a page's keys live on one master, pages on every master", async () => {
    const pages = Array.from({ length: 30 }, (_, n) => deferred(n))
    const before = await totalRenders(instances)
    const responses = await Promise.all(pages.flatMap((page) => instances.map((i) => i.get(page))))
    expect(responses.map((r) => r.status)).toEqual(Array(90).fill(200))
    await settled(instances)
    expect((await totalRenders(instances)) - before).toBe(30)
    const byMaster = artifactKeysByMaster()
    expect(byMaster).toHaveLength(3)
    expect(byMaster.flat()).toHaveLength(60)
    for (const keys of byMaster) {
      expect(keys.length).toBeGreaterThan(0)
      const pagesOf = (kind) =>
        keys
          .filter((k) => k.includes(`:artifact:${kind}:`))
          .map((k) => k.slice(k.indexOf('{')))
          .sort()
      expect(pagesOf('html')).toEqual(pagesOf('page-data'))
    }
  })

  test('a purge of one page, then of everything, reaches every master and every instance', async () => {
    await settled(instances)
    const page = deferred(3)
    for (const i of instances) expect((await i.get(page)).headers['x-dsg-cache']).toBe('HIT')
    const before = await Promise.all(instances.map((i) => i.stats()))
    const one = await purge(instances[1], `path=${encodeURIComponent(page)}`)
    expect(one.status).toBe(200)
    expect(
      artifactKeysByMaster()
        .flat()
        .filter((k) => k.endsWith(`{${page}}`)),
    ).toEqual([])
    expect(artifactKeysByMaster().flat()).toHaveLength(58)
    await waitFor(
      async () =>
        (await Promise.all(instances.map((i) => i.stats()))).every(
          (s, n) => s.memoryEntries === before[n].memoryEntries - 2,
        ),
      { attempts: 200, what: 'the purged page gone from the memory of all three instances' },
    )

    const all = await purge(instances[2], 'all=1')
    expect(all.status).toBe(200)
    expect(artifactKeysByMaster().flat()).toEqual([])
    await waitFor(
      async () =>
        (await Promise.all(instances.map((i) => i.stats()))).every((s) => s.memoryEntries === 0 && s.diskEntries === 0),
      {
        attempts: 200,
        what: 'every instance empty after purging all',
      },
    )
    const again = await instances[0].get(deferred(5))
    expect([again.status, again.headers['x-dsg-cache']]).toEqual([200, 'MISS'])
    await settled(instances)
  })

  test('a master killed under load fails over to its replica and every request is answered', async () => {
    let stop = false
    let answered = 0
    const load = instances.map(async (instance, n) => {
      const statuses = []
      for (let k = 0; !stop; k++) {
        const res = await within(
          REQUEST_BOUND_MS,
          'a request during the failover',
          instance.get(deferred((n * 20 + k) % 60)),
        )
        statuses.push(res.status)
        answered++
      }
      return statuses
    })
    let killed
    try {
      await waitFor(() => answered >= 30, { attempts: 200, what: 'load under way' })
      killed = await cluster.killMaster(0)
      await cluster.ok()
      const atFailover = answered
      await waitFor(() => answered >= atFailover + 60, { attempts: 200, what: 'requests answered after the failover' })
    } finally {
      // The load ends with the test, passed or not: no request outlives it into afterAll's kill.
      stop = true
      await Promise.allSettled(load)
    }
    const statuses = (await Promise.all(load)).flat()
    expect({ killed, statuses: [...new Set(statuses)] }).toEqual({ killed, statuses: [200] })
    expect(cluster.masters()).toHaveLength(3)
    await settled(instances)
  })
})
