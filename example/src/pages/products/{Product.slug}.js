import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../../components/layout'
import Seo from '../../components/seo'

// File System Route page, deferred through the template's config().
export default function ProductPage({ data }) {
  const product = data.product
  return (
    <Layout kind="product">
      <h1>{product.name}</h1>
      <p className="slug">{`slug: ${product.slug}`}</p>
      <p className="price">{`Price: $${product.price.toFixed(2)}`}</p>
      <p>{product.description}</p>
    </Layout>
  )
}

export async function config() {
  return ({ params }) => ({ defer: true })
}

export const Head = ({ data }) => <Seo title={data.product.name} siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query ProductById($id: String!) {
    site {
      siteMetadata {
        title
      }
    }
    product(id: { eq: $id }) {
      slug
      name
      price
      description
    }
  }
`
