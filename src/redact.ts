/**
 * The one credential redactor: everything hoist prints, writes into an
 * image or a report, or puts in an error message passes through here when
 * it may hold a credential. A leaf: it imports nothing from the project.
 *
 * What is masked, and how (BuildKit's urlutil.RedactCredentials mask):
 * - URL userinfo: `https://user:pass@host` -> `https://xxxxx:xxxxx@host`,
 *   `https://token@host` -> `https://xxxxx@host`, `https://:pass@host` ->
 *   `https://:xxxxx@host`.
 * - Reference-style userinfo without a scheme: `user:pass@host/x` ->
 *   `xxxxx:xxxxx@host/x` (a digest after `@` is left alone).
 * - Authorization values: `Basic <b64>`, `Bearer <token>` -> `Basic xxxxx`.
 * - Known secrets, wherever they appear: the passwords, tokens and identity
 *   tokens actually in use, given by whoever holds them (also their base64
 *   `user:pass` form and their URL-encoded form).
 */

export const MASK = 'xxxxx';

/** Shorter secrets are not searched for in free text: they would mask every other word. */
const MIN_SECRET_LENGTH = 4;

/** `url` as BuildKit's RedactCredentials shows it; text that is not a URL is returned as is. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(url.toString());
  } catch {
    return redactText(url.toString());
  }
  if (u.username === '' && u.password === '') return u.href;
  if (u.username !== '') u.username = MASK;
  if (u.password !== '') u.password = MASK;
  return u.href;
}

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  if (colon < 0) return MASK;
  return `${colon === 0 ? '' : MASK}:${MASK}`;
}

// scheme://userinfo@ — userinfo stops at '/', whitespace, quotes and '@'.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s@"'<>]*)@/gi;
// user:pass@host without a scheme, at the start of a word; not `name:tag@sha256:...`.
const REF_USERINFO = /(^|[\s"'(=,])([^\s"'/@:()[\]]+:[^\s"'/@()[\]]+)@(?![A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})(?=[A-Za-z0-9[])/g;
// An Authorization value; a challenge parameter (`Bearer realm="..."`) is not one.
const AUTH_VALUE = /\b(basic|bearer)(\s+)([A-Za-z0-9._~+/-]+=*)/gi;

/** `text` with URL and reference userinfo, Authorization values and every known secret masked. */
export function redactText(text: string, secrets: Iterable<string> = []): string {
  let out = text
    .replace(URL_USERINFO, (_m, scheme: string, userinfo: string) => (userinfo === '' ? `${scheme}@` : `${scheme}${maskUserinfo(userinfo)}@`))
    .replace(REF_USERINFO, (_m, lead: string, userinfo: string) => `${lead}${maskUserinfo(userinfo)}@`)
    .replace(AUTH_VALUE, (m, scheme: string, space: string, value: string, offset: number, whole: string) => {
      const next = whole[offset + m.length] ?? '';
      const isParam = /^[a-z_]+=$/i.test(value) && (next === '"' || /\w/.test(next));
      return isParam || value === MASK ? m : `${scheme}${space}${MASK}`;
    });
  for (const secret of expandSecrets(secrets)) out = out.split(secret).join(MASK);
  return out;
}

/** The forms a secret may take in text, longest first so that a longer form is masked whole. */
function expandSecrets(secrets: Iterable<string>): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    forms.add(s);
    const encoded = encodeURIComponent(s);
    if (encoded !== s) forms.add(encoded);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** The strings a basic credential shows up as: the password and the `user:pass` base64 an Authorization header carries. */
export function basicSecrets(username: string, password: string): string[] {
  return [password, Buffer.from(`${username}:${password}`, 'utf8').toString('base64')];
}

/** Whether a reference-like string carries userinfo (`user:pass@host/...`, `user@host/...`) before its first '/'. */
export function hasUserinfo(reference: string): boolean {
  const slash = reference.indexOf('/');
  const first = slash < 0 ? reference : reference.slice(0, slash);
  const at = first.indexOf('@');
  // `name@sha256:...` (no slash) is a digest, not userinfo; `[fe80::1%@zone]` is an IPv6 zone.
  return at >= 0 && !first.slice(0, at).includes('[') && (slash >= 0 || !/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(first.slice(at + 1)));
}

/** `reference` with the userinfo {@link hasUserinfo} found masked: `xxxxx:xxxxx@host/x:1`. */
export function maskReferenceUserinfo(reference: string): string {
  if (!hasUserinfo(reference)) return reference;
  const at = reference.indexOf('@');
  return `${maskUserinfo(reference.slice(0, at))}${reference.slice(at)}`;
}
