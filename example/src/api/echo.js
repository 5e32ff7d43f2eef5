// /api/echo, any method: returns what Gatsby's middleware chain made of the request (cookies,
// body parsed by content type, uploaded files), so tests can compare it with what they sent.
export default function echo(req, res) {
  const files = (req.files || []).map((f) => ({
    fieldname: f.fieldname,
    originalname: f.originalname,
    mimetype: f.mimetype,
    size: f.size,
    text: f.buffer.toString('utf8'),
  }))
  const body = Buffer.isBuffer(req.body) ? { raw: req.body.toString('base64') } : req.body
  res.status(200).json({
    method: req.method,
    query: req.query,
    params: req.params,
    cookies: req.cookies || {},
    contentType: req.headers['content-type'] || null,
    body: body === undefined ? null : body,
    files,
  })
}
