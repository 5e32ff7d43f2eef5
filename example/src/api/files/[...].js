// A catch-all route: /api/files/a/b.txt → req.params["*"] === "a/b.txt".
export default function files(req, res) {
  res.json({ route: 'files/[...]', params: req.params })
}
