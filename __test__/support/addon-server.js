'use strict'
// The addon's own `startServer(options, render)` in a child process, with a render callback that
// misbehaves on purpose: each deferred page's path names a fault (see FAULTS). The test talks to
// it over the control channel (scripts/support/control.js): `calls` (render calls per page, and the
// `first` each was called with), `stats`, `purge` (`{ path }`), `close`.

const { startServer } = require('../..')
const { serveControl } = require('../../scripts/support/control')

const FAULTS = {
  // Not a promise, not a result.
  '/returns-number/': () => 42,
  '/returns-null/': () => null,
  '/returns-string/': () => '<html>not a result</html>',
  // A promise of the wrong shape.
  '/resolves-number/': async () => 42,
  '/resolves-empty-object/': async () => ({}),
  '/no-page-data/': async () => ({ html: Promise.resolve('<html><body>no page-data</body></html>') }),
  '/page-data-number/': async () => ({ pageData: 42, html: Promise.resolve('<html></html>') }),
  '/page-data-object/': async () => ({ pageData: { path: '/x/' }, html: Promise.resolve('<html></html>') }),
  // Throws, rejects, never settles.
  '/throws/': () => {
    throw new Error('render threw synchronously (test)')
  },
  '/rejects/': () => Promise.reject(new Error('render rejected (test)')),
  '/rejects-string/': () => Promise.reject('render rejected with a string (test)'),
  '/never-settles/': () => new Promise(() => {}),
  // The page-data is right; the HTML is wrong.
  '/html-number/': async () => ({ pageData: '{"path":"/html-number/"}', html: Promise.resolve(42) }),
  '/html-not-a-promise/': async () => ({ pageData: '{"path":"/html-not-a-promise/"}', html: 42 }),
  '/html-rejects/': async () => {
    const html = Promise.reject(new Error('HTML render rejected (test)'))
    html.catch(() => {})
    return { pageData: '{"path":"/html-rejects/"}', html }
  },
  '/html-never-settles/': async () => ({ pageData: '{"path":"/html-never-settles/"}', html: new Promise(() => {}) }),
  // A well-behaved page, to show the same server renders normally.
  '/good/': async (path) => ({
    pageData: JSON.stringify({ path }),
    html: Promise.resolve(`<!DOCTYPE html><html><body><h1>${path}</h1></body></html>`),
  }),
  // Well-behaved the other way: asked for its HTML first, it resolves once, with the HTML itself.
  '/good-html-first/': async (path, first) => {
    const html = `<!DOCTYPE html><html><body><h1>${path}</h1></body></html>`
    return { pageData: JSON.stringify({ path }), html: first === 'html' ? html : Promise.resolve(html) }
  },
}

const calls = {}
/** The `first` each render of a page was called with, in order. */
const firsts = {}

serveControl(async (options) => {
  const render = (pagePath, first) => {
    calls[pagePath] = (calls[pagePath] || 0) + 1
    ;(firsts[pagePath] = firsts[pagePath] || []).push(first)
    return FAULTS[pagePath](pagePath, first)
  }
  const server = await startServer(
    {
      host: '127.0.0.1',
      port: 0,
      buildId: 'faults',
      deferredPages: Object.keys(FAULTS).map((path) => ({ path })),
      ...options,
    },
    render,
  )
  return {
    ready: { port: server.port },
    commands: {
      calls: () => ({ calls, firsts }),
      stats: () => ({ stats: server.stats() }),
      purge: async ({ path }) => ({ removed: await server.purge({ path }) }),
    },
    close: () => server.close(),
  }
})
