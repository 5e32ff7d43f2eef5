import * as React from 'react'

// getServerData throws: the response is a 500 with public/500.html.
export default function SsrThrowsPage() {
  return <h1>never rendered</h1>
}

export async function getServerData() {
  throw new Error('getServerData of /ssr/throws/ failed on purpose')
}
