import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

export default function GuideTemplate({ data }) {
  const guide = data.guide
  return (
    <Layout kind="guide">
      <article>
        <h1>{guide.title}</h1>
        <p className="slug">{`slug: ${guide.slug}`}</p>
        <p>{guide.summary}</p>
      </article>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title={data.guide.title} siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query GuideById($id: String!) {
    site {
      siteMetadata {
        title
      }
    }
    guide(id: { eq: $id }) {
      slug
      title
      summary
    }
  }
`
