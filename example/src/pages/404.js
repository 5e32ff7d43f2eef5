import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

export default function NotFoundPage({ data }) {
  return (
    <Layout kind="not-found">
      <h1>Page not found — gatsby-dsg example</h1>
      <p>Nothing lives at this address on {data.site.siteMetadata.title}.</p>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title="Page not found" siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query NotFoundPage {
    site {
      siteMetadata {
        title
      }
    }
  }
`
