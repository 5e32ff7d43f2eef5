import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

export default function AboutPage({ data }) {
  return (
    <Layout kind="about">
      <h1>{`About ${data.site.siteMetadata.title}`}</h1>
      <p className="slug">slug: about</p>
      <p>{`${data.site.siteMetadata.description}. This page is built ahead of time (SSG).`}</p>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title="About" siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query AboutPage {
    site {
      siteMetadata {
        title
        description
      }
    }
  }
`
