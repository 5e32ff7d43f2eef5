import * as React from 'react'
import Layout from '../../components/layout'

// getServerData sets the status and headers of the response (its cache-control overrides
// Gatsby's default).
export default function SsrCustomPage() {
  return (
    <Layout kind="ssr-custom">
      <h1>Accepted for processing</h1>
    </Layout>
  )
}

export async function getServerData() {
  return {
    status: 202,
    headers: { 'x-ssr-custom': 'yes', 'cache-control': 'private, max-age=10' },
    props: {},
  }
}
