// The config export sets body-parser limits (Gatsby's default is 100kb). A POST counts itself in
// a process-wide counter before answering; GET reports the counter, so a test can prove that a
// body over the limit never reached this function.
export const config = {
  bodyParser: {
    json: { limit: '1kb' },
    text: { limit: '1kb' },
  },
}

export default function smallBody(req, res) {
  globalThis.__smallBodyRuns = globalThis.__smallBodyRuns || 0
  if (req.method === 'GET') {
    res.json({ runs: globalThis.__smallBodyRuns })
    return
  }
  globalThis.__smallBodyRuns += 1
  res.json({ runs: globalThis.__smallBodyRuns, received: req.body })
}
