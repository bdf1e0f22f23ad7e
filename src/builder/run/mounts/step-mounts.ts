/**
 * Everything one RUN's `--mount`s need, made ready for the runner: the host
 * paths to bind (copies of bind sources, cache directories, secret files,
 * agent sockets) and tmpfs mounts, the variables they add to the step
 * (`env=` secrets, SSH_AUTH_SOCK). `release` undoes it all after the step,
 * however it ended. `runMountIdentities` says what they bind, for the
 * step's cache key, without preparing anything.
 */
import { chmod, chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DockerfileError } from '../../../dockerfile/errors.js';
import type { RunInstr } from '../../../dockerfile/instructions/types.js';
import { HoistError } from '../../../errors.js';
import { kernelPath, relaySocket, type StepMount } from '../../../run/index.js';
import type { KeySources } from '../../executor/step-keys.js';
import type { MountIdentity } from '../../cache/step-key.js';
import type { StepContext } from '../../executor/step-context.js';
import type { StageFiles } from '../../../../snapshot/stage-files.js';
import { openCacheDir } from './cache-mount.js';
import { cleanMountSource, copyMountSource, mountSourceIdentity } from './mount-source.js';
import { parseRunMounts, type RunMount } from './run-mounts.js';
import { heredocScriptMount } from '../heredoc-script.js';
import { heredocScript } from '../../handlers/run-argv.js';

export interface StepMounts {
  mounts: StepMount[];
  /** Variables the mounts add to the step's environment. */
  env: Record<string, string>;
  release(): Promise<void>;
}

const NONE: StepMount[] = [];

/**
 * A mount target inside the rootfs, with the symlinks on its way resolved
 * there (never out of it), as BuildKit mounts through them. Not / itself,
 * nor /proc or /sys or below them, where links lead out of the rootfs.
 */
function inRootfs(files: StageFiles, target: string): string {
  const resolved = `/${files.resolve(target, { followFinal: true }).path}`;
  if (kernelPath(resolved)) {
    const via = resolved === path.posix.normalize(target) ? '' : ` (it resolves to ${resolved} in the image)`;
    throw new HoistError('RUN_MOUNT_TARGET', `RUN --mount target=${target}${via}: a mount may not be made on / or under /proc or /sys`, {
      hint: 'mount it somewhere else in the image: /proc and /sys belong to the kernel, and / is the image itself',
    });
  }
  return resolved;
}

/**
 * Prepare `instr`'s mounts for a step whose working directory is
 * `workdir`, in a stage whose files are `files`. Throws a DockerfileError
 * at the RUN's line for what the user must fix (a missing required secret
 * or agent, a source outside the context).
 */
export async function prepareStepMounts(ctx: StepContext, instr: RunInstr, workdir: string, files: StageFiles): Promise<StepMounts> {
  const script = heredocScript(instr);
  if (instr.mounts.length === 0 && script === undefined) return { mounts: NONE, env: {}, release: () => Promise.resolve() };
  const parsed = parseRunMounts(instr.mounts, workdir, instr.location);
  const releases: (() => Promise<void>)[] = [];
  const release = async (): Promise<void> => {
    for (const r of releases.splice(0).reverse()) await r().catch(() => undefined);
  };
  const scratch = await mkdtemp(path.join(ctx.env.tmpDir, 'mounts-'));
  releases.push(() => rm(scratch, { recursive: true, force: true }));
  const out: StepMounts = { mounts: [], env: {}, release };
  try {
    const scriptMount = await heredocScriptMount(instr, path.join(scratch, 'heredoc'));
    if (scriptMount !== undefined) out.mounts.push(scriptMount);
    const caches = new Map<string, string>();
    for (const [i, m] of parsed.entries()) await prepareOne(ctx, instr, m, { root: scratch, own: path.join(scratch, String(i)) }, files, out, releases, caches);
  } catch (err) {
    await release();
    // Aborted while waiting for a cache lock or copying a source: the reason (STAGE_CANCELED when another stage failed) is what ended the step.
    if (ctx.env.signal?.aborted === true) throw ctx.env.signal.reason;
    throw located(err, instr);
  }
  return out;
}

function located(err: unknown, instr: RunInstr): unknown {
  if (err instanceof HoistError && !(err instanceof DockerfileError)) {
    return new DockerfileError(err.code, err.message, instr.location, { ...(err.hint !== undefined ? { hint: err.hint } : {}), cause: err });
  }
  return err;
}

/**
 * `scratch.own`: a path of this mount's own (not made yet) in the step's
 * scratch directory `scratch.root`. `caches`: the cache directories this
 * RUN has opened, by id: a second mount of one id binds the same directory
 * (taking its lock again would wait for this very step forever).
 */
async function prepareOne(
  ctx: StepContext,
  instr: RunInstr,
  m: RunMount,
  scratch: { root: string; own: string },
  files: StageFiles,
  out: StepMounts,
  releases: (() => Promise<void>)[],
  caches: Map<string, string>,
): Promise<void> {
  const target = m.target === undefined ? undefined : inRootfs(files, m.target);
  switch (m.type) {
    case 'bind': {
      const source = await copyMountSource(ctx, m.from, m.source, scratch.own);
      out.mounts.push({ source, target: target as string, readonly: m.readonly });
      return;
    }
    case 'cache': {
      const open = caches.get(m.id);
      if (open !== undefined) {
        out.mounts.push({ source: open, target: target as string, readonly: m.readonly, shared: true, writeBack: !m.readonly });
        return;
      }
      const cacheRoot = ctx.env.cacheMountsDir;
      const seed = m.from !== undefined || m.source !== '' ? async (dir: string) => void (await copyMountSource(ctx, m.from, m.source, dir)) : undefined;
      const copied = (await ctx.env.runner()).copiesMounts === true;
      const cache = await openCacheDir({
        root: cacheRoot, id: m.id, sharing: m.sharing, copied, uid: m.uid, gid: m.gid, mode: m.mode, seed, tmpDir: scratch.root, signal: ctx.env.signal,
        setOwner: (dir, uid, gid) => giveTo(ctx, dir, uid, gid),
      });
      releases.push(() => cache.release());
      caches.set(m.id, cache.path);
      out.mounts.push({ source: cache.path, target: target as string, readonly: m.readonly, shared: true, writeBack: !m.readonly });
      return;
    }
    case 'tmpfs':
      out.mounts.push({ kind: 'tmpfs', target: target as string, ...(m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}) });
      return;
    case 'secret': {
      const content = await secretContent(ctx, m.id);
      if (content === undefined) {
        if (m.required) throw missingSecret(instr, m.id);
        return; // BuildKit leaves the target absent
      }
      if (m.env !== undefined) out.env[m.env] = content.toString('utf8');
      if (m.target !== undefined) {
        const file = scratch.own;
        await writeFile(file, content, { mode: 0o600, flag: 'wx' });
        // Mode first: once given to a subordinate id, the file is no longer hoist's to chmod.
        await chmod(file, m.mode);
        await giveTo(ctx, file, m.uid, m.gid);
        releases.push(() => rm(file, { force: true }));
        out.mounts.push({ source: file, target: inRootfs(files, m.target), readonly: true });
      }
      return;
    }
    case 'ssh': {
      const socket = ctx.env.sshAgents.get(m.id);
      if (socket === undefined) {
        if (m.required) throw missingAgent(instr, m.id);
        return;
      }
      const st = await stat(socket).catch(() => undefined);
      if (st === undefined || !st.isSocket()) {
        throw new DockerfileError('RUN_SSH_AGENT', `RUN --mount=type=ssh: ${socket} (--ssh ${m.id}) is not an agent's socket`, instr.location, {
          hint: 'start ssh-agent and pass its socket: eval "$(ssh-agent)"; ssh-add; hoist build --ssh default ...',
        });
      }
      // The step gets a socket of hoist's own, with the mount's owner and mode (BuildKit's), never the agent's own.
      const relayAt = await shortSocketPath(scratch.own);
      releases.push(() => relayAt.remove());
      const relay = await relaySocket(relayAt.path, socket, m.mode);
      releases.push(() => relay.close());
      await giveTo(ctx, relayAt.path, m.uid, m.gid);
      out.mounts.push({ source: relayAt.path, target: target as string });
      // As BuildKit: the step's SSH_AUTH_SOCK is its first agent mount.
      out.env.SSH_AUTH_SOCK ??= m.target;
      return;
    }
  }
}

/**
 * What `instr`'s mounts bind, for the step's cache key (BuildKit's rule):
 * a bind's source (from= as written and source=, then for the context every
 * entry's path, kind, mode, owner, link target and content digest, no
 * times; for a stage or an image its key or manifest digest, as COPY
 * --from), a cache by its id, sharing, owner, mode and seed (the same way;
 * never its content), a secret or an agent by its id, owner, mode and
 * `required` (never a secret's content, nor whether it was given), a tmpfs
 * by its target and size. Context files' digests come from
 * `sources.digests` (hashed when their stat changed). Reads context
 * sources only; prepares, locks and writes nothing. In the order the mounts
 * are mounted. The context listings they were read through go to
 * `sources.listings`, so that the step can tell whether a file changed since.
 */
export async function runMountIdentities(ctx: StepContext, instr: RunInstr, workdir: string, sources: KeySources): Promise<MountIdentity[]> {
  const out: MountIdentity[] = [];
  try {
    for (const m of parseRunMounts(instr.mounts, workdir, instr.location)) {
      switch (m.type) {
        case 'bind':
          out.push({ type: 'bind', target: m.target, source: await boundSourceIdentity(ctx, m.from, m.source, sources), readonly: m.readonly });
          break;
        case 'cache': {
          // The cache's content is never a key input; what seeds a new one is (BuildKit: the from= state is an input of the step).
          const seeded = m.from !== undefined || m.source !== '';
          const seed = seeded ? await boundSourceIdentity(ctx, m.from, m.source, sources) : undefined;
          out.push({ type: 'cache', target: m.target, source: m.id, readonly: m.readonly, sharing: m.sharing, uid: m.uid, gid: m.gid, mode: m.mode, ...(seed !== undefined ? { seed } : {}) });
          break;
        }
        case 'tmpfs':
          out.push({ type: 'tmpfs', target: m.target, ...(m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}) });
          break;
        case 'secret':
          out.push({ type: 'secret', target: m.target ?? `env:${m.env ?? ''}`, source: m.id, uid: m.uid, gid: m.gid, mode: m.mode, required: m.required });
          break;
        case 'ssh':
          out.push({ type: 'ssh', target: m.target, source: m.id, uid: m.uid, gid: m.gid, mode: m.mode, required: m.required });
          break;
      }
    }
  } catch (err) {
    throw located(err, instr);
  }
  return out;
}

/**
 * `source=` of `from=` in a key. A stage's files are what its key says and an
 * image's what its digest says, so neither is read (a no-op rebuild that
 * binds a big build stage would otherwise read all of it); the context is
 * read, by content.
 */
async function boundSourceIdentity(ctx: StepContext, from: string | undefined, source: string, sources: KeySources): Promise<string> {
  if (from === undefined) return `context:${source}:${await mountSourceIdentity(ctx, undefined, source, sources.digests, sources.listings)}`;
  cleanMountSource(source, from); // refused here as the step would refuse it
  const index = ctx.planned.mountStages?.get(from);
  return `${from}:${source}:${index !== undefined ? `stage:${sources.stageKey(index)}` : `image:${await sources.imageDigest(from)}`}`;
}

/**
 * Give `p` the owner `uid:gid` as the step sees ids: chown where hoist may
 * (root), else through the runner's subordinate id range (a user namespace
 * with one); where neither can, it stays hoist's, which is root in the
 * step's user namespace, and a non-root step may be unable to use it.
 */
async function giveTo(ctx: StepContext, p: string, uid: number, gid: number): Promise<void> {
  const given = await chown(p, uid, gid).then(() => true, () => false);
  if (given || (uid === 0 && gid === 0)) return;
  const runner = await ctx.env.runner();
  await runner.storeOwners?.(path.dirname(p), [{ path: path.basename(p), uid, gid }]);
}

/** Longer socket paths do not fit in sockaddr_un (108 bytes, with the NUL). */
const MAX_SOCKET_PATH = 100;

/**
 * `wanted`, or where it is too long for a unix socket (a deep TMPDIR), a
 * path in a new private directory under the system's temp directory, or
 * /tmp when that is deep too.
 */
async function shortSocketPath(wanted: string): Promise<{ path: string; remove(): Promise<void> }> {
  if (Buffer.byteLength(wanted) <= MAX_SOCKET_PATH) return { path: wanted, remove: () => rm(wanted, { force: true }) };
  // mkdtemp adds 6 characters, and the socket's name 11.
  const base = Buffer.byteLength(tmpdir()) <= MAX_SOCKET_PATH - 30 ? tmpdir() : '/tmp';
  const dir = await mkdtemp(path.join(base, 'hoist-ssh-'));
  return { path: path.join(dir, 'agent.sock'), remove: () => rm(dir, { recursive: true, force: true }) };
}

async function secretContent(ctx: StepContext, id: string): Promise<Buffer | undefined> {
  const source = ctx.env.secrets.get(id);
  if (source === undefined) return undefined;
  if ('value' in source) return source.value;
  return readFile(source.file).catch((err: NodeJS.ErrnoException) => {
    throw new HoistError('RUN_SECRET_UNREADABLE', `cannot read the secret ${JSON.stringify(id)} from ${source.file}: ${err.code ?? err.message}`, {
      hint: 'check the path given to --secret id=...,src=FILE',
    });
  });
}

function missingSecret(instr: RunInstr, id: string): DockerfileError {
  return new DockerfileError('RUN_SECRET_MISSING', `RUN --mount=type=secret: the secret ${JSON.stringify(id)} is required and was not given`, instr.location, {
    hint: `pass it with hoist build --secret id=${id},src=FILE (or id=${id},env=VARIABLE), or drop required from the mount`,
  });
}

function missingAgent(instr: RunInstr, id: string): DockerfileError {
  return new DockerfileError('RUN_SSH_MISSING', `RUN --mount=type=ssh: the SSH agent ${JSON.stringify(id)} is required and was not given`, instr.location, {
    hint: id === 'default' ? 'run ssh-agent, add your key (ssh-add) and pass --ssh default' : `pass --ssh ${id}=/path/to/agent.sock`,
  });
}
