import * as React from 'react'
import { graphql } from 'gatsby'

// A deferred page whose component throws while rendering: the engine's renderPageData
// succeeds, renderHTML rejects. Used to test how the server handles render errors.
export default function BrokenTemplate({ data }) {
  if (data.site.siteMetadata.title) {
    throw new Error('boom from broken template')
  }
  return <h1>unreachable</h1>
}

export const query = graphql`
  query BrokenPage {
    site {
      siteMetadata {
        title
      }
    }
  }
`
