// A [param] route: /api/users/42 → req.params.id === "42".
export default function user(req, res) {
  res.json({ route: 'users/[id]', params: req.params })
}
