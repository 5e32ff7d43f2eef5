// Types of `gatsby-dsg/gatsby-plugin`, the Gatsby plugin. Its module exports nothing (Gatsby runs
// its gatsby-node.js); these types are for a typed gatsby-config:
//
//   import type { GatsbyConfig } from "gatsby"
//   import type { PluginOptions } from "gatsby-dsg/gatsby-plugin"
//   const config: GatsbyConfig = {
//     plugins: [
//       { resolve: "gatsby-dsg/gatsby-plugin", options: { defer: ["/blog/**"] } satisfies PluginOptions },
//     ],
//   }

/** Options of the plugin. Bad globs fail `gatsby build` through Gatsby's option validation. */
export interface PluginOptions {
  /**
   * Page-path globs to defer (DSG): `*` stays within one path segment, `**` crosses segments; a
   * glob matches with or without the trailing slash. Default `[]`.
   */
  defer?: string[]
  /** Globs never deferred by the plugin; they win over `defer`. Default `[]`. */
  exclude?: string[]
}

/** The plugin's entry in gatsby-config's `plugins`. */
export interface PluginEntry {
  resolve: 'gatsby-dsg/gatsby-plugin'
  options?: PluginOptions
}
