'use strict'
// Loopback ports for servers a test or the benchmark starts (gatsby-dsg, nginx, redis-server,
// `gatsby serve`). Not part of the package's API.

const net = require('net')

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick, bound then released):
 * another process may take it before the caller binds it, which loopback tests accept.
 */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

module.exports = { freePort }
