// A static function: /api/hello. Answers JSON with what Express parsed from the request.
export default function hello(req, res) {
  res.json({ hello: 'world', method: req.method, query: req.query })
}
