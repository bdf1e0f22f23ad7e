/**
 * An independent registry writer for tests: pushes buildTestImage() output
 * with plain undici requests (HEAD, POST + PUT monolithic upload, manifest
 * PUT). Not hoist's code, not skopeo.
 */
import { request } from 'undici';
import type { RunningRegistry } from './registry.js';
import { buildTestImage, type TestImage, type TestImageOptions, type TestLayer, type TestManifest } from './test-image.js';

export interface Credentials {
  username: string;
  password: string;
}

export function basicAuth(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

type RegistryLike = Pick<RunningRegistry, 'url' | 'dispatcher'> &
  Partial<Pick<RunningRegistry, 'auth' | 'username' | 'password' | 'tokenRealm' | 'tokenService'>>;

function ownCredentials(reg: RegistryLike): Credentials | undefined {
  return reg.username !== undefined && reg.password !== undefined ? { username: reg.username, password: reg.password } : undefined;
}

/**
 * Ask a token registry's token server for a token, the way a client does
 * (GET realm?service=S&scope=...&scope=...). `creds` defaults to the
 * registry's user; pass null for an anonymous request. Throws on non-200.
 */
export async function fetchToken(reg: RegistryLike, scopes: string[], creds?: Credentials | null): Promise<string> {
  if (reg.tokenRealm === undefined) throw new Error('fetchToken: not a token registry');
  const u = new URL(reg.tokenRealm);
  if (reg.tokenService !== undefined) u.searchParams.set('service', reg.tokenService);
  for (const s of scopes) u.searchParams.append('scope', s);
  const c = creds === null ? undefined : creds ?? ownCredentials(reg);
  const res = await request(u, {
    dispatcher: reg.dispatcher,
    headers: c ? { authorization: basicAuth(c) } : {},
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`token server answered ${res.statusCode}: ${text}`);
  const body = JSON.parse(text) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new Error(`token server answered without a token: ${text}`);
  return token;
}

/** The Authorization header value that lets the registry's own user do `actions` on `repo` (undefined without auth). */
export async function authorizationFor(reg: RegistryLike, repo: string, actions: string[] = ['pull', 'push']): Promise<string | undefined> {
  const auth = reg.auth ?? (reg.tokenRealm !== undefined ? 'token' : reg.username !== undefined ? 'htpasswd' : 'none');
  if (auth === 'none') return undefined;
  if (auth === 'htpasswd') {
    const c = ownCredentials(reg);
    if (!c) throw new Error('htpasswd registry without username/password');
    return basicAuth(c);
  }
  return `Bearer ${await fetchToken(reg, [`repository:${repo}:${actions.join(',')}`])}`;
}

export interface PushedTestImage {
  /** The image manifest's digest; with platforms, the first platform's. */
  manifestDigest: string;
  /** With platforms: the index (what the tag points at). */
  indexDigest?: string;
  /** The layers of manifestDigest's image. */
  layers: Array<{ digest: string; size: number; diffId: string }>;
  configDigest: string;
  // ---- extras ----
  /** The media type the tag points at (manifest or index). */
  mediaType: string;
  /** Every platform's manifest (one without platforms). */
  manifests: TestManifest[];
  /** The whole image, blobs included. */
  image: TestImage;
}

async function expectStatus(what: string, res: Awaited<ReturnType<typeof request>>, ok: number[]): Promise<void> {
  if (!ok.includes(res.statusCode)) {
    const text = await res.body.text().catch(() => '');
    throw new Error(`${what}: HTTP ${res.statusCode} ${text}`);
  }
  await res.body.dump();
}

/** Push one blob unless the repository has it: HEAD, then POST + PUT ?digest= with the whole body. */
export async function pushBlob(reg: RegistryLike, repo: string, digest: string, data: Buffer, authorization?: string): Promise<void> {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const head = await request(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', dispatcher: reg.dispatcher, headers });
  await head.body.dump();
  if (head.statusCode === 200) return;
  const start = await request(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', dispatcher: reg.dispatcher, headers });
  if (start.statusCode !== 202) return expectStatus(`POST blob upload ${repo}`, start, [202]);
  await start.body.dump();
  const location = start.headers.location;
  if (typeof location !== 'string') throw new Error('upload POST without a Location');
  const put = new URL(location, reg.url);
  put.searchParams.set('digest', digest);
  const res = await request(put, {
    method: 'PUT',
    dispatcher: reg.dispatcher,
    headers: { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
    body: data,
  });
  await expectStatus(`PUT blob ${digest}`, res, [201]);
}

/** PUT a manifest (or index) under `reference` (a tag or its digest); checks Docker-Content-Digest. */
export async function putManifest(
  reg: RegistryLike,
  repo: string,
  reference: string,
  m: { digest: string; mediaType: string; bytes: Buffer },
  authorization?: string,
): Promise<void> {
  const res = await request(`${reg.url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    dispatcher: reg.dispatcher,
    headers: { ...(authorization ? { authorization } : {}), 'content-type': m.mediaType },
    body: m.bytes,
  });
  const got = res.headers['docker-content-digest'];
  await expectStatus(`PUT manifest ${repo}:${reference}`, res, [201]);
  if (got !== m.digest) throw new Error(`PUT manifest ${repo}:${reference}: registry says ${String(got)}, we computed ${m.digest}`);
}

/** Build a test image (see TestImageOptions) and push it to `reg` as `repo:tag`. */
export async function pushTestImage(
  reg: RunningRegistry | RegistryLike,
  repo: string,
  tag: string,
  opts: TestImageOptions = {},
): Promise<PushedTestImage> {
  const image = await buildTestImage(repo, tag, opts);
  const authorization = await authorizationFor(reg, repo, ['pull', 'push']);
  for (const [digest, data] of image.blobs) await pushBlob(reg, repo, digest, data, authorization);
  if (image.index) {
    for (const m of image.manifests) await putManifest(reg, repo, m.digest, m, authorization);
    await putManifest(reg, repo, tag, image.index, authorization);
  } else {
    await putManifest(reg, repo, tag, image.manifests[0]!, authorization);
  }
  const first = image.manifests[0]!;
  const out: PushedTestImage = {
    manifestDigest: first.digest,
    layers: first.layers.map((l: TestLayer) => ({ digest: l.digest, size: l.size, diffId: l.diffId })),
    configDigest: first.configDigest,
    mediaType: image.index?.mediaType ?? first.mediaType,
    manifests: image.manifests,
    image,
  };
  if (image.index) out.indexDigest = image.index.digest;
  return out;
}
