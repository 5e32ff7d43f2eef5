// Sets a cookie and redirects, as a login endpoint would.
export default function login(req, res) {
  res.setHeader('Set-Cookie', 'session=abc123; Path=/; HttpOnly')
  res.redirect(302, req.query.to || '/api/hello')
}
