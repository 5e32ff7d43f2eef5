'use strict'
// Gatsby Functions (example/src/api/**, compiled by a real `gatsby build`), served by gatsby-dsg
// as `gatsby serve` serves them: the Rust engine routes /api/*, enforces the body limit and the
// function timeout, and forwards to the functions process running Gatsby's middleware chain.

const { spawn } = require('child_process')
const fs = require('fs')
const net = require('net')
const path = require('path')
const { startServer, tempDir, EXAMPLE } = require('./support/site')
const { staticCopy } = require('./support/example-copy')
const { request } = require('./support/http')
const { waitFor } = require('../scripts/support/wait')
const { freePort } = require('../scripts/support/ports')

const FUNCTION_TIMEOUT_MS = 3000
const MAX_BODY = 1024 * 1024

let server

beforeAll(async () => {
  server = await startServer({
    cacheDir: tempDir(),
    renderWorkers: 1,
    functionTimeoutMs: FUNCTION_TIMEOUT_MS,
    functionMaxBodyBytes: MAX_BODY,
  })
})

afterAll(async () => {
  if (server) await server.close()
})

const call = (rawPath, init) => request(server.base, rawPath, init)
const json = (res) => JSON.parse(res.body.toString('utf8'))

/** Sends a request head (and `body`, if any) on a raw socket; resolves to what came back before the server closed or `waitMs` passed. */
function rawExchange(head, { body = '', waitMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const { port } = new URL(server.base)
    const socket = net.connect(port, '127.0.0.1')
    let received = ''
    const done = () => {
      socket.destroy()
      resolve(received)
    }
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => (received += chunk))
    socket.on('end', done)
    socket.on('error', (error) => (received ? done() : reject(error)))
    socket.write(head + body)
    setTimeout(done, waitMs)
  })
}

/** A multipart/form-data body with text fields and files. */
function multipart(fields, files) {
  const boundary = `----gatsby-dsg-${Date.now()}`
  const parts = []
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  }
  for (const { field, filename, type, content } of files) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
      ),
      Buffer.from(content),
      Buffer.from('\r\n'),
    )
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` }
}

describe('routing', () => {
  test('the start-up summary counts the functions of the manifest', () => {
    expect(server.summary.functions).toBe(12)
  })

  test('a static function answers JSON through Express, with the query parsed', async () => {
    const res = await call('/api/hello?a=1&b=two&list=x&list=y')
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(res.headers['x-powered-by']).toBe('Express')
    expect(json(res)).toEqual({ hello: 'world', method: 'GET', query: { a: '1', b: 'two', list: ['x', 'y'] } })
  })

  test('an exact route wins over a matchPath that also matches', async () => {
    expect(json(await call('/api/users/me'))).toEqual({ route: 'users/me' })
  })

  test('[param], [...] and a named wildcard fill req.params', async () => {
    expect(json(await call('/api/users/42'))).toEqual({ route: 'users/[id]', params: { id: '42' } })
    expect(json(await call('/api/users/caf%C3%A9'))).toEqual({ route: 'users/[id]', params: { id: 'café' } })
    expect(json(await call('/api/files/a/b/c.txt'))).toEqual({
      route: 'files/[...]',
      params: { '*': 'a/b/c.txt', 0: 'a/b/c.txt' },
    })
    expect(json(await call('/api/docs/guide/intro'))).toEqual({
      route: 'docs/[...slug]',
      params: { slug: 'guide/intro' },
    })
  })

  test('a path naming no function is the 404 page for every method, never the functions process', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await call('/api/nope', { method })
      expect(res.status).toBe(404)
    }
    // A [param] takes exactly one segment.
    expect((await call('/api/users/42/posts')).status).toBe(404)
  })
})

describe('requests and responses are Express’s', () => {
  test('every HTTP method reaches the function', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const res = await call('/api/echo', { method })
      expect(res.status).toBe(200)
      expect(json(res).method).toBe(method)
    }
    const head = await call('/api/echo', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
  })

  test('a JSON body is parsed into req.body', async () => {
    const res = await call('/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Ada', tags: ['x', 'y'], nested: { n: 1 } }),
    })
    expect(json(res).body).toEqual({ name: 'Ada', tags: ['x', 'y'], nested: { n: 1 } })
  })

  test('an urlencoded form is parsed with extended syntax', async () => {
    const res = await call('/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=Ada+Lovelace&user[role]=admin&n=1',
    })
    expect(json(res).body).toEqual({ name: 'Ada Lovelace', user: { role: 'admin' }, n: '1' })
  })

  test('a text body is a string and an octet-stream body a Buffer', async () => {
    const text = await call('/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello there',
    })
    expect(json(text).body).toBe('hello there')
    const bytes = Buffer.from([0, 1, 2, 250, 255])
    const raw = await call('/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    expect(Buffer.from(json(raw).body.raw, 'base64')).toEqual(bytes)
  })

  test('multipart: fields in req.body, files in req.files', async () => {
    const { body, contentType } = multipart({ title: 'report' }, [
      { field: 'upload', filename: 'notes.txt', type: 'text/plain', content: 'line one\nline two\n' },
      { field: 'image', filename: 'pixel.bin', type: 'application/octet-stream', content: Buffer.alloc(3000, 7) },
    ])
    const res = await call('/api/echo', { method: 'POST', headers: { 'content-type': contentType }, body })
    expect(res.status).toBe(200)
    const echoed = json(res)
    expect(echoed.body).toEqual({ title: 'report' })
    expect(echoed.files).toEqual([
      {
        fieldname: 'upload',
        originalname: 'notes.txt',
        mimetype: 'text/plain',
        size: 18,
        text: 'line one\nline two\n',
      },
      expect.objectContaining({
        fieldname: 'image',
        originalname: 'pixel.bin',
        mimetype: 'application/octet-stream',
        size: 3000,
      }),
    ])
  })

  test('cookies are parsed into req.cookies; a function sets a cookie and redirects', async () => {
    const echoed = json(await call('/api/echo', { headers: { cookie: 'theme=dark; session=s%201' } }))
    expect(echoed.cookies).toEqual({ theme: 'dark', session: 's 1' })
    const res = await call('/api/login?to=/account/')
    expect(res.status).toBe(302)
    expect(res.headers.location).toBe('/account/')
    expect(res.headers['set-cookie']).toEqual(['session=abc123; Path=/; HttpOnly'])
  })

  test('a streamed response is passed on as the function writes it', async () => {
    const res = await call('/api/stream?chunks=4')
    expect(res.status).toBe(200)
    expect(res.headers['transfer-encoding']).toBe('chunked')
    expect(res.body.toString()).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\ndone\n')
    // Written 50 ms apart, the chunks arrive apart: the engine does not buffer the response.
    expect(res.chunks.length).toBeGreaterThan(1)
    expect(res.chunks[0].toString()).not.toContain('done')
  })
})

describe('limits and failures', () => {
  const runs = async () => json(await call('/api/small-body')).runs

  test('a body within the config limit reaches the function', async () => {
    const before = await runs()
    const res = await call('/api/small-body', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x'.repeat(500) }),
    })
    expect(res.status).toBe(200)
    expect(json(res).runs).toBe(before + 1)
  })

  test('a Content-Length over the config limit is a 413 before the body is sent, and the function never runs', async () => {
    const before = await runs()
    // Only the head: the server answers without waiting for a byte of the 5000 announced.
    const answer = await rawExchange(
      'POST /api/small-body HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n',
    )
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(answer).toMatch(/\r\nconnection: close\r\n/i)
    expect(await runs()).toBe(before)
  })

  test('a chunked body that grows over the limit is a 413, and the function never runs', async () => {
    const before = await runs()
    const chunk = 'x'.repeat(600)
    const chunkFrame = `${chunk.length.toString(16)}\r\n${chunk}\r\n`
    const answer = await rawExchange(
      'POST /api/small-body HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
      { body: chunkFrame + chunkFrame + chunkFrame + '0\r\n\r\n' },
    )
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(await runs()).toBe(before)
  })

  test('the default 100kb limit applies to a function without config, and --function-max-body to multipart', async () => {
    const big = await call('/api/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x'.repeat(110 * 1024) }),
    })
    expect(big.status).toBe(413)
    const { body, contentType } = multipart({}, [
      { field: 'f', filename: 'big.bin', type: 'application/octet-stream', content: Buffer.alloc(MAX_BODY + 1) },
    ])
    const upload = await call('/api/echo', { method: 'POST', headers: { 'content-type': contentType }, body })
    expect(upload.status).toBe(413)
  })

  test('a client still sending a 4 MiB body gets the 413 of a function’s limit or the 405 of a page, not a reset', async () => {
    // Answered before the body is read: without reading the rest, the server's close was a
    // reset, and 28–29 of 30 such clients got EPIPE instead of their answer.
    const body = Buffer.alloc(4 * 1024 * 1024, 'x')
    const headers = { 'content-type': 'application/json' }
    for (let i = 0; i < 10; i++) {
      expect((await call('/api/echo', { method: 'POST', headers, body })).status).toBe(413)
      expect((await call('/about/', { method: 'POST', headers, body })).status).toBe(405)
    }
    expect((await call('/api/hello')).status).toBe(200)
  })

  test('a function that throws is a 500, logged with its route, and the server keeps serving', async () => {
    const res = await call('/api/throws')
    expect(res.status).toBe(500)
    await waitFor(() => server.stderr().includes('function /api/throws threw: Error: this function always throws'), {
      what: 'the error logged',
    })
    expect((await call('/api/hello')).status).toBe(200)
  })

  test('a function that never answers is a 504 at the function timeout, while static files and deferred pages are served', async () => {
    let settled = false
    const hanging = call('/api/hang').then((res) => {
      settled = true
      return res
    })
    const page = await call('/about/')
    expect(page.status).toBe(200)
    const deferred = await call('/blog/post-00006/')
    expect(deferred.status).toBe(200)
    expect(deferred.headers['x-dsg-cache']).toBe('MISS')
    expect((await call('/api/hello')).status).toBe(200)
    expect(settled).toBe(false)
    const res = await hanging
    expect(res.status).toBe(504)
    expect(res.body.toString()).toContain(`/api/hang did not answer within ${FUNCTION_TIMEOUT_MS / 1000} s`)
  })

  test('a function blocking its event loop gets its process replaced; pages are served meanwhile and functions again after', async () => {
    const blocked = call('/api/busy')
    // The functions process is stuck in the loop; the engine is not.
    expect((await call('/about/')).status).toBe(200)
    const deferred = await call('/blog/post-00008/')
    expect(deferred.status).toBe(200)
    expect(deferred.headers['x-dsg-cache']).toBe('MISS')
    expect([502, 504]).toContain((await blocked).status)
    await waitFor(() => server.stderr().includes('a function blocks its event loop'), {
      attempts: 400,
      intervalMs: 50,
      what: 'the replacement logged',
    })
    const again = await waitFor(
      async () => {
        const res = await call('/api/hello')
        return res.status === 200 && res
      },
      { attempts: 600, intervalMs: 100, what: '/api/hello answered by the new functions process' },
    )
    expect(json(again).hello).toBe('world')
  })
})

describe('the functions manifest', () => {
  const fs = require('fs')
  const path = require('path')
  const { readFunctions } = require('../lib/functions')

  test('a site served from another directory than it was built in finds its compiled functions by their relative path', () => {
    const site = tempDir('gatsby-dsg-functions-moved-')
    const dir = path.join(site, '.cache', 'functions', 'users')
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, '[id].js'), 'exports.default = (req, res) => res.end()')
    const entry = {
      functionRoute: 'users/[id]',
      matchPath: 'users/:id',
      relativeCompiledFilePath: 'users/[id].js',
      absoluteCompiledFilePath: '/the/build/machine/.cache/functions/users/[id].js',
      functionId: 'users-id-js',
    }
    fs.writeFileSync(path.join(site, '.cache', 'functions', 'manifest.json'), JSON.stringify([entry]))
    const [fn] = readFunctions(site)
    expect(fn.compiledFile).toBe(path.join(dir, '[id].js'))
    expect(fn.entry.absoluteCompiledFilePath).toBe(fn.compiledFile)
    expect(fn.matchPath).toBe('users/:id')
  })

  test('a missing compiled file is one clear error naming the function', () => {
    const site = tempDir('gatsby-dsg-functions-missing-')
    fs.mkdirSync(path.join(site, '.cache', 'functions'), { recursive: true })
    fs.writeFileSync(
      path.join(site, '.cache', 'functions', 'manifest.json'),
      JSON.stringify([{ functionRoute: 'gone', relativeCompiledFilePath: 'gone.js' }]),
    )
    expect(() => readFunctions(site)).toThrow(
      /compiled file of function \/api\/gone is missing .*run `gatsby build` again/,
    )
  })

  test('a site without functions has none', () => {
    expect(readFunctions(tempDir('gatsby-dsg-functions-none-'))).toEqual([])
  })
})

/**
 * The example's public/ and its compiled functions (a real `gatsby build`'s), served as a static
 * site, with one more function listed last in the manifest whose module blocks the functions
 * process's loading until `gate` is written: the functions process has not reported its routes
 * until then. Written `exit`, the gate makes that process exit (code 3) instead.
 */
function slowFunctionsSite() {
  const dir = staticCopy()
  const functions = path.join(dir, '.cache', 'functions')
  fs.cpSync(path.join(EXAMPLE, '.cache', 'functions'), functions, { recursive: true })
  fs.copyFileSync(path.join(EXAMPLE, 'package.json'), path.join(dir, 'package.json'))
  fs.symlinkSync(path.join(EXAMPLE, 'node_modules'), path.join(dir, 'node_modules'), 'dir')
  const gate = path.join(dir, 'gate')
  fs.writeFileSync(
    path.join(functions, 'slow-to-load.js'),
    `const fs = require('fs')
const pause = new Int32Array(new SharedArrayBuffer(4))
while (!fs.existsSync(${JSON.stringify(gate)})) Atomics.wait(pause, 0, 0, 20)
if (fs.readFileSync(${JSON.stringify(gate)}, 'utf8') === 'exit') process.exit(3)
exports.default = (req, res) => res.json({ loaded: true })
`,
  )
  const manifest = path.join(functions, 'manifest.json')
  const entries = JSON.parse(fs.readFileSync(manifest, 'utf8'))
  entries.push({
    functionRoute: 'slow-to-load',
    relativeCompiledFilePath: 'slow-to-load.js',
    functionId: 'slow-to-load-js',
  })
  fs.writeFileSync(manifest, JSON.stringify(entries))
  return { dir, gate, functionCount: entries.length }
}

describe('the server answers before the functions process has reported its routes', () => {
  const WAIT_BOUND_MS = 3000
  let site
  let port
  let base
  let starting
  let started = false

  beforeAll(async () => {
    site = slowFunctionsSite()
    port = await freePort()
    base = `http://127.0.0.1:${port}`
    starting = startServer({ root: site.dir, cacheDir: false, port, functionTimeoutMs: WAIT_BOUND_MS })
    starting.then(
      () => (started = true),
      () => {},
    )
  })

  afterAll(async () => {
    fs.writeFileSync(site.gate, '')
    const server = await starting.catch(() => null)
    if (server) await server.close()
  })

  test('a static page is answered 200 while the functions are loading, and /__dsg/readyz says what it waits for', async () => {
    const page = await waitFor(
      async () => {
        const res = await request(base, '/about/').catch(() => null)
        return res && res.status === 200 && res
      },
      { what: 'a 200 for /about/' },
    )
    expect(page.body.toString('utf8')).toContain('<html')
    const ready = await request(base, '/__dsg/readyz')
    expect(ready.status).toBe(503)
    expect(JSON.parse(ready.body.toString('utf8')).waitingFor).toEqual([
      'the functions process has not reported its functions',
    ])
    // serve() resolves only once the functions are ready, which the gate still prevents.
    expect(started).toBe(false)
  })

  test('a request under /api/ that waits past the function timeout is a 503 with Retry-After', async () => {
    const res = await request(base, '/api/hello')
    expect(res.status).toBe(503)
    expect(res.headers['retry-after']).toBe('5')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.body.toString('utf8')).toMatch(/the functions process has not reported its functions within 3 s/)
    expect(started).toBe(false)
  })

  test('requests under /api/ sent meanwhile are routed as usual once the routes arrive', async () => {
    const hello = request(base, '/api/hello?a=1')
    const unknown = request(base, '/api/nope', { method: 'POST' })
    const overLimit = request(base, '/api/small-body', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2000) }),
    })
    // They were sent before this request's answer came (each on a connection of its own).
    expect((await request(base, '/about/')).status).toBe(200)
    expect(started).toBe(false)
    fs.writeFileSync(site.gate, '')

    const answered = await hello
    expect(answered.status).toBe(200)
    expect(json(answered)).toEqual({ hello: 'world', method: 'GET', query: { a: '1' } })
    expect((await unknown).status).toBe(404)
    expect((await overLimit).status).toBe(413)
    expect(json(await request(base, '/api/small-body')).runs).toBe(0)

    const server = await starting
    expect(server.summary.functions).toBe(site.functionCount)
    expect(json(await request(base, '/api/slow-to-load'))).toEqual({ loaded: true })
    expect((await request(base, '/__dsg/readyz')).status).toBe(200)
  })
})

describe('a functions process that fails to start', () => {
  test('rejects serve() with its error after static pages were served, answers the /api/ request waiting meanwhile with a 503, and leaves nothing running', async () => {
    const site = slowFunctionsSite()
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const options = { root: site.dir, cacheDir: false, host: '127.0.0.1', port, functionTimeoutMs: 60_000 }
    const child = spawn(
      process.execPath,
      [path.join(__dirname, 'support', 'server-process.js'), JSON.stringify(options)],
      {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      },
    )
    let control = ''
    child.stdio[3].setEncoding('utf8').on('data', (chunk) => (control += chunk))
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
    // Its event loop empty once serve() rejected: Node exits on its own only if the server, its
    // threads and the functions process were all closed.
    const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))

    await waitFor(
      async () => {
        const res = await request(base, '/about/').catch(() => null)
        return res && res.status === 200
      },
      { what: () => `a 200 for /about/ (server output: ${stderr})` },
    )
    const waiting = request(base, '/api/hello')
    expect((await request(base, '/about/')).status).toBe(200)
    fs.writeFileSync(site.gate, 'exit')

    const answer = await waiting
    expect(answer.status).toBe(503)
    expect(answer.headers['retry-after']).toBe('5')
    expect(answer.body.toString('utf8')).toMatch(/shutting down before its functions were ready/)
    expect(await exited).toBe(1)
    expect(JSON.parse(control.split('\n')[0])).toEqual({
      error: 'the functions process exited before it was ready (exit code 3)',
    })
    await expect(request(base, '/about/')).rejects.toThrow(/ECONNREFUSED/)
  })
})
