'use strict'
// The deployment examples under deploy/ (Dockerfile, Kubernetes, systemd), checked with the tools
// that can run here: no container engine runs on these machines, so the image is never built;
// its Dockerfile is linted, the manifest parsed, the unit verified by systemd itself.

const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const YAML = require('yaml')
const parseBytes = require('bytes')
const { validate } = require('dockerfile-utils')
const { ROOT, tempDir } = require('./support/site')
const { memoryBudget } = require('../lib/render-workers')

const DEPLOY = path.join(ROOT, 'deploy')
const read = (name) => fs.readFileSync(path.join(DEPLOY, name), 'utf8')
const MIB = 1024 * 1024

/** Kubernetes quantities: 1Gi, 1280Mi, 512M. */
function quantity(text) {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(String(text))
  if (!match) throw new Error(`not a quantity: ${text}`)
  const unit = { Ki: 1024, Mi: MIB, Gi: 1024 * MIB, K: 1e3, M: 1e6, G: 1e9 }[match[2]] || 1
  return Number(match[1]) * unit
}

/**
 * The README's budget (lib/render-workers.js memoryBudget) for the flags in `args` and a site whose
 * first worker costs `firstWorkerBytes`, each worker growing by at most that much (G ≤ E).
 */
function budget(args, firstWorkerBytes) {
  const flag = (name) => {
    const arg = args.find((a) => a.startsWith(`--${name}=`))
    return arg && arg.slice(name.length + 3)
  }
  return memoryBudget({
    cacheBytes: parseBytes(flag('cache-size')),
    count: Number(flag('render-workers')),
    firstWorkerBytes,
    recycleMemory: firstWorkerBytes,
  })
}

/** The first worker's cost a deployment example says it is sized for ("costs up to N MiB"). */
function sizedFor(text) {
  const match = /first worker\s+(?:#\s+)?costs up to (\d+) MiB/.exec(text)
  expect(match).not.toBeNull()
  return Number(match[1]) * MIB
}

test('the Dockerfile lints clean, builds in one stage and serves from another as the non-root `node` user, with a liveness health check', () => {
  const source = read('Dockerfile')
  expect(validate(source).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([])
  const stages = [...source.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1])
  expect(stages).toEqual(['build', 'serve'])
  const serve = source.slice(source.indexOf('AS serve'))
  expect(serve).toMatch(/^USER node$/m)
  expect(source.slice(0, source.indexOf('AS serve'))).toMatch(/^RUN npx gatsby build/m)
  // Only the build's output crosses over, never the build stage's whole tree.
  expect([...serve.matchAll(/^COPY --from=build --chown=node:node (\S+) /gm)].map((m) => m[1])).toEqual([
    '/site/package.json',
    '/site/node_modules',
    '/site/public',
    '/site/.cache',
  ])
  expect(serve).toMatch(/^HEALTHCHECK .*\n.*\/__dsg\/livez/m)
  expect(serve).toMatch(
    /^ENTRYPOINT \["node", "node_modules\/gatsby-dsg\/bin\/gatsby-dsg\.js", "serve", "--host", "0\.0\.0\.0", "--port", "9000"/m,
  )
  // A host's node_modules (native addons for the host's platform) never enters the image.
  expect(read('.dockerignore').split('\n')).toEqual(expect.arrayContaining(['node_modules', '.cache', 'public']))
})

test('the Kubernetes manifest probes /__dsg/livez and /__dsg/readyz without a token, and requests the memory budget of its own flags', () => {
  const documents = YAML.parseAllDocuments(read('kubernetes.yaml'))
  expect(documents.flatMap((d) => d.errors)).toEqual([])
  const objects = documents.map((d) => d.toJS())
  expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
    'Deployment/my-site',
    'Service/my-site',
    'Deployment/my-site-redis',
    'Service/my-site-redis',
  ])
  const [container] = objects[0].spec.template.spec.containers
  const port = container.ports[0].name
  expect(container.livenessProbe.httpGet).toEqual({ path: '/__dsg/livez', port })
  expect(container.startupProbe.httpGet).toEqual({ path: '/__dsg/livez', port })
  expect(container.readinessProbe.httpGet).toEqual({ path: '/__dsg/readyz', port })
  for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe])
    expect(probe.httpGet.httpHeaders).toBeUndefined()
  // Memory: the budget of its own flags, for the site it says it is sized for, requested and
  // within the limit.
  const needed = budget(container.args, sizedFor(read('kubernetes.yaml')))
  expect(needed).toBe(1056 * MIB)
  expect(quantity(container.resources.requests.memory)).toBeGreaterThanOrEqual(needed)
  expect(quantity(container.resources.limits.memory)).toBeGreaterThanOrEqual(needed)
  expect(objects[0].spec.template.spec.securityContext.runAsNonRoot).toBe(true)
  // The Redis URL points at the Redis Service, on its port.
  const redisUrl = container.env.find((e) => e.name === 'GATSBY_DSG_REDIS_URL').value
  expect(redisUrl).toBe(`redis://${objects[3].metadata.name}:${objects[3].spec.ports[0].port}/0`)
  expect(objects[2].spec.template.spec.containers[0].args).toEqual(
    expect.arrayContaining(['--maxmemory-policy', 'allkeys-lru']),
  )
})

const systemdAnalyze = fs.existsSync('/usr/bin/systemd-analyze')
if (!systemdAnalyze)
  console.warn(
    'systemd unit test skipped: /usr/bin/systemd-analyze is missing (npm test installs systemd with apt-get where allowed)',
  )

;(systemdAnalyze ? test : test.skip)(
  'the systemd unit passes `systemd-analyze verify`, restarts on any exit with a start limit, and stops with SIGTERM',
  () => {
    const unit = read('gatsby-dsg.service')
    // systemd checks that ExecStart's program exists: point it at this machine's node.
    const dir = tempDir('gatsby-dsg-unit-')
    try {
      const file = path.join(dir, 'my-site.service')
      fs.writeFileSync(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`))
      const verify = spawnSync('/usr/bin/systemd-analyze', ['verify', file], { encoding: 'utf8' })
      expect({ status: verify.status, output: `${verify.stdout}${verify.stderr}`.trim() }).toEqual({
        status: 0,
        output: '',
      })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    const setting = (name) => (new RegExp(`^${name}=(.*)$`, 'm').exec(unit) || [])[1]
    expect(setting('Restart')).toBe('always')
    expect(Number(setting('StartLimitBurst'))).toBeGreaterThan(0)
    expect(setting('KillSignal')).toBe('SIGTERM')
    // Longer than the server's own 10 s drain, so systemd never SIGKILLs a draining server.
    expect(Number(setting('TimeoutStopSec'))).toBeGreaterThan(10)
    expect(setting('User')).not.toBe('root')
    expect(setting('ExecStart')).toMatch(/gatsby-dsg\.js serve /)
  },
)
