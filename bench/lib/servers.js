'use strict'
// The three servers, on loopback, on the same public/: gatsby-dsg (a child process we can ask for
// its stats and whose RSS we read), nginx (the static-file limit) and `gatsby serve` (the anchor).

const fs = require('fs')
const path = require('path')
const procs = require('./procs')
const { sleep } = require('../../scripts/support/wait')
const { freePort } = require('../../scripts/support/ports')
const { waitForHttp } = require('./http')
const { EXAMPLE } = require('./site')
const { connectControl } = require('../../scripts/support/control')

const HOST = '127.0.0.1'

function tail(text, max = 8000) {
  return text.length > max ? text.slice(-max) : text
}

/** The last 8000 characters `child` wrote to stdout and stderr, as a function of now. */
function outputOf(child) {
  let output = ''
  child.stdout.on('data', (c) => (output = tail(output + c)))
  child.stderr.on('data', (c) => (output = tail(output + c)))
  return () => output
}

/**
 * Starts `command args` (`options` as procs.start's), a server on `port`, and resolves once it
 * answers HTTP at `/` (within `timeoutMs`); otherwise stops it and rejects with its output.
 */
async function startAnswering(name, port, command, args, options, timeoutMs) {
  const child = procs.start(command, args, options)
  const output = outputOf(child)
  const base = `http://${HOST}:${port}`
  try {
    await waitForHttp(base, '/', timeoutMs, () => child.exitCode === null)
  } catch (error) {
    await procs.stop(child)
    throw new Error(`${name} did not start: ${error.message}\n${output()}`, { cause: error })
  }
  return { child, base, output }
}

/** Resident and peak memory of a process, in bytes (Linux /proc). */
function memoryOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key) => {
    const m = status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) * 1024 : NaN
  }
  // RssFile: pages of mapped files (e.g. Gatsby's LMDB datastore) — the kernel can drop them.
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') }
}

/** gatsby-dsg on `site` in a child process. */
async function startDsg(
  site,
  {
    cacheDir,
    memoryCacheBytes,
    instrument = false,
    renderWorkers,
    recycleAfter,
    recycleMemory,
    redis,
    redisCa,
    port = 0,
  } = {},
) {
  // renderWorkers, recycleAfter, recycleMemory: lib/serve.js's defaults unless given; redis, redisCa: none; port: any free one.
  const options = {
    root: site.dir,
    host: HOST,
    port,
    cacheDir,
    memoryCacheBytes,
    renderWorkers,
    recycleAfter,
    recycleMemory,
    redis,
    redisCa,
  }
  const preload = instrument ? ['-r', path.join(__dirname, 'instrument.js')] : []
  const child = procs.start(
    process.execPath,
    [...preload, path.join(__dirname, 'dsg-process.js'), JSON.stringify(options)],
    {
      cwd: site.dir,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    },
  )
  const output = outputOf(child)
  const channel = connectControl(child, child.exited)
  const ask = (cmd) =>
    channel.call(cmd, {}, { timeoutMs: 30_000 }).catch((error) => {
      throw new Error(`gatsby-dsg: ${error.message}: ${tail(output(), 2000)}`, { cause: error })
    })
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gatsby-dsg did not start within 120 s: ${tail(output(), 2000)}`)),
      120_000,
    )
    channel.first.then((message) => {
      clearTimeout(timer)
      if (message.error) reject(new Error(`gatsby-dsg did not start: ${message.error}`))
      else resolve(message)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`gatsby-dsg exited with ${code} while starting: ${tail(output(), 2000)}`))
    })
  })
  return {
    name: 'gatsby-dsg',
    base: `http://${HOST}:${ready.port}`,
    port: ready.port,
    pid: child.pid,
    summary: ready.summary,
    renderThreads: ready.renderThreads,
    choice: ready.choice,
    stats: async () => (await ask('stats')).stats,
    /** With `instrument`: the render callback's durations since the last call. */
    renderTimings: async () => (await ask('timings')).timings,
    /** `{ workers: [{ id, renders, inFlight }], ready, count }` of the render workers. */
    renderWorkers: async () => ask('renderWorkers'),
    memory: () => memoryOf(child.pid),
    output,
    alive: () => child.exitCode === null && child.signalCode === null,
    close: async () => {
      try {
        await Promise.race([ask('close'), sleep(10_000)])
      } catch {}
      await procs.stop(child, { graceMs: 2000 })
    },
  }
}

/**
 * nginx on `site`'s public/ with `workers` worker processes. Requests that public/ cannot answer
 * fall back to `generatedDir` (gatsby-dsg's cache directory, laid out like public/), so nginx
 * serves the very bytes gatsby-dsg generated, as a CDN synced with that directory would.
 */
async function startNginx(site, { workDir, workers, generatedDir, nginxBin }) {
  const prefix = path.join(workDir, 'nginx')
  fs.rmSync(prefix, { recursive: true, force: true })
  fs.mkdirSync(path.join(prefix, 'logs'), { recursive: true })
  const port = await freePort()
  const mimeTypes = ['/etc/nginx/mime.types', path.join(path.dirname(nginxBin), '..', 'conf', 'mime.types')].find((f) =>
    fs.existsSync(f),
  )
  const conf = `# generated by bench/lib/servers.js
${process.getuid && process.getuid() === 0 ? 'user root;' : ''}
worker_processes ${workers};
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events {
  worker_connections 4096;
}
http {
  ${mimeTypes ? `include ${mimeTypes};` : ''}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  open_file_cache max=20000 inactive=60s;
  open_file_cache_errors on;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # Only for requests with Accept-Encoding (measurement 7); Debian's nginx has gzip, not brotli.
  gzip on;
  gzip_comp_level 6;
  gzip_min_length 256;
  gzip_vary on;
  gzip_types text/css application/javascript application/json text/plain image/svg+xml;
  gzip_static on;
  server {
    listen ${HOST}:${port} reuseport;
    server_name localhost;
    root ${site.dir}/public;
    location / {
      try_files $uri $uri/index.html ${generatedDir ? '@generated' : '=404'};
    }
    ${
      generatedDir
        ? `location @generated {
      root ${generatedDir};
      try_files $uri $uri/index.html =404;
    }`
        : ''
    }
  }
}
`
  const confFile = path.join(prefix, 'nginx.conf')
  fs.writeFileSync(confFile, conf)
  const { child, base, output } = await startAnswering(
    'nginx',
    port,
    nginxBin,
    ['-p', prefix, '-c', confFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
    30_000,
  )
  return {
    name: 'nginx',
    base,
    port,
    conf,
    confFile,
    pid: child.pid,
    output: () => output() + readIf(path.join(prefix, 'logs', 'error.log')),
    close: () => procs.stop(child, { signal: 'SIGQUIT', graceMs: 3000 }),
  }
}

function readIf(file) {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** `gatsby serve` in the site's directory (it needs the site as its working directory). */
async function startGatsbyServe(site) {
  const port = await freePort()
  const { child, base, output } = await startAnswering(
    'gatsby serve',
    port,
    process.execPath,
    [path.join(EXAMPLE, 'node_modules', 'gatsby', 'cli.js'), 'serve', '-p', String(port), '-H', HOST],
    {
      cwd: site.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GATSBY_TELEMETRY_DISABLED: '1', CI: '1' },
    },
    120_000,
  )
  return {
    name: 'gatsby serve',
    base,
    port,
    pid: child.pid,
    memory: () => memoryOf(child.pid),
    output,
    close: () => procs.stop(child, { signal: 'SIGTERM', graceMs: 5000 }),
  }
}

module.exports = { startDsg, startNginx, startGatsbyServe, memoryOf, HOST }
