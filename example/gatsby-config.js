'use strict'

/** @type {import('gatsby').GatsbyConfig} */
module.exports = {
  siteMetadata: {
    title: 'gatsby-dsg example',
    description: 'A Gatsby 5 site with deferred (DSG) pages, served by gatsby-dsg',
    siteUrl: 'https://example.gatsby-dsg.invalid',
  },
  // Used only when built and served with --prefix-paths (a test builds a copy that way).
  pathPrefix: '/site-prefix',
  // Gatsby 5's default; a test builds a copy with EXAMPLE_TRAILING_SLASH=never.
  trailingSlash: process.env.EXAMPLE_TRAILING_SLASH || 'always',
  // Partytown's proxy (`/__third-party-proxy?url=…`); a test builds a copy listing a loopback
  // server through EXAMPLE_PARTYTOWN_URLS (comma-separated).
  partytownProxiedURLs: (process.env.EXAMPLE_PARTYTOWN_URLS || '').split(',').filter(Boolean),
  headers: [
    {
      source: '/blog/*',
      headers: [{ key: 'x-example-section', value: 'blog' }],
    },
  ],
  plugins: [
    {
      // The plugin lives in this repository; Gatsby accepts an absolute path to a local plugin.
      resolve: require.resolve('../gatsby-plugin'),
      options: {
        defer: ['/guides/**'],
        exclude: ['/guides/keep-static/'],
      },
    },
  ],
}
