import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

// A deferred page whose query makes an image at render time: the `image` resolver (createResolvers
// in gatsby-node.js) writes a PNG into public/static/ while the query runs, as Gatsby's image jobs
// do, and this page links it.
export default function GalleryTemplate({ data }) {
  const photo = data.photo
  return (
    <Layout kind="gallery">
      <h1>{photo.title}</h1>
      <img
        className="photo"
        src={photo.image.url}
        width={photo.image.width}
        height={photo.image.height}
        alt={photo.title}
      />
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title={data.photo.title} siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query GalleryById($id: String!) {
    site {
      siteMetadata {
        title
      }
    }
    photo(id: { eq: $id }) {
      title
      image {
        url
        width
        height
      }
    }
  }
`
