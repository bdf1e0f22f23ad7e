import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';
import { fsError } from '../fs-errors.js';
import type { HostTools } from './host-tools.js';
import { hostToolVariable, unsafePrivateVariable, type ProcessSpec } from './process-spec.js';
import { resolveInside } from './fakeroot-recorder.js';

/** What every runner is built with. */
export interface RunnerOptions {
  tools: HostTools;
  /** A private directory of hoist's for per-step scratch files (copies of resolv.conf and hosts). Never inside a rootfs. */
  tmpDir: string;
  /** The host files a step gets as /etc/resolv.conf and /etc/hosts; default the host's own. */
  hostFiles?: { resolvConf: string; hosts: string };
}

export function requireTool<K extends keyof HostTools>(tools: HostTools, name: K, runner: string): string {
  const found = tools[name];
  if (found === undefined) {
    throw new HoistError('RUN_TOOL_MISSING', `the ${runner} runner needs \`${name}\`, and it is not installed here`, {
      hint: `install it (${name === 'proot' ? 'apt-get install proot' : name === 'newuidmap' || name === 'newgidmap' ? 'apt-get install uidmap' : 'apt-get install util-linux'}), or run \`hoist doctor\` to see which --isolation works here`,
    });
  }
  return found;
}

/**
 * Copies of the host's resolv.conf and hosts for one step, in a scratch
 * directory of their own: a step that writes to its /etc/hosts changes the
 * copy, never the host's file. `remove` deletes them.
 */
export interface NetworkFiles {
  /** rootfs-relative target -> host copy. */
  files: { target: string; copy: string }[];
  /** The step's private scratch directory they are in (other per-step files may go there too), removed by `remove`. */
  dir: string;
  /**
   * An empty directory in `dir`, where the runner's processes start: a
   * relative path in a variable the host tools read (LD_PRELOAD=./x.so)
   * then names nothing, where hoist's own directory is often the context.
   */
  cwd: string;
  remove(): Promise<void>;
}

export async function copyNetworkFiles(opts: RunnerOptions): Promise<NetworkFiles> {
  const dir = await mkdtemp(path.join(opts.tmpDir, 'hoist-run-')).catch((err: unknown) => {
    throw fsError(err, opts.tmpDir, 'create a scratch directory in');
  });
  const sources = opts.hostFiles ?? { resolvConf: '/etc/resolv.conf', hosts: '/etc/hosts' };
  const files: NetworkFiles['files'] = [];
  for (const [target, source] of [
    ['etc/resolv.conf', sources.resolvConf],
    ['etc/hosts', sources.hosts],
  ] as const) {
    if (!(await stat(source).then((s) => s.isFile(), () => false))) continue;
    const copy = path.join(dir, path.basename(target));
    await copyFile(source, copy);
    files.push({ target, copy });
  }
  const cwd = path.join(dir, 'cwd');
  await mkdir(cwd, { mode: 0o700 });
  return { files, dir, cwd, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** What a shell between the runner and the step may have added to the environment it passes on. */
const SHELL_ADDED = ['PWD', 'OLDPWD', 'SHLVL', '_'];

/**
 * `env -i NAME=VALUE...`: the step's environment exactly, set at the last
 * hop before the step. With private variables (`spawnEnv` put them in the
 * environment the runner spawned with), `env` keeps them from there and
 * removes the rest of it instead: their values are on no command line.
 * `checkSpec` has refused private names that the hops on the way read.
 */
export function envArgs(env: string, spec: ProcessSpec): string[] {
  const hidden = spec.privateEnv ?? {};
  const shown = Object.entries(spec.env)
    .filter(([k]) => k !== '' && !k.includes('=') && !Object.hasOwn(hidden, k))
    .map(([k, v]) => `${k}=${v}`);
  if (Object.keys(hidden).length === 0) return [env, '-i', ...shown];
  const unset = ['PATH', ...SHELL_ADDED].flatMap((k) => ['-u', k]);
  return [env, ...unset, ...shown];
}

/** The environment a runner spawns its first process with: the tools' PATH (where it needs one) and the step's private variables. */
export function spawnEnv(spec: ProcessSpec, toolPath?: string): Record<string, string> {
  return { ...(spec.privateEnv ?? {}), ...(toolPath !== undefined ? { PATH: toolPath } : {}) };
}

/**
 * The last hops into the step: set the groups (setpriv, still as root), then
 * chroot, chdir and setuid (nsenter --root --wdns -S: with no namespace named
 * it makes no unshare or setns call, which Docker's default seccomp profile
 * refuses, and it resolves the working directory inside the new root), then
 * exec argv. Without `setIds` (a user namespace that maps one id) the ids stay 0.
 */
export function enterRootArgs(tools: HostTools, runner: string, spec: ProcessSpec, setIds: boolean): string[] {
  const nsenter = requireTool(tools, 'nsenter', runner);
  const enter = [nsenter, `--root=${spec.rootfs}`, `--wdns=${spec.cwd}`];
  if (!setIds) return [...envArgs(requireTool(tools, 'env', runner), spec), ...enter, '--', ...spec.argv];
  const setpriv = requireTool(tools, 'setpriv', runner);
  const groups = spec.groups.length > 0 ? `--groups=${spec.groups.join(',')}` : '--clear-groups';
  return [
    ...envArgs(requireTool(tools, 'env', runner), spec),
    setpriv,
    `--regid=${spec.gid}`,
    groups,
    '--',
    ...enter,
    '-S',
    String(spec.uid),
    '--',
    ...spec.argv,
  ];
}

export function checkSpec(spec: ProcessSpec): void {
  if (spec.argv.length === 0) throw new HoistError('RUN_EMPTY', 'the step has no command to run', { hint: 'give RUN a command' });
  for (const name of Object.keys(spec.privateEnv ?? {})) {
    const why = unsafePrivateVariable(name);
    if (why !== undefined) {
      throw new HoistError('RUN_PRIVATE_VARIABLE', `a secret cannot be given to the step as the variable ${JSON.stringify(name)}: ${why}`, {
        hint: 'mount the secret as a file and set the variable in the step, e.g. RUN --mount=type=secret,id=x,target=/run/secrets/x NAME="$(cat /run/secrets/x)" ...',
      });
    }
  }
  if (!path.isAbsolute(spec.cwd)) {
    throw new HoistError('RUN_CWD', `the working directory ${JSON.stringify(spec.cwd)} is not absolute`, { hint: 'WORKDIR paths are absolute inside the image' });
  }
}

/** Where images keep env, as the step would find it. */
const IMAGE_ENV_PROGRAMS = ['/usr/bin/env', '/bin/env'];

/** Variables that make the host's loader or proot run code they name: refused when they cannot be kept from them. */
const LOADS_CODE = /^(LD_.*|GCONV_PATH|PROOT_.*)$/;

/**
 * The step's variables that the host tools leading into it would act on
 * (hostToolVariable: an image's `ENV LD_PRELOAD=libjemalloc.so.2` or
 * `LD_LIBRARY_PATH`), set instead by the image's own env program, the
 * step's first exec inside the rootfs: Docker sets them in the step's
 * process only, and here the host's setpriv, nsenter or proot would load the
 * libraries they name, or print to the step's output that they cannot.
 *
 * The returned spec's `env` is what the host tools get; the first such
 * variable and every public one after it (in `env`'s order, so the step's
 * environment keeps its order; never a private one) go on env's command
 * line. Where there is none, the spec is returned as it is. Where env cannot
 * be used (the image has none that the step's user may run, a mount covers
 * it, or the command has a `=` that env would take for a variable),
 * variables that make the host's loader or proot run code (LD_*,
 * GCONV_PATH, PROOT_*) fail the step (RUN_HOST_VARIABLE); the others are
 * left to the host tools, which do nothing harmful with them.
 */
export async function withHostToolVariablesInside(spec: ProcessSpec): Promise<ProcessSpec> {
  const entries = Object.entries(spec.env);
  const first = entries.findIndex(([name]) => hostToolVariable(name) !== undefined);
  if (first < 0) return spec;
  const command = spec.argv[0];
  const env = command === undefined || command.includes('=') ? undefined : await imageEnvProgram(spec);
  if (env === undefined) {
    const loading = entries.map(([name]) => name).filter((name) => LOADS_CODE.test(name));
    if (loading.length === 0) return spec;
    throw new HoistError(
      'RUN_HOST_VARIABLE',
      `the step's environment has ${loading.join(', ')}, which hoist sets for the step through the image's env program (${IMAGE_ENV_PROGRAMS.join(' or ')}), and ${command?.includes('=') ? `the command ${JSON.stringify(command)} has a "=" that env would take for a variable` : 'the image has none the step can run there'}; the host programs that start the step would load what ${loading.length === 1 ? 'it names' : 'they name'}`,
      { hint: `install env in the image (coreutils or busybox), or set the variable inside the step instead of with ENV or ARG, e.g. RUN ${loading[0]}=... COMMAND` },
    );
  }
  const hidden = spec.privateEnv ?? {};
  return {
    ...spec,
    env: Object.fromEntries(entries.filter(([name], i) => i < first || Object.hasOwn(hidden, name))),
    argv: [env, ...entries.filter(([name], i) => i >= first && !Object.hasOwn(hidden, name)).map(([name, value]) => `${name}=${value}`), ...spec.argv],
  };
}

async function imageEnvProgram(spec: ProcessSpec): Promise<string | undefined> {
  const covered = (p: string): boolean => spec.mounts.some((m) => p === m.target || p.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`));
  for (const candidate of IMAGE_ENV_PROGRAMS) {
    const visited: string[] = [];
    const found = await resolveInside(spec.rootfs, candidate, visited);
    // What a mount covers is not the rootfs's during the step.
    if (found === undefined || visited.some(covered)) continue;
    const st = await stat(found).catch(() => undefined);
    if (st === undefined || !st.isFile()) continue;
    // Root: any execute bit. Others: everyone's, since owners on disk are not the image's where ids are mapped (userns, proot); env is 0755 everywhere.
    if ((st.mode & (spec.uid === 0 ? 0o111 : 0o001)) !== 0) return candidate;
  }
  return undefined;
}

/** For runners (or modes) that make no mount namespace: an overlay for the step cannot be mounted. */
export function refuseOverlay(spec: ProcessSpec, runner: string): void {
  if (spec.overlay === undefined) return;
  throw new HoistError('RUN_OVERLAY_UNSUPPORTED', `the overlay snapshotter needs a mount namespace, and the ${runner} runner has none here`, {
    hint: 'use --snapshot walk (or auto), or a runner that mounts: --isolation userns, or chroot as root where mount namespaces are allowed',
  });
}
