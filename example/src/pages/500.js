import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

// Gatsby builds this page to public/500.html; gatsby-dsg answers a failed render with it.
export default function ServerErrorPage({ data }) {
  return (
    <Layout kind="server-error">
      <h1>Something went wrong — gatsby-dsg example</h1>
      <p>This page of {data.site.siteMetadata.title} could not be generated. Try again later.</p>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title="Server error" siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query ServerErrorPage {
    site {
      siteMetadata {
        title
      }
    }
  }
`
