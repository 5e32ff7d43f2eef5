import * as React from 'react'
import Layout from '../../components/layout'

// An SSR catch-all (/ssr-docs/*): `params["*"]` is the rest of the path.
export default function SsrSplatPage({ serverData }) {
  return (
    <Layout kind="ssr-splat">
      <h1>{`SSR docs ${serverData.splat}`}</h1>
    </Layout>
  )
}

export async function getServerData({ params }) {
  return { props: { splat: params['*'] } }
}
