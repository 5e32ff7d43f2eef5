import * as React from 'react'
import Layout from '../../components/layout'

// An SSR page with a matchPath (/ssr/:param): `params.param` is the second path segment.
export default function SsrParamPage({ serverData }) {
  return (
    <Layout kind="ssr-param">
      <h1>{`SSR param ${serverData.param}`}</h1>
      <p className="query">{`query: ${JSON.stringify(serverData.query)}`}</p>
    </Layout>
  )
}

export const Head = ({ serverData }) => <title>{`SSR param ${serverData.param}`}</title>

export async function getServerData({ params, query }) {
  return { props: { param: params.param, query } }
}
