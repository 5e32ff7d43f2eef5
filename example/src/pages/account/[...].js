import * as React from 'react'
import Layout from '../../components/layout'
import Seo from '../../components/seo'

// A client-only route: one SSG page answering every path under /account/ (matchPath
// /account/*, recorded by Gatsby in .cache/match-paths.json).
export default function AccountApp({ location }) {
  return (
    <Layout kind="account">
      <h1>Account app</h1>
      <p className="location">{`location: ${location ? location.pathname : '(none)'}`}</p>
    </Layout>
  )
}

export const Head = () => <Seo title="Account" siteTitle="gatsby-dsg example" />
