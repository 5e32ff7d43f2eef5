import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

// A deferred page with a matchPath (/app/*): one page serves every /app/... URL.
export default function AppTemplate({ data, location }) {
  return (
    <Layout kind="app">
      <h1>App shell</h1>
      <p className="slug">slug: app</p>
      <p className="location">{`location: ${location ? location.pathname : '(none)'}`}</p>
      <p>{`Client-side app of ${data.site.siteMetadata.title}, serving ${data.allProduct.totalCount} products.`}</p>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title="App shell" siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query AppPage {
    site {
      siteMetadata {
        title
      }
    }
    allProduct {
      totalCount
    }
  }
`
