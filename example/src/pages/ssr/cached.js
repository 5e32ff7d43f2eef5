import * as React from 'react'
import Layout from '../../components/layout'

// An SSR response that allows shared caches to keep it (s-maxage): gatsby-dsg caches it in memory
// as a CDN would. The query string picks responses that must not be shared-cached (a cookie,
// `private`, `no-store`) and one that varies by Accept-Language. `renderId` is new for every render.
export default function SsrCachedPage({ serverData }) {
  return (
    <Layout kind="ssr-cached">
      <h1>Shared-cacheable SSR page</h1>
      <p className="render-id">{`render: ${serverData.renderId}`}</p>
      <p className="language">{`language: ${serverData.language}`}</p>
    </Layout>
  )
}

let renders = 0

export async function getServerData({ query, headers }) {
  renders += 1
  const cacheControl = query.private
    ? 'private, s-maxage=60'
    : query.nostore
      ? 'public, s-maxage=60, no-store'
      : `public, s-maxage=${query.maxage || 60}, stale-while-revalidate=30`
  const responseHeaders = { 'cache-control': cacheControl }
  if (query.cookie) responseHeaders['set-cookie'] = 'session=abc; Path=/; HttpOnly'
  if (query.vary) responseHeaders.vary = 'Accept-Language'
  return {
    headers: responseHeaders,
    props: {
      renderId: `${process.pid}-${renders}-${Math.random().toString(36).slice(2, 10)}`,
      language: headers.get('accept-language') || '(none)',
    },
  }
}
