/** Small raw-HTTP helpers for the registry-infra tests (plain undici, nothing from hoist). */
import { request, type Dispatcher } from 'undici';

export interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export async function http(
  url: string,
  opts: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: Buffer | string; dispatcher?: Dispatcher } = {},
): Promise<Got> {
  const res = await request(url, {
    method: opts.method ?? 'GET',
    headers: opts.headers ?? {},
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

export function header(g: Got, name: string): string | undefined {
  const v = g.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Parse `Bearer realm="...",service="...",scope="..."` (or Basic) into its scheme and params. */
export function parseChallenge(h: string): { scheme: string; params: Record<string, string> } {
  const m = /^(\S+)\s+(.*)$/.exec(h.trim());
  if (!m) throw new Error(`bad challenge ${h}`);
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)="([^"]*)"/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!)) !== null) params[p[1]!] = p[2]!;
  return { scheme: m[1]!, params };
}

export function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, c] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(c!, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

export const ACCEPT_ALL_MANIFESTS = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
