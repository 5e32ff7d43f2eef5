'use strict'
// A fresh Gatsby 5 site, written from scratch into a directory outside the repository, as a user
// would have it: gatsby + react from the npm registry, gatsby-dsg from a tarball, and the one
// gatsby-config entry. Nothing in it refers to the repository.

const fs = require('fs')
const path = require('path')

const NOTES = [
  { slug: 'first', title: 'First note', body: 'This note is deferred: it is rendered on its first request.' },
  { slug: 'second', title: 'Second note', body: 'This note is deferred too.' },
  { slug: 'pinned', title: 'Pinned note', body: 'Excluded from the defer globs: built ahead of time.' },
]

const PLUGIN_OPTIONS = { defer: ['/notes/**'], exclude: ['/notes/pinned/'] }

// The sharp stand-in: gatsby → gatsby-plugin-utils → gatsby-sharp → sharp, whose real install
// downloads libvips from outside the npm registry. A site without images needs none of it; `vendor`
// stops Gatsby's engine bundler from installing sharp itself.
const SHARP_STUB = `"use strict";
const platform = \`\${process.platform}-\${process.arch}\`;
function sharp() {
  throw new Error("sharp is stubbed out in this site (no image processing)");
}
sharp.simd = () => false;
sharp.concurrency = () => 1;
sharp.cache = () => ({ memory: {}, files: {}, items: {} });
sharp.counters = () => ({ queue: 0, process: 0 });
sharp.versions = { vips: "0.0.0-stub", sharp: "0.32.6" };
sharp.vendor = { current: platform, installed: [platform] };
sharp.format = {};
module.exports = sharp;
module.exports.default = sharp;
`

const FILES = {
  'package.json': `${JSON.stringify(
    {
      name: 'fresh-gatsby-site',
      version: '1.0.0',
      private: true,
      scripts: { build: 'gatsby build', develop: 'gatsby develop' },
      dependencies: { gatsby: '^5.16.1', react: '^18.3.1', 'react-dom': '^18.3.1' },
      overrides: { sharp: 'file:./stubs/sharp' },
    },
    null,
    2,
  )}\n`,
  'stubs/sharp/package.json': `${JSON.stringify({ name: 'sharp', version: '0.32.6', private: true, main: 'index.js' }, null, 2)}\n`,
  'stubs/sharp/index.js': SHARP_STUB,
  'gatsby-config.js': `module.exports = {
  siteMetadata: { title: "A fresh Gatsby site" },
  plugins: [
    {
      resolve: "gatsby-dsg/gatsby-plugin",
      options: ${JSON.stringify(PLUGIN_OPTIONS)},
    },
  ],
};
`,
  'gatsby-node.js': `const path = require("path");
const NOTES = ${JSON.stringify(NOTES, null, 2)};

exports.sourceNodes = ({ actions, createNodeId, createContentDigest }) => {
  for (const note of NOTES) {
    actions.createNode({
      ...note,
      id: createNodeId(\`Note-\${note.slug}\`),
      internal: { type: "Note", contentDigest: createContentDigest(note) },
    });
  }
};

exports.createPages = async ({ graphql, actions }) => {
  const result = await graphql("{ allNote { nodes { id slug } } }");
  if (result.errors) throw result.errors[0];
  for (const note of result.data.allNote.nodes) {
    actions.createPage({
      path: \`/notes/\${note.slug}/\`,
      component: path.resolve(__dirname, "src/templates/note.js"),
      context: { id: note.id },
    });
  }
};
`,
  'src/pages/index.js': `import * as React from "react";
import { Link } from "gatsby";

export default function Index() {
  return (
    <main>
      <h1>A fresh Gatsby site</h1>
      <ul>
${NOTES.map((n) => `        <li><Link to="/notes/${n.slug}/">${n.title}</Link></li>`).join('\n')}
      </ul>
    </main>
  );
}

export const Head = () => <title>A fresh Gatsby site</title>;
`,
  'src/templates/note.js': `import * as React from "react";
import { graphql, Link } from "gatsby";

export default function Note({ data }) {
  return (
    <main>
      <h1>{data.note.title}</h1>
      <p className="body">{data.note.body}</p>
      <Link to="/">Home</Link>
    </main>
  );
}

export const Head = ({ data }) => <title>{data.note.title}</title>;

export const query = graphql\`
  query NoteById($id: String!) {
    note(id: { eq: $id }) {
      title
      body
    }
  }
\`;
`,
}

/** Writes the site's files into `dir`. */
function writeFreshSite(dir) {
  for (const [relative, contents] of Object.entries(FILES)) {
    const file = path.join(dir, relative)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, contents)
  }
}

module.exports = { writeFreshSite, NOTES, PLUGIN_OPTIONS }
