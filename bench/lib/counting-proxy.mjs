// A plain-HTTP reverse proxy in front of a benchmark registry that counts
// what crosses it: every request's method, path, status and the body bytes
// each way (uploaded: request bodies; downloaded: response bodies). The Host
// header goes through unchanged, so the registry's upload Locations point
// back at the proxy and every byte of a push or pull is seen here.
import { request as httpRequest, createServer } from 'node:http';

export async function startCountingProxy(targetHost) {
  const [targetName, targetPort] = targetHost.split(':');
  let log = [];
  const server = createServer((req, res) => {
    const entry = { method: req.method, url: req.url, status: 0, up: 0, down: 0 };
    log.push(entry);
    const upstream = httpRequest({ host: targetName, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      entry.status = answer.statusCode ?? 0;
      res.writeHead(entry.status, answer.rawHeaders);
      answer.on('data', (chunk) => (entry.down += chunk.length));
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.on('data', (chunk) => (entry.up += chunk.length));
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${server.address().port}`,
    /** The requests since the last take(), and a fresh log from now. */
    take() {
      const taken = log;
      log = [];
      return taken;
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** What a list of requests moved: bytes each way, blob downloads, blob uploads (bodies of PUT/PATCH to an upload), cross-repo mounts answered 201. */
export function traffic(requests) {
  const sum = (rs, f) => rs.reduce((n, r) => n + r[f], 0);
  const blobGets = requests.filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.url));
  const uploads = requests.filter((r) => (r.method === 'PUT' || r.method === 'PATCH') && /\/blobs\/uploads\//.test(r.url) && r.up > 0);
  const mounts = requests.filter((r) => r.method === 'POST' && /[?&]mount=/.test(r.url) && r.status === 201);
  return {
    requests: requests.length,
    downloaded: sum(requests, 'down'),
    uploaded: sum(requests, 'up'),
    blobGets: blobGets.length,
    blobBytesDownloaded: sum(blobGets, 'down'),
    uploads,
    mounts,
  };
}
