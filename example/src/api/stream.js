// A streaming response: chunks written 50 ms apart, then ended.
export default function stream(req, res) {
  const count = Number(req.query.chunks || 5)
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.status(200)
  let sent = 0
  const tick = () => {
    res.write(`chunk ${sent}\n`)
    sent += 1
    if (sent < count) setTimeout(tick, 50)
    else res.end('done\n')
  }
  tick()
}
