import * as React from 'react'
import { graphql, Link } from 'gatsby'
import Layout from '../components/layout'
import Seo from '../components/seo'

// Links to a sample of every kind of page (not all of them: the site can have 10000 posts).
export default function IndexPage({ data }) {
  const { posts, korean, guides, products } = data
  return (
    <Layout kind="index">
      <h1>gatsby-dsg example site</h1>
      <p className="slug">slug: index</p>
      <p>
        {posts.totalCount} blog posts, {guides.totalCount} guides and {products.totalCount} products. Posts with an even
        number, the Korean post, the guides (except one), the products, the broken page and the app are deferred: they
        are rendered on first request.
      </p>

      <h2>Blog posts</h2>
      <ul className="posts">
        {posts.nodes.map((post) => (
          <li key={post.slug}>
            <Link to={`/blog/${post.slug}/`}>{post.title}</Link> ({post.index % 2 === 0 ? 'deferred' : 'static'})
          </li>
        ))}
        <li>
          <Link to={`/blog/${korean.slug}/`}>{korean.title}</Link> (deferred)
        </li>
      </ul>

      <h2>Guides (deferred by the plugin's glob)</h2>
      <ul className="guides">
        {guides.nodes.map((guide) => (
          <li key={guide.slug}>
            <Link to={`/guides/${guide.slug}/`}>{guide.title}</Link>
          </li>
        ))}
        <li>
          <Link to="/guides/keep-static/">Guide kept static</Link> (excluded from the glob: static)
        </li>
      </ul>

      <h2>Products (File System Route, deferred by config())</h2>
      <ul className="products">
        {products.nodes.map((product) => (
          <li key={product.slug}>
            <Link to={product.gatsbyPath}>{product.name}</Link>
          </li>
        ))}
      </ul>

      <h2>Other pages</h2>
      <ul className="other">
        <li>
          <Link to="/app/">App shell</Link> and <Link to="/app/anything/">a client route inside it</Link> (deferred,
          matchPath /app/*)
        </li>
        <li>
          <Link to="/broken/">A page whose template throws</Link> (deferred)
        </li>
        <li>
          <Link to="/about/">About</Link> (static)
        </li>
        <li>
          <Link to="/no-such-page/">A missing page</Link>
        </li>
      </ul>
    </Layout>
  )
}

export const Head = ({ data }) => <Seo title="Home" siteTitle={data.site.siteMetadata.title} />

export const query = graphql`
  query IndexPage {
    site {
      siteMetadata {
        title
      }
    }
    posts: allBlogPost(sort: { index: ASC }, limit: 10) {
      totalCount
      nodes {
        index
        slug
        title
      }
    }
    korean: blogPost(slug: { eq: "안녕하세요" }) {
      slug
      title
    }
    guides: allGuide(sort: { slug: ASC }, limit: 5) {
      totalCount
      nodes {
        slug
        title
      }
    }
    products: allProduct(sort: { slug: ASC }, limit: 5) {
      totalCount
      nodes {
        slug
        name
        gatsbyPath(filePath: "/products/{Product.slug}")
      }
    }
  }
`
