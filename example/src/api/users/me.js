// An exact route that a matchPath (users/[id]) would also match: the exact one wins.
export default function me(req, res) {
  res.json({ route: 'users/me' })
}
