'use strict'
// Smoke test of a built addon on the machine it runs on, with Node built-ins only (no Gatsby, no
// npm install): loads it through the package's entry (index.js → binding.js → the addon for this
// platform), starts its HTTP server on 127.0.0.1 with a one-file public/ and one deferred page
// rendered by a JS callback, and checks the file (200), the page (MISS, then HIT with the same
// bytes), a 404, and a clean close. Exits 0 and prints one line, or exits 1 saying what failed.
//
// Used where the full `npm test` cannot run: inside the Debian 11 root of __test__/glibc.test.js
// and on each platform of .github/workflows/release.yml.

const fs = require('fs')
const http = require('http')
const os = require('os')
const path = require('path')

const PACKAGE = process.argv[2] ? path.resolve(process.argv[2]) : path.resolve(__dirname, '..')

function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 10_000 }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => (body += chunk))
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body }))
    })
    request.on('timeout', () => request.destroy(new Error(`GET ${urlPath} timed out`)))
    request.on('error', reject)
  })
}

function expect(what, actual, expected) {
  if (actual !== expected)
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
}

async function main() {
  const report = process.report && process.report.getReport ? process.report.getReport() : {}
  const glibc = (report.header && report.header.glibcVersionRuntime) || null
  const { startServer } = require(PACKAGE)
  const publicDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatsby-dsg-smoke-'))
  fs.writeFileSync(path.join(publicDir, 'index.html'), '<!DOCTYPE html><html><body>static page</body></html>')
  fs.writeFileSync(path.join(publicDir, '404.html'), '<!DOCTYPE html><html><body>not found page</body></html>')
  let renders = 0
  const render = async (pagePath) => {
    renders += 1
    return {
      pageData: JSON.stringify({ path: pagePath }),
      html: Promise.resolve(`<!DOCTYPE html><html><body>rendered ${pagePath}</body></html>`),
    }
  }
  const server = await startServer(
    {
      host: '127.0.0.1',
      port: 0,
      publicDir,
      cacheDir: path.join(publicDir, '.cache'),
      buildId: 'smoke',
      deferredPages: [{ path: '/deferred/' }],
    },
    render,
  )
  try {
    const file = await get(server.port, '/')
    expect('GET / status', file.status, 200)
    expect('GET / body', file.body.includes('static page'), true)
    const miss = await get(server.port, '/deferred/')
    expect('first GET /deferred/ status', miss.status, 200)
    expect('first GET /deferred/ x-dsg-cache', miss.headers['x-dsg-cache'], 'MISS')
    expect('first GET /deferred/ body', miss.body.includes('rendered /deferred/'), true)
    const hit = await get(server.port, '/deferred/')
    expect('second GET /deferred/ x-dsg-cache', hit.headers['x-dsg-cache'], 'HIT')
    expect('second GET /deferred/ body', hit.body, miss.body)
    expect('renders', renders, 1)
    const missing = await get(server.port, '/nowhere/')
    expect('GET /nowhere/ status', missing.status, 404)
  } finally {
    await server.close()
    fs.rmSync(publicDir, { recursive: true, force: true })
  }
  const platform = `${process.platform}-${process.arch}${glibc ? ` glibc ${glibc}` : ''}`
  console.log(
    `gatsby-dsg smoke: ok on ${platform}, Node ${process.version}: static 200, deferred MISS then HIT (1 render), 404`,
  )
}

main().then(
  // The server is closed; nothing should keep the process alive, but a leaked handle must not hang CI.
  () => process.exit(0),
  (error) => {
    console.error(`gatsby-dsg smoke: FAILED: ${error && error.stack ? error.stack : error}`)
    process.exit(1)
  },
)
