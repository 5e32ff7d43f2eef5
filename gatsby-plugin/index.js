// Gatsby requires a plugin's main module to exist; everything lives in gatsby-node.js.
