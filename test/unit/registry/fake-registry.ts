/**
 * An in-memory OCI registry good enough for unit tests of the client:
 * ping, blob HEAD/GET (with Range), uploads (POST with mount, PATCH, PUT
 * with ?digest=), manifests GET/HEAD/PUT and paginated tag lists. Hooks let
 * a test change any answer; every request is recorded.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startServer, type LocalServer } from './local-server.js';

export interface FakeRegistry extends LocalServer {
  blobs: Map<string, Buffer>;
  /** repo -> set of blob digests linked in it */
  links: Map<string, Set<string>>;
  manifests: Map<string, { body: Buffer; mediaType: string }>;
  tags: Map<string, Map<string, string>>;
  /** Runs first; return true when it answered. */
  hook: ((req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean | Promise<boolean>) | undefined;
  /** Location style for upload sessions. */
  locationStyle: 'relative' | 'absolute';
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function ociError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message }] }));
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const uploads = new Map<string, { repo: string; data: Buffer[] }>();
  let reg: FakeRegistry;
  const link = (repo: string, digest: string): void => {
    if (!reg.links.has(repo)) reg.links.set(repo, new Set());
    reg.links.get(repo)?.add(digest);
  };
  const server = await startServer(async (req, res, body) => {
    if (reg.hook !== undefined && (await reg.hook(req, res, body))) return;
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    if (p === '/v2/') return void res.writeHead(200).end('{}');
    let m: RegExpExecArray | null;
    if ((m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(p))) {
      const repo = m[1] as string;
      const id = m[2] as string;
      if (req.method === 'POST') {
        const mount = url.searchParams.get('mount');
        const from = url.searchParams.get('from');
        if (mount !== null && from !== null && reg.links.get(from)?.has(mount) === true) {
          link(repo, mount);
          return void res.writeHead(201, { location: `/v2/${repo}/blobs/${mount}`, 'docker-content-digest': mount }).end();
        }
        const uuid = randomUUID();
        uploads.set(uuid, { repo, data: [] });
        const rel = `/v2/${repo}/blobs/uploads/${uuid}?_state=abc`;
        const location = reg.locationStyle === 'absolute' ? `${reg.url}${rel}` : rel;
        return void res.writeHead(202, { location, 'docker-upload-uuid': uuid, range: '0-0' }).end();
      }
      const up = uploads.get(id);
      if (up === undefined) return ociError(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown');
      if (url.searchParams.get('_state') !== 'abc') return ociError(res, 400, 'BLOB_UPLOAD_INVALID', 'lost _state');
      if (req.method === 'PATCH') {
        up.data.push(body);
        const rel = `/v2/${repo}/blobs/uploads/${id}?_state=abc`;
        return void res.writeHead(202, { location: rel, range: `0-${Buffer.concat(up.data).length - 1}` }).end();
      }
      if (req.method === 'PUT') {
        up.data.push(body);
        const data = Buffer.concat(up.data);
        const digest = url.searchParams.get('digest');
        if (digest !== sha256(data)) return ociError(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
        uploads.delete(id);
        reg.blobs.set(digest, data);
        link(repo, digest);
        return void res.writeHead(201, { location: `/v2/${repo}/blobs/${digest}`, 'docker-content-digest': digest }).end();
      }
    }
    if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(p))) {
      const [, repo = '', digest = ''] = m;
      const data = reg.blobs.get(digest);
      if (data === undefined || reg.links.get(repo)?.has(digest) !== true) return ociError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range !== null) {
        const start = Number(range[1]);
        res.writeHead(206, { 'content-length': data.length - start, 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` });
        return void res.end(req.method === 'HEAD' ? undefined : data.subarray(start));
      }
      res.writeHead(200, { 'content-length': data.length, 'docker-content-digest': digest });
      return void res.end(req.method === 'HEAD' ? undefined : data);
    }
    if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(p))) {
      const [, repo = '', id = ''] = m;
      if (req.method === 'PUT') {
        const digest = sha256(body);
        reg.manifests.set(digest, { body, mediaType: req.headers['content-type'] ?? '' });
        if (!id.startsWith('sha256:')) {
          if (!reg.tags.has(repo)) reg.tags.set(repo, new Map());
          reg.tags.get(repo)?.set(id, digest);
        }
        return void res.writeHead(201, { 'docker-content-digest': digest, location: `/v2/${repo}/manifests/${digest}` }).end();
      }
      const digest = id.startsWith('sha256:') ? id : reg.tags.get(repo)?.get(id);
      const man = digest === undefined ? undefined : reg.manifests.get(digest);
      if (man === undefined || digest === undefined) return ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.writeHead(200, { 'content-type': man.mediaType, 'content-length': man.body.length, 'docker-content-digest': digest });
      return void res.end(req.method === 'HEAD' ? undefined : man.body);
    }
    if ((m = /^\/v2\/(.+)\/tags\/list$/.exec(p))) {
      const repo = m[1] as string;
      const all = [...(reg.tags.get(repo)?.keys() ?? [])].sort();
      const n = Number(url.searchParams.get('n') ?? all.length);
      const last = url.searchParams.get('last');
      const rest = last === null ? all : all.filter((t) => t > last);
      const page = rest.slice(0, n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (rest.length > page.length) headers.link = `</v2/${repo}/tags/list?last=${page[page.length - 1]}&n=${n}>; rel="next"`;
      return void res.writeHead(200, headers).end(JSON.stringify({ name: repo, tags: page }));
    }
    ociError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${p}`);
  });
  reg = Object.assign(server, {
    blobs: new Map<string, Buffer>(),
    links: new Map<string, Set<string>>(),
    manifests: new Map<string, { body: Buffer; mediaType: string }>(),
    tags: new Map<string, Map<string, string>>(),
    hook: undefined,
    locationStyle: 'relative' as const,
  }) as FakeRegistry;
  return reg;
}

/** Put a blob straight into the fake (as if pushed earlier). */
export function seedBlob(reg: FakeRegistry, repo: string, data: Buffer): string {
  const digest = sha256(data);
  reg.blobs.set(digest, data);
  if (!reg.links.has(repo)) reg.links.set(repo, new Set());
  reg.links.get(repo)?.add(digest);
  return digest;
}
