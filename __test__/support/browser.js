'use strict'
// Headless Chromium from Debian's `chromium` package, driven by playwright-core (playwright's own
// browser download does not work here). `.ci/run` installs the package.

const fs = require('fs')
const { chromium } = require('playwright-core')

const CHROMIUM = '/usr/bin/chromium'

// Playwright adds `--headless` itself for `headless: true`; it is listed too so the flags are the
// whole story. Each launch gets a fresh, temporary user-data-dir from playwright (removed on close).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)`)
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
}

/**
 * A new browser context whose pages tell sites the user has turned on data saving (the
 * `saveData` of the Network Information API, Chromium's "Save-Data"). Gatsby's client then does
 * not prefetch the page-data of every <Link> in view, 4 links every 3 s: that background traffic
 * would make which deferred pages the server renders, and when, depend on timing. Navigation
 * itself is unchanged: hovering or clicking a <Link> still loads its page-data.
 */
async function newContextWithoutPrefetch(browser) {
  const context = await browser.newContext()
  await context.addInitScript(() => {
    if (typeof NetworkInformation !== 'undefined') {
      Object.defineProperty(NetworkInformation.prototype, 'saveData', { get: () => true, configurable: true })
    }
  })
  return context
}

/**
 * Records what a page does: its console errors and uncaught exceptions, and every response with
 * its headers as the browser saw them.
 */
function watch(page) {
  const record = { errors: [], responses: [], documents: [] }
  page.on('console', (message) => {
    if (message.type() === 'error') {
      const where = message.location() && message.location().url
      // Chromium asks every site for /favicon.ico by itself; the example site has none (as
      // under `gatsby serve`, it is a 404). That is the browser's request, not the page's.
      if (where && new URL(where).pathname === '/favicon.ico') return
      record.errors.push(`console.error: ${message.text()}${where ? ` (${where})` : ''}`)
    }
  })
  page.on('pageerror', (error) => record.errors.push(`uncaught: ${error.message}`))
  page.on('request', (request) => {
    if (request.resourceType() === 'document') record.documents.push(new URL(request.url()).pathname)
  })
  page.on('response', (response) => {
    record.responses.push({
      pathname: new URL(response.url()).pathname,
      status: response.status(),
      headers: response.headers(),
    })
  })
  return record
}

module.exports = { launchChromium, newContextWithoutPrefetch, watch, CHROMIUM, CHROMIUM_ARGS }
