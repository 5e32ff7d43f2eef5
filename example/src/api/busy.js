// Blocks the functions process's event loop for ?ms= milliseconds (default: for ever), as a
// runaway loop would: the server replaces that process and keeps serving everything else.
export default function busy(req, res) {
  const until = Date.now() + Number(req.query.ms || Infinity)
  while (Date.now() < until) {
    // spin
  }
  res.json({ busy: false })
}
