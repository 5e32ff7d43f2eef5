import * as React from 'react'
import { graphql, Link } from 'gatsby'
import Layout from '../../components/layout'
import Seo from '../../components/seo'

// An SSR page (getServerData): rendered on every request, shows what the request carried.
export default function SsrRequestPage({ data, serverData }) {
  return (
    <Layout kind="ssr">
      <h1>Server-rendered page</h1>
      <p className="method">{`method: ${serverData.method}`}</p>
      <p className="url">{`url: ${serverData.url}`}</p>
      <p className="query">{`query: ${JSON.stringify(serverData.query)}`}</p>
      <p className="header">{`x-example-header: ${serverData.exampleHeader}`}</p>
      <p className="site">{`site: ${data.site.siteMetadata.title}`}</p>
      <p>
        <Link to="/ssr/first/">A matchPath SSR page</Link>
      </p>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title="SSR request" siteTitle={data.site.siteMetadata.title} />

export async function getServerData({ method, url, query, headers }) {
  return {
    props: { method, url, query, exampleHeader: headers.get('x-example-header') || '(none)' },
  }
}

export const query = graphql`
  query SsrRequestPage {
    site {
      siteMetadata {
        title
      }
    }
  }
`
