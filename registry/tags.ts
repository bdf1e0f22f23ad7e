/**
 * Tag listing with pagination: `GET /v2/<repo>/tags/list?n=N` and then every
 * `Link: <...>; rel="next"` until there is none (RFC 8288; the next URL may
 * be relative and carries `last=`).
 */
import { pullScope } from './auth.js';
import { readErrorBody, RegistryError, statusError } from './errors.js';
import type { RegistryHttp } from './registry-http.js';
import { readDocument } from './transport.js';

/** Guard against a registry that links to itself forever. */
const MAX_PAGES = 10_000;
const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/** The `rel="next"` target of a Link header, if any. */
export function nextLink(value: string | string[] | undefined): string | undefined {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const v of values) {
    for (const m of v.matchAll(/<([^>]*)>([^,]*)/g)) {
      for (const param of (m[2] ?? '').split(';')) {
        const eq = param.indexOf('=');
        if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'rel') continue;
        const rels = param.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase().split(/\s+/);
        if (rels.includes('next')) return m[1];
      }
    }
  }
  return undefined;
}

export async function listTags(
  http: RegistryHttp,
  registry: string,
  repository: string,
  options: { pageSize?: number; signal?: AbortSignal } = {},
): Promise<string[]> {
  const what = `list tags of ${registry}/${repository}`;
  let target: string | URL = `/v2/${repository}/tags/list${options.pageSize === undefined ? '' : `?n=${options.pageSize}`}`;
  const tags: string[] = [];
  const seen = new Set<string>();
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await http.request(
      registry,
      {
        method: 'GET',
        target,
        scopes: [pullScope(repository)],
        headers: { accept: 'application/json' },
        ...(options.signal ? { signal: options.signal } : {}),
      },
      what,
    );
    if (res.status !== 200) throw statusError(what, registry, res.status, await readErrorBody(res.body));
    const text = (
      await readDocument(res, { what, registry }, MAX_PAGE_BYTES, () => new RegistryError('REGISTRY_PROTOCOL', `${what}: a page is larger than ${MAX_PAGE_BYTES} bytes`))
    ).toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new RegistryError('REGISTRY_PROTOCOL', `${what}: the answer is not JSON`);
    }
    const list = (doc as { tags?: unknown } | null)?.tags;
    if (list !== null && list !== undefined && !Array.isArray(list)) {
      throw new RegistryError('REGISTRY_PROTOCOL', `${what}: "tags" is not a list`);
    }
    for (const t of list ?? []) if (typeof t === 'string' && !seen.has(t)) (seen.add(t), tags.push(t));
    const next = nextLink(res.headers.link);
    if (next === undefined) return tags;
    target = new URL(next, res.url);
  }
  throw new RegistryError('REGISTRY_PROTOCOL', `${what}: more than ${MAX_PAGES} pages`);
}
