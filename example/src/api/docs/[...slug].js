// A named catch-all: /api/docs/guide/intro → req.params.slug === "guide/intro".
export default function docs(req, res) {
  res.json({ route: 'docs/[...slug]', params: req.params })
}
