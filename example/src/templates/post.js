import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

export default function BlogPostTemplate({ data }) {
  const post = data.blogPost
  return (
    <Layout kind="blog-post">
      <article>
        <h1>{post.title}</h1>
        <p className="slug">{`slug: ${post.slug}`}</p>
        <p className="meta">{`Published ${post.date} · revision ${post.revision}`}</p>
        {post.body.map((text, i) => (
          <p key={i}>{text}</p>
        ))}
      </article>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title={data.blogPost.title} siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query BlogPostById($id: String!) {
    site {
      siteMetadata {
        title
      }
    }
    blogPost(id: { eq: $id }) {
      index
      slug
      title
      date(formatString: "YYYY-MM-DD")
      revision
      body
    }
  }
`
