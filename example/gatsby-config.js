"use strict";

/** @type {import('gatsby').GatsbyConfig} */
module.exports = {
  siteMetadata: {
    title: "gatsby-dsg example",
    description: "A Gatsby 5 site with deferred (DSG) pages, served by gatsby-dsg",
    siteUrl: "https://example.gatsby-dsg.invalid",
  },
  plugins: [
    {
      // The plugin lives in this repository; Gatsby accepts an absolute path to a local plugin.
      resolve: require.resolve("../gatsby-plugin"),
      options: {
        defer: ["/guides/**"],
        exclude: ["/guides/keep-static/"],
      },
    },
  ],
};
