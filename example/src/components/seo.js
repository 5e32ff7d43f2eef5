import * as React from 'react'

export default function Seo({ title, siteTitle }) {
  return (
    <>
      <title>{`${title} | ${siteTitle}`}</title>
      <meta name="description" content={title} />
    </>
  )
}
