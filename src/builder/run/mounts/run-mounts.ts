/**
 * `RUN --mount` options as BuildKit reads them (dockerfile2llb's
 * instructions/commands_runmount.go), typed per mount type with BuildKit's
 * defaults filled in. Pure: the grammar comes from
 * src/dockerfile/instructions/mount.ts, and plan validation has already
 * checked sharing, uid, gid, mode and `required`'s placement.
 */
import { posix } from 'node:path';
import { DockerfileError } from '../../../dockerfile/errors.js';
import { parseMountSpec } from '../../../dockerfile/instructions/mount.js';
import type { SourceLocation } from '../../../errors.js';

export type CacheSharing = 'shared' | 'private' | 'locked';

interface Owned {
  uid: number;
  gid: number;
  mode: number;
}

export type RunMount =
  /** `from`: a stage name or an image; undefined: the build context. `source`: a path in it. */
  | { type: 'bind'; target: string; from: string | undefined; source: string; readonly: boolean }
  | ({ type: 'cache'; target: string; id: string; sharing: CacheSharing; from: string | undefined; source: string; readonly: boolean } & Owned)
  | { type: 'tmpfs'; target: string; sizeBytes: number | undefined }
  /** `target` undefined: the secret is only in the variable `env` (BuildKit 0.13). */
  | ({ type: 'secret'; id: string; target: string | undefined; env: string | undefined; required: boolean } & Owned)
  | ({ type: 'ssh'; id: string; target: string; required: boolean } & Owned);

function mountError(message: string, location: SourceLocation, hint: string): DockerfileError {
  return new DockerfileError('RUN_MOUNT_INVALID', `RUN --mount: ${message}`, location, { hint });
}

/** A bare `rw` or `rw=true`: BuildKit's strconv.ParseBool. */
function flag(value: string | undefined, key: string, location: SourceLocation): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === '' || /^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw mountError(`invalid value for ${key}: ${JSON.stringify(value)}`, location, `write ${key} or ${key}=true|false`);
}

/** BuildKit's go-units RAMInBytes: `64m`, `1g`, `512kb`, a plain number of bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(text.trim());
  if (m === null) return undefined;
  const power = ' kmgtp'.indexOf((m[2] ?? '').toLowerCase() || ' ');
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** The options of one `--mount` of the RUN at `location`; relative targets are taken from `workdir`, as BuildKit does. */
export function parseRunMount(text: string, workdir: string, location: SourceLocation, sshIndex = 0): RunMount {
  let spec: ReturnType<typeof parseMountSpec>;
  try {
    spec = parseMountSpec(text);
  } catch (err) {
    throw mountError((err as Error).message, location, 'write --mount=type=bind|cache|tmpfs|secret|ssh,target=PATH[,option=value...]');
  }
  const o = spec.options;
  const get = (...keys: string[]): string | undefined => keys.map((k) => o.get(k)).find((v) => v !== undefined);
  const rawTarget = get('target', 'dst', 'destination');
  const target = rawTarget === undefined || rawTarget === '' ? undefined : posix.resolve(workdir, rawTarget);
  const readonlyFlag = flag(get('readonly', 'ro'), 'readonly', location);
  const readwriteFlag = flag(get('readwrite', 'rw'), 'rw', location);
  const readonlyOr = (dflt: boolean): boolean => (readwriteFlag !== undefined ? !readwriteFlag : (readonlyFlag ?? dflt));
  const owned = (mode: number): Owned => ({
    uid: Number(o.get('uid') ?? 0),
    gid: Number(o.get('gid') ?? 0),
    mode: o.get('mode') !== undefined ? Number.parseInt(o.get('mode') as string, 8) : mode,
  });
  const needTarget = (): string => {
    if (target === undefined) throw mountError(`a ${spec.type} mount needs a target`, location, `add target=PATH, e.g. --mount=type=${spec.type},target=/path`);
    return target;
  };
  const source = get('source', 'src') ?? '';
  switch (spec.type) {
    case 'bind':
      return { type: 'bind', target: needTarget(), from: spec.from, source, readonly: readonlyOr(true) };
    case 'cache': {
      const t = needTarget();
      const id = o.get('id') || t;
      const sharing = (o.get('sharing') ?? 'shared').toLowerCase() as CacheSharing;
      return { type: 'cache', target: t, id, sharing, from: spec.from, source, readonly: readonlyOr(false), ...owned(0o755) };
    }
    case 'tmpfs': {
      const size = o.get('size');
      const sizeBytes = size === undefined ? undefined : parseSize(size);
      if (size !== undefined && sizeBytes === undefined) throw mountError(`invalid size ${JSON.stringify(size)}`, location, 'write size=BYTES, or with a unit: size=64m');
      return { type: 'tmpfs', target: needTarget(), sizeBytes };
    }
    case 'secret': {
      const env = o.get('env') || undefined;
      const id = o.get('id') || (target !== undefined ? posix.basename(target) : '');
      if (id === '') throw mountError('a secret mount needs an id (or a target to take it from)', location, 'add id=NAME and pass the secret with hoist build --secret id=NAME,src=FILE');
      // BuildKit 0.13: with env= and no target, the secret is a variable only.
      const secretTarget = target ?? (env === undefined ? `/run/secrets/${id}` : undefined);
      return { type: 'secret', id, target: secretTarget, env, required: flag(o.get('required'), 'required', location) ?? false, ...owned(0o400) };
    }
    case 'ssh':
      return {
        type: 'ssh',
        id: o.get('id') || 'default',
        target: target ?? `/run/buildkit/ssh_agent.${sshIndex}`,
        required: flag(o.get('required'), 'required', location) ?? false,
        ...owned(0o600),
      };
  }
}

/** Every `--mount` of a RUN, in the order they are mounted: a parent before what is mounted inside it (BuildKit sorts by target). */
export function parseRunMounts(texts: readonly string[], workdir: string, location: SourceLocation): RunMount[] {
  let ssh = 0;
  const mounts = texts.map((t) => {
    const m = parseRunMount(t, workdir, location, ssh);
    if (m.type === 'ssh') ssh++;
    return m;
  });
  return mounts
    .map((m, i) => ({ m, i }))
    .sort((a, b) => {
      const ta = a.m.target ?? '';
      const tb = b.m.target ?? '';
      return ta === tb ? a.i - b.i : ta < tb ? -1 : 1;
    })
    .map(({ m }) => m);
}
