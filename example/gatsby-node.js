'use strict'
// The example site's data and pages. All content is generated here (no source plugins), so the
// page count can be scaled for benchmarks:
//
//   EXAMPLE_PAGES     number of numbered blog posts (default 120; 2000 and 10000 work too)
//   EXAMPLE_REVISION  a label rendered on every blog post; change it to make a content-only
//                     rebuild (same code, different data)
//
// How each kind of page becomes deferred (DSG):
//   /blog/post-NNNNN/      createPage `defer: true` for even NNNNN; odd ones are SSG
//   /blog/안녕하세요/        createPage `defer: true` (non-ASCII path)
//   /guides/<slug>/        created WITHOUT `defer`; deferred by gatsby-dsg-plugin's `defer` glob,
//                          except /guides/keep-static/ (the plugin's `exclude` glob) which stays SSG
//   /products/<slug>/      File System Route whose template's `config()` returns `{ defer: true }`
//   /broken/               createPage `defer: true`; its template throws while rendering
//   /flaky/                createPage `defer: true`; throws only while a test sets a global
//   /app/ (matchPath /app/*)  createPage `defer: true`
//   /, /about/, /404/      SSG
//   /account/* (client-only routes of an SSG page, src/pages/account/[...].js)
//   /old-blog/ → /blog/post-00002/ (301) and /go-about/ → /about/ (302): createRedirect
//   /gallery/photo-NN/     createPage `defer: true`; its query's `image` resolver writes a PNG into
//                          public/static/<hash>/ during the render (as Gatsby's image jobs do)
//   /ssr/, /ssr/:param, /ssr-docs/*, /ssr/custom/, /ssr/throws/, /ssr/cached/
//                          SSR pages (src/pages/ssr*, getServerData)

const crypto = require('crypto')
const fs = require('fs')
const path = require('path')
const { rgbPng } = require('./src/png')

const KOREAN_SLUG = '안녕하세요'
const KEEP_STATIC_GUIDE = 'keep-static'
const GUIDE_COUNT = 20 // including keep-static
const PRODUCT_COUNT = 10
const PHOTO_COUNT = 24
const PHOTO_SIZE = 48

function postCount() {
  const raw = process.env.EXAMPLE_PAGES
  if (raw === undefined || raw === '') return 120
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`EXAMPLE_PAGES must be a positive integer, got ${JSON.stringify(raw)}`)
  }
  return n
}

const revision = () => process.env.EXAMPLE_REVISION || '1'

const WORDS = [
  'deferred',
  'static',
  'generation',
  'cache',
  'render',
  'engine',
  'query',
  'page',
  'data',
  'build',
  'request',
  'artifact',
  'server',
  'template',
  'node',
  'graph',
  'lazy',
  'first',
  'visit',
  'stale',
  'fresh',
  'bundle',
  'route',
  'path',
]

// Deterministic filler text, different for every seed.
function paragraph(seed, words = 60) {
  let x = (seed * 2654435761) >>> 0
  const out = []
  for (let i = 0; i < words; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0
    out.push(WORDS[x % WORDS.length])
  }
  const text = out.join(' ')
  return `${text[0].toUpperCase()}${text.slice(1)}.`
}

function pad(n, width) {
  return String(n).padStart(width, '0')
}

exports.sourceNodes = ({ actions, createNodeId, createContentDigest }) => {
  const { createNode } = actions
  const make = (type, key, fields) => {
    const node = {
      ...fields,
      id: createNodeId(`${type}-${key}`),
      parent: null,
      children: [],
      internal: { type, contentDigest: createContentDigest(fields) },
    }
    createNode(node)
  }

  const posts = postCount()
  const width = Math.max(5, String(posts).length)
  const rev = revision()
  for (let index = 0; index < posts; index += 1) {
    const slug = `post-${pad(index, width)}`
    make('BlogPost', slug, {
      index,
      slug,
      title: `Blog post ${index}`,
      date: new Date(Date.UTC(2023, 0, 1) + index * 3600 * 1000).toISOString(),
      revision: rev,
      body: [paragraph(index * 3 + 1), paragraph(index * 3 + 2), paragraph(index * 3 + 3)],
    })
  }
  make('BlogPost', KOREAN_SLUG, {
    index: posts,
    slug: KOREAN_SLUG,
    title: '안녕하세요 세계 (Korean post)',
    date: new Date(Date.UTC(2023, 0, 1)).toISOString(),
    revision: rev,
    body: ['이 페이지는 요청 시 생성됩니다 (deferred static generation).', paragraph(7)],
  })

  for (let i = 1; i < GUIDE_COUNT; i += 1) {
    const slug = `guide-${pad(i, 2)}`
    make('Guide', slug, { slug, title: `Guide ${i}`, summary: paragraph(10000 + i, 40) })
  }
  make('Guide', KEEP_STATIC_GUIDE, {
    slug: KEEP_STATIC_GUIDE,
    title: 'Guide kept static',
    summary: 'This guide matches the defer glob but is excluded, so it is built ahead of time.',
  })

  for (let i = 1; i <= PHOTO_COUNT; i += 1) {
    const slug = `photo-${pad(i, 2)}`
    make('Photo', slug, { slug, title: `Photo ${i}`, hue: (i * 47) % 360 })
  }

  for (let i = 1; i <= PRODUCT_COUNT; i += 1) {
    const slug = `product-${pad(i, 2)}`
    make('Product', slug, {
      slug,
      name: `Product ${i}`,
      price: 10 * i + 0.99,
      description: paragraph(20000 + i, 30),
    })
  }
}

exports.createSchemaCustomization = ({ actions }) => {
  actions.createTypes(`
    type BlogPost implements Node @dontInfer {
      index: Int!
      slug: String!
      title: String!
      date: Date! @dateformat
      revision: String!
      body: [String!]!
    }
    type Guide implements Node @dontInfer {
      slug: String!
      title: String!
      summary: String!
    }
    type Photo implements Node @dontInfer {
      slug: String!
      title: String!
      hue: Int!
    }
    type PhotoImage {
      url: String!
      width: Int!
      height: Int!
    }
    type Product implements Node @dontInfer {
      slug: String!
      name: String!
      price: Float!
      description: String!
    }
  `)
}

function hueToRgb(hue) {
  const f = (n) => {
    const k = (n + hue / 60) % 6
    return Math.round(255 * (1 - Math.max(0, Math.min(k, 4 - k, 1))))
  }
  return [f(5), f(3), f(1)]
}

// `Photo.image` is made when a query asks for it, like gatsby-plugin-sharp's gatsbyImageData:
// the PNG is written into public/static/<content hash>/ while the query runs (at request time for
// a deferred page), and the query resolves only once the file is complete. The working directory
// is the site (gatsby build and gatsby-dsg both run there). Gatsby's engine bundler (its asset
// relocator, @vercel/webpack-asset-relocator-loader) rewrites every path it can compute at build
// time and finds on disk into a path under the query engine's own assets: both
// `path.join(process.cwd(), 'public', …)` and `path.resolve('public', …)` were rewritten once
// public/static/ held photos of an earlier build (seen with gatsby 5.16.1), and the photos were
// written where nothing serves them. `fs.realpathSync('.')` is a call it does not evaluate, so the
// directory stays the site's public/static/ in every build.
exports.createResolvers = ({ createResolvers }) => {
  createResolvers({
    Photo: {
      image: {
        type: 'PhotoImage!',
        resolve: async (source) => {
          const colour = hueToRgb(source.hue)
          const png = rgbPng(PHOTO_SIZE, () => colour)
          const hash = crypto.createHash('md5').update(png).digest('hex')
          const dir = path.join(fs.realpathSync('.'), 'public', 'static', hash)
          const file = path.join(dir, `${source.slug}.png`)
          if (!fs.existsSync(file)) {
            await fs.promises.mkdir(dir, { recursive: true })
            const partial = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`
            await fs.promises.writeFile(partial, png)
            await fs.promises.rename(partial, file)
          }
          return { url: `/static/${hash}/${source.slug}.png`, width: PHOTO_SIZE, height: PHOTO_SIZE }
        },
      },
    },
  })
}

exports.createPages = async ({ graphql, actions, reporter }) => {
  const { createPage, createRedirect } = actions

  // Redirects (Gatsby writes them to .cache/redirects.json).
  createRedirect({ fromPath: '/old-blog/', toPath: '/blog/post-00002/', isPermanent: true })
  createRedirect({ fromPath: '/go-about/', toPath: '/about/' })

  const result = await graphql(`
    {
      allBlogPost(sort: { index: ASC }) {
        nodes {
          id
          index
          slug
        }
      }
      allGuide {
        nodes {
          id
          slug
        }
      }
      allPhoto {
        nodes {
          id
          slug
        }
      }
    }
  `)
  if (result.errors) {
    reporter.panicOnBuild('gatsby-dsg example: createPages query failed', result.errors)
    return
  }

  const postTemplate = path.resolve(__dirname, 'src/templates/post.js')
  for (const post of result.data.allBlogPost.nodes) {
    createPage({
      path: `/blog/${post.slug}/`,
      component: postTemplate,
      context: { id: post.id },
      defer: post.slug === KOREAN_SLUG || post.index % 2 === 0,
    })
  }

  // No `defer` here: gatsby-dsg-plugin's globs decide.
  const guideTemplate = path.resolve(__dirname, 'src/templates/guide.js')
  for (const guide of result.data.allGuide.nodes) {
    createPage({
      path: `/guides/${guide.slug}/`,
      component: guideTemplate,
      context: { id: guide.id },
    })
  }

  const galleryTemplate = path.resolve(__dirname, 'src/templates/gallery.js')
  for (const photo of result.data.allPhoto.nodes) {
    createPage({
      path: `/gallery/${photo.slug}/`,
      component: galleryTemplate,
      context: { id: photo.id },
      defer: true,
    })
  }

  createPage({
    path: '/broken/',
    component: path.resolve(__dirname, 'src/templates/broken.js'),
    defer: true,
  })

  createPage({
    path: '/flaky/',
    component: path.resolve(__dirname, 'src/templates/flaky.js'),
    defer: true,
  })

  createPage({
    path: '/app/',
    matchPath: '/app/*',
    component: path.resolve(__dirname, 'src/templates/app.js'),
    defer: true,
  })
}
