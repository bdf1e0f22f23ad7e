import { HoistError } from '../errors.js';
import { parseReference, type Reference } from '../oci/index.js';

/**
 * Where an image is read from or written to, in skopeo's spelling:
 * `oci-layout:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:TAG]`,
 * `docker://REF`, or a bare registry reference.
 */
export type ImageLocation =
  | { kind: 'oci-layout'; path: string; tag: string | undefined }
  | { kind: 'oci-archive'; path: string; tag: string | undefined }
  | { kind: 'docker-archive'; path: string; tag: string | undefined }
  | { kind: 'registry'; ref: Reference };

const LOCAL_TRANSPORTS = ['oci-layout', 'oci-archive', 'docker-archive'] as const;

/**
 * `PATH[:REF]`, split at the first colon as skopeo does: the path cannot
 * contain one, the reference may (`docker-archive:out.tar:app:1.0`).
 */
function splitPathTag(rest: string): { path: string; tag: string | undefined } {
  const colon = rest.indexOf(':');
  if (colon < 0) return { path: rest, tag: undefined };
  const tag = rest.slice(colon + 1);
  return { path: rest.slice(0, colon), tag: tag === '' ? undefined : tag };
}

export function parseImageLocation(text: string): ImageLocation {
  for (const transport of LOCAL_TRANSPORTS) {
    if (text.startsWith(`${transport}:`)) {
      const { path, tag } = splitPathTag(text.slice(transport.length + 1));
      if (path === '') {
        throw new HoistError('BAD_LOCATION', `${JSON.stringify(text)}: the path is missing`, { hint: `write ${transport}:PATH[:TAG]` });
      }
      return { kind: transport, path, tag };
    }
  }
  const refText = text.startsWith('docker://') ? text.slice('docker://'.length) : text;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(refText) || (refText.includes(':') && /^(oci|containers-storage|dir|docker-daemon):/.test(refText))) {
    throw new HoistError('BAD_LOCATION', `unsupported image location ${JSON.stringify(text)}`, {
      hint: 'use oci-layout:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, or a registry reference such as docker://registry.example.com/app:1.0',
    });
  }
  try {
    return { kind: 'registry', ref: parseReference(refText) };
  } catch (err) {
    throw new HoistError('BAD_REFERENCE', `invalid image reference ${JSON.stringify(text)}: ${(err as Error).message}`, {
      hint: 'write a reference like busybox:1.36, registry.example.com/team/app@sha256:..., or a transport-prefixed path',
      cause: err,
    });
  }
}

export function formatImageLocation(loc: ImageLocation): string {
  return loc.kind === 'registry' ? loc.ref.string() : `${loc.kind}:${loc.path}${loc.tag ? `:${loc.tag}` : ''}`;
}
