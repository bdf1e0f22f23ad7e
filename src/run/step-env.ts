import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';
import { fsError } from '../fs-errors.js';
import type { HostTools } from './host-tools.js';
import { hostToolVariable, unsafePrivateVariable, type ProcessSpec } from './process-spec.js';
import { resolveInside } from './resolve-inside.js';

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
  return { files, dir, remove: () => rm(dir, { recursive: true, force: true }) };
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

/** Variables that make the host's loader or proot run code they name: refused when they cannot be kept from them (unless empty: then they name nothing). */
const LOADS_CODE = /^(LD_.*|GCONV_PATH|PROOT_.*)$/;

export interface HostToolVariableOptions {
  /**
   * Move every public variable from the first host-tool one on, so that the
   * step's environment keeps its order (the namespace runners, whose host
   * `env -i` has them all on its command line anyway). Otherwise only the
   * host-tool variables move, and come last (proot: the rest stays in its
   * environment and off its command line, which lasts as long as the step:
   * proxy build args may carry credentials).
   */
  keepOrder: boolean;
}

/**
 * The step's variables that the host tools leading into it would act on
 * (hostToolVariable: an image's `ENV LD_PRELOAD=libjemalloc.so.2` or
 * `LD_LIBRARY_PATH`), set instead by the image's own env program, the
 * step's first exec inside the rootfs: Docker sets them in the step's
 * process only, and here the host's setpriv, nsenter or proot would load the
 * libraries they name, or print to the step's output that they cannot.
 *
 * The returned spec's `env` is what the host tools get; the moved variables
 * (`opts.keepOrder` says which) go on env's command line, never a private
 * one. Where there is none, the spec is returned as it is. Where env cannot
 * be used (the image has none, the step's user may not run it, a mount
 * covers it, or the command has a `=` that env would take for a variable),
 * variables that make the host's loader or proot run code (LD_*,
 * GCONV_PATH, PROOT_*; not empty ones) fail the step (RUN_HOST_VARIABLE);
 * the others are left to the host tools, which do nothing harmful with them.
 */
export async function withHostToolVariablesInside(spec: ProcessSpec, opts: HostToolVariableOptions): Promise<ProcessSpec> {
  const entries = Object.entries(spec.env);
  const first = entries.findIndex(([name]) => hostToolVariable(name) !== undefined);
  if (first < 0) return spec;
  const command = spec.argv[0] ?? '';
  const found = command.includes('=') ? ({ unusable: 'command' } as const) : await imageEnvProgram(spec);
  if ('unusable' in found) {
    const loading = entries.filter(([name, value]) => LOADS_CODE.test(name) && value !== '').map(([name]) => name);
    if (loading.length === 0) return spec;
    throw hostVariableError(loading, found, command);
  }
  const hidden = spec.privateEnv ?? {};
  const moves = ([name]: [string, string], i: number): boolean => !Object.hasOwn(hidden, name) && (opts.keepOrder ? i >= first : hostToolVariable(name) !== undefined);
  return {
    ...spec,
    env: Object.fromEntries(entries.filter((e, i) => !moves(e, i))),
    argv: [found.program, ...entries.filter(moves).map(([name, value]) => `${name}=${value}`), ...spec.argv],
  };
}

type EnvProgram = { program: string } | { unusable: 'missing' | 'mode'; candidate?: string } | { unusable: 'mount'; candidate: string; mount: string };

async function imageEnvProgram(spec: ProcessSpec): Promise<EnvProgram> {
  const coveredBy = (p: string): string | undefined => spec.mounts.find((m) => p === m.target || p.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`))?.target;
  let why: EnvProgram = { unusable: 'missing' };
  for (const candidate of IMAGE_ENV_PROGRAMS) {
    const visited: string[] = [];
    const found = await resolveInside(spec.rootfs, candidate, visited);
    const mount = visited.map(coveredBy).find((t) => t !== undefined);
    // What a mount covers is not the rootfs's during the step.
    if (mount !== undefined) {
      why = { unusable: 'mount', candidate, mount };
      continue;
    }
    const st = found === undefined ? undefined : await stat(found).catch(() => undefined);
    if (st === undefined || !st.isFile()) continue;
    // Root: any execute bit. Others: everyone's, since owners on disk are not the image's where ids are mapped (userns, proot); env is 0755 everywhere.
    if ((st.mode & (spec.uid === 0 ? 0o111 : 0o001)) !== 0) return { program: candidate };
    if (why.unusable === 'missing') why = { unusable: 'mode', candidate };
  }
  return why;
}

function hostVariableError(loading: readonly string[], why: Exclude<EnvProgram, { program: string }> | { unusable: 'command' }, command: string): HoistError {
  const [it, names] = loading.length === 1 ? ['it', 'it names'] : ['them', 'they name'];
  const base = `the step's environment sets ${loading.join(', ')}, which the host programs that start the step would act on (loading what ${names}); hoist sets ${it} for the step alone through the image's env program (${IMAGE_ENV_PROGRAMS.join(' or ')}), and`;
  const unset = `or empty ${it} before this step (ENV ${loading[0]}=) and set ${it} in the command: RUN ${loading[0]}=... COMMAND`;
  switch (why.unusable) {
    case 'command':
      return new HoistError('RUN_HOST_VARIABLE', `${base} env would take the command ${JSON.stringify(command)} for one more variable`, { hint: `use the shell form, or a command whose first word has no "=", ${unset}` });
    case 'mount':
      return new HoistError('RUN_HOST_VARIABLE', `${base} the step's mount at ${why.mount} hides ${why.candidate}`, { hint: `mount somewhere that does not cover ${why.candidate}, ${unset}` });
    case 'mode':
      return new HoistError('RUN_HOST_VARIABLE', `${base} the step's user may not run ${why.candidate ?? 'it'}`, { hint: `make it executable for everyone (RUN chmod 755 ${why.candidate ?? '/usr/bin/env'} as root), ${unset}` });
    case 'missing':
      return new HoistError('RUN_HOST_VARIABLE', `${base} the image has none`, { hint: `install env in the image (coreutils or busybox), ${unset}` });
  }
}

/** For runners (or modes) that make no mount namespace: an overlay for the step cannot be mounted. */
export function refuseOverlay(spec: ProcessSpec, runner: string): void {
  if (spec.overlay === undefined) return;
  throw new HoistError('RUN_OVERLAY_UNSUPPORTED', `the overlay snapshotter needs a mount namespace, and the ${runner} runner has none here`, {
    hint: 'use --snapshot walk (or auto), or a runner that mounts: --isolation userns, or chroot as root where mount namespaces are allowed',
  });
}
