/**
 * Cheap questions asked before real work: do these credentials log in (for
 * `hoist login`), and does a repository accept a push (before a build whose
 * result will be pushed). Both go through the same endpoint discovery and
 * auth challenge handling (basic or bearer token) as every other request.
 */
import { pushScope } from './auth.js';
import { readErrorBody, RegistryError, statusError } from './errors.js';
import type { RegistryHttp } from './registry-http.js';
import { discardBody, header } from './transport.js';

/**
 * GET /v2/ with the keychain's credential. Resolves when the registry
 * accepts it (or needs none); throws REGISTRY_UNAUTHORIZED when it refuses.
 */
export async function checkLogin(http: RegistryHttp, registry: string, signal?: AbortSignal): Promise<void> {
  const what = `log in to ${registry}`;
  let res;
  try {
    res = await http.request(registry, { method: 'GET', target: '/v2/', scopes: [], ...(signal ? { signal } : {}) }, what);
  } catch (err) {
    // A token service that refuses the credentials answers 401 itself.
    if (err instanceof RegistryError && err.status === 401) throw refused(registry, err);
    throw err;
  }
  if (res.status === 200) {
    await discardBody(res);
    return;
  }
  const error = statusError(what, registry, res.status, await readErrorBody(res.body));
  throw res.status === 401 ? refused(registry, error) : error;
}

function refused(registry: string, cause: RegistryError): RegistryError {
  return new RegistryError('REGISTRY_UNAUTHORIZED', `${registry} refused the username or password (${cause.message})`, {
    status: 401,
    ociErrors: cause.ociErrors,
    hint: 'check the username and password (or access token); nothing was stored',
    cause,
  });
}

/**
 * Start a blob upload session in `repository` and cancel it: the registry
 * is reachable and the credentials at hand may push there. Nothing is
 * stored: the session is deleted (a registry that cannot delete one lets it
 * expire).
 */
export async function checkPushAccess(http: RegistryHttp, registry: string, repository: string, signal?: AbortSignal): Promise<void> {
  const what = `push to ${registry}/${repository}`;
  const scopes = [pushScope(repository)];
  const sig = signal ? { signal } : {};
  const res = await http.request(
    registry,
    { method: 'POST', target: `/v2/${repository}/blobs/uploads/`, scopes, headers: { 'content-length': '0' }, ...sig },
    what,
  );
  if (res.status !== 202) throw statusError(what, registry, res.status, await readErrorBody(res.body));
  await discardBody(res);
  const location = header(res.headers, 'location');
  if (location === undefined || location === '') return;
  const cancel = await http
    .request(registry, { method: 'DELETE', target: new URL(location, res.url), scopes, retry: false, ...sig }, `cancel the upload session of ${what}`)
    .catch(() => undefined);
  if (cancel !== undefined) await discardBody(cancel);
}
