#!/usr/bin/env node
'use strict'
let cli
try {
  cli = require('../lib/cli')
} catch (error) {
  // No addon for this platform: its message says which platform, and what to do; a stack adds nothing.
  if (error && error.code === 'ERR_GATSBY_DSG_NO_ADDON') {
    console.error(error.message)
    process.exit(1)
  }
  throw error
}
cli.main()
