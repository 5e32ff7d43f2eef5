/* global globalThis */
import * as React from 'react'
import { graphql } from 'gatsby'
import Layout from '../components/layout'

// A deferred page that renders until a test asks it to fail: the test's server process sets
// `globalThis.__gatsbyDsgExampleFail = true` (Gatsby's SSR engine runs in that process). Used to
// prove that a failed revalidation keeps serving the last good page.
export default function FlakyTemplate({ data }) {
  if (globalThis.__gatsbyDsgExampleFail) {
    throw new Error('flaky template asked to fail')
  }
  return (
    <Layout kind="flaky">
      <h1>Flaky page</h1>
      <p className="slug">slug: flaky</p>
      <p>{`Rendered for ${data.site.siteMetadata.title}.`}</p>
    </Layout>
  )
}

export const query = graphql`
  query FlakyPage {
    site {
      siteMetadata {
        title
      }
    }
  }
`
