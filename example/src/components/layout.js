import * as React from 'react'
import { Link } from 'gatsby'

export default function Layout({ kind, children }) {
  return (
    <div className="site" data-page-kind={kind}>
      <header>
        <Link to="/">gatsby-dsg example</Link>
      </header>
      <main>{children}</main>
      <footer>
        <Link to="/about/">About this site</Link>
      </footer>
    </div>
  )
}
