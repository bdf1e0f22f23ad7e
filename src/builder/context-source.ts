/**
 * Where a build context comes from, as Kaniko's `--context` names it: a
 * directory (`dir://` optional), a tar archive (`tar://FILE`, or standard
 * input as `-` or `tar://stdin`; gzip, zstd or plain), or a git repository
 * (`git://host/repo.git[#ref[#commit]]` as Kaniko writes it, or
 * `https://host/repo.git#ref:subdir` as Docker and buildx do), cloned with
 * the git program.
 *
 * An archive is unpacked with the layer applier (snapshot/rootfs), so its
 * names are cleaned, `..` never climbs out of the directory and a symlink in
 * the archive is never written through. A sub-directory (`#ref:subdir`,
 * `--context-sub-path`) must stay inside what was unpacked or cloned.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';
import { fsError } from '../fs-errors.js';
import { redactUrl } from '../redact.js';

export type ContextSpec =
  | { kind: 'dir'; path: string }
  | { kind: 'tar'; path: string }
  | { kind: 'stdin' }
  | { kind: 'git'; url: string; ref?: string; commit?: string; subdir?: string };

const UNSUPPORTED_SCHEMES = new Set(['gs', 's3', 'az']);

/**
 * Read a `--context` value. `gitPullMethod` is Kaniko's GIT_PULL_METHOD
 * (`https` unless set to `http`), the scheme a `git://` context is cloned with.
 */
export function parseContextSpec(value: string, gitPullMethod = 'https'): ContextSpec {
  if (value === '-' || value === 'tar://stdin') return { kind: 'stdin' };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (/^git@[^:]+:/.test(value)) return gitSpec(value);
    return { kind: 'dir', path: value };
  }
  const rest = value.slice(scheme.length + 3);
  switch (scheme) {
    case 'dir':
      return { kind: 'dir', path: rest };
    case 'tar':
      if (rest === '') throw badContext(value, 'the archive path is missing');
      return { kind: 'tar', path: rest };
    case 'git': {
      // Kaniko: git://host/repo.git#refs/heads/main#<commit>, fetched over https (or GIT_PULL_METHOD).
      const method = gitPullMethod === 'http' ? 'http' : 'https';
      const [repo = '', ref, commit] = rest.split('#');
      if (repo === '') throw badContext(value, 'the repository is missing');
      return { kind: 'git', url: `${method}://${repo}`, ...(ref ? { ref } : {}), ...(commit ? { commit } : {}) };
    }
    case 'http':
    case 'https':
    case 'ssh':
    case 'file':
      if (scheme === 'file' || scheme === 'ssh' || isGitUrl(value)) return gitSpec(value);
      throw new HoistError('UNSUPPORTED_CONTEXT', `--context ${JSON.stringify(redactUrl(value))}: a remote archive context is not supported`, {
        hint: 'download the archive first and pass --context tar://FILE, or name a git repository (https://host/repo.git#ref:subdir)',
      });
    default:
      throw new HoistError('UNSUPPORTED_CONTEXT', `--context ${JSON.stringify(redactUrl(value))}: ${UNSUPPORTED_SCHEMES.has(scheme) ? 'cloud storage' : `the ${scheme}:// scheme`} is not supported`, {
        hint: 'use a directory, dir://DIR, tar://FILE.tar.gz, - (a tar.gz on standard input), git://host/repo.git#ref or https://host/repo.git#ref:subdir',
      });
  }
}

function isGitUrl(value: string): boolean {
  const beforeFragment = value.split('#')[0] ?? '';
  return /\.git\/?$/.test(beforeFragment) || value.includes('#');
}

/** Docker's form: URL#ref:subdir, either part optional. */
function gitSpec(value: string): ContextSpec {
  const at = value.indexOf('#');
  const url = at < 0 ? value : value.slice(0, at);
  const fragment = at < 0 ? '' : value.slice(at + 1);
  const colon = fragment.indexOf(':');
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  const subdir = colon < 0 ? '' : fragment.slice(colon + 1);
  return { kind: 'git', url, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}) };
}

function badContext(value: string, why: string): HoistError {
  return new HoistError('BAD_CONTEXT', `--context ${JSON.stringify(redactUrl(value))}: ${why}`, {
    hint: 'write --context DIR, tar://FILE.tar.gz, - or git://host/repo.git#ref',
  });
}

export interface OpenContextOptions {
  /** Scratch directory the unpacked or cloned context goes under. */
  tmpDir: string;
  /** Standard input, for `-` and `tar://stdin`. */
  stdin?: AsyncIterable<Uint8Array> | undefined;
  /** A directory inside the context to use instead of its root (Kaniko's `--context-sub-path`). */
  subPath?: string | undefined;
  /** Clone submodules too (Kaniko's `--git recurse-submodules=true`). */
  recurseSubmodules?: boolean | undefined;
  /** The environment git runs with (its credential helpers and proxy settings). */
  env?: NodeJS.ProcessEnv | undefined;
  /** Where the git program is looked for. */
  gitProgram?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface OpenedContext {
  dir: string;
  /** Removes what was unpacked or cloned; nothing for a directory. */
  cleanup: () => Promise<void>;
}

/** Make `spec` a directory on disk. */
export async function openContext(spec: ContextSpec, opts: OpenContextOptions): Promise<OpenedContext> {
  if (spec.kind === 'dir') return { dir: await insideRoot(spec.path, opts.subPath), cleanup: async () => {} };
  const scratch = await mkdtemp(path.join(opts.tmpDir, 'hoist-context-')).catch((err: unknown) => {
    throw fsError(err, opts.tmpDir, 'create a scratch directory in');
  });
  const cleanup = () => rm(scratch, { recursive: true, force: true });
  try {
    const root = path.join(scratch, 'context');
    if (spec.kind === 'git') {
      await cloneGit(spec, root, opts);
      return { dir: await insideRoot(root, joinSub(spec.subdir, opts.subPath)), cleanup };
    }
    await mkdir(root);
    await chmod(root, 0o755); // whatever hoist's umask
    const input = spec.kind === 'stdin' ? opts.stdin : spec.path;
    if (input === undefined) throw new HoistError('BAD_CONTEXT', 'the context is standard input, but none was given');
    // The layer applier (tar readers, whiteouts) is loaded only for an archive context.
    const { applyLayers } = await import('../../snapshot/rootfs/index.js');
    await applyLayers(root, [input], { privileged: false, ...(opts.signal ? { signal: opts.signal } : {}) }).catch((err: unknown) => {
      const where = spec.kind === 'stdin' ? 'standard input' : spec.path;
      if (err instanceof HoistError) {
        // The applier speaks of image layers; here the "layer" is the user's context archive.
        const hint = err.code === 'BAD_LAYER' || err.hint === undefined ? 'give a tar archive of the build context (plain, gzip or zstd)' : err.hint;
        throw new HoistError(err.code, `context archive ${where}: ${err.message.replace(/^layer \d+: /, '')}`, { hint, cause: err });
      }
      throw fsError(err, spec.kind === 'tar' ? spec.path : root, 'unpack the context archive');
    });
    return { dir: await insideRoot(root, opts.subPath), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function joinSub(a: string | undefined, b: string | undefined): string | undefined {
  if (!a) return b;
  if (!b) return a;
  return path.posix.join(a, b);
}

/** `root/sub`, which must be a directory inside `root` once symlinks are followed. */
async function insideRoot(root: string, sub: string | undefined): Promise<string> {
  if (!sub) return root;
  const realRoot = await realpath(root).catch((err: unknown) => {
    throw fsError(err, root, 'open the build context');
  });
  const dir = await realpath(path.join(realRoot, sub)).catch((err: unknown) => {
    throw new HoistError('BAD_CONTEXT', `the context sub-directory ${JSON.stringify(sub)} does not exist`, { hint: 'check --context-sub-path or the :subdir after #', cause: err });
  });
  if (dir !== realRoot && !dir.startsWith(`${realRoot}${path.sep}`)) {
    throw new HoistError('UNSAFE_PATH', `the context sub-directory ${JSON.stringify(sub)} leads outside the context`, { hint: 'name a directory inside the context' });
  }
  if (!(await stat(dir)).isDirectory()) throw new HoistError('BAD_CONTEXT', `the context sub-directory ${JSON.stringify(sub)} is not a directory`);
  return dir;
}

const FULL_SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/i;

/**
 * Clone with the git program: a shallow fetch of the ref (the remote's HEAD
 * when none is named) and a detached checkout of it. A commit (a full hash
 * as the ref, or Kaniko's third `#` part) is fetched shallow where the
 * server allows it, else with its history. `.git` is removed: it is not
 * part of the context.
 */
async function cloneGit(spec: Extract<ContextSpec, { kind: 'git' }>, dir: string, opts: OpenContextOptions): Promise<void> {
  const git = (args: string[], cwd?: string) => runGit(opts.gitProgram ?? 'git', args, { cwd, env: opts.env, signal: opts.signal, url: spec.url });
  await git(['init', '--quiet', dir]);
  await git(['remote', 'add', 'origin', spec.url], dir);
  const ref = spec.ref ?? 'HEAD';
  const commit = spec.commit ?? (FULL_SHA.test(ref) ? ref : undefined);
  if (commit === undefined) {
    await git(['fetch', '--quiet', '--depth', '1', 'origin', ref], dir);
  } else {
    // Servers may refuse a commit asked for by its hash (uploadpack.allowReachableSHA1InWant): then fetch it with its history.
    const fetched = await git(['fetch', '--quiet', '--depth', '1', 'origin', commit], dir).then(() => true, () => false);
    if (!fetched) await git(['fetch', '--quiet', 'origin', ...(spec.commit === undefined ? [] : [ref])], dir);
  }
  await git(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit ?? 'FETCH_HEAD'], dir);
  if (opts.recurseSubmodules) await git(['submodule', 'update', '--quiet', '--init', '--recursive', '--depth', '1'], dir);
  await rm(path.join(dir, '.git'), { recursive: true, force: true });
}

function runGit(program: string, args: string[], o: { cwd?: string | undefined; env?: NodeJS.ProcessEnv | undefined; signal?: AbortSignal | undefined; url: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: o.cwd,
      // Never wait for a password on a terminal nobody watches.
      env: { ...(o.env ?? {}), GIT_TERMINAL_PROMPT: '0' },
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(o.signal ? { signal: o.signal } : {}),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString('utf8');
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(new HoistError('GIT_MISSING', `a git context (${redactUrl(o.url)}) needs the git program, which is not installed`, { hint: 'install git (Debian: apt-get install git), or pass a directory or tar.gz context', cause: err }));
      } else reject(err);
    });
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const detail = redactUrl(stderr.trim().split('\n').slice(-3).join('; '));
      reject(new HoistError('GIT_CONTEXT', `git ${args[0]} of ${redactUrl(o.url)} failed (exit ${code ?? 'signal'})${detail ? `: ${detail}` : ''}`, {
        hint: 'check the repository URL and ref, and that git can reach it (credentials through a git credential helper or GIT_ASKPASS)',
      }));
    });
  });
}
