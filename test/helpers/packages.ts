/**
 * Tests need Debian packages (the registry, peers such as skopeo, umoci,
 * buildah and podman, archive tools). On a fresh Debian machine they are
 * installed on first use, as root: `apt-get update` once per process, then
 * `apt-get install -y`. Where every needed command is present nothing runs.
 * The one place that does this for every suite.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The command each package provides: its presence means the package needs no install. */
const COMMANDS: Record<string, string> = {
  'docker-registry': 'docker-registry',
  'apache2-utils': 'htpasswd',
  skopeo: 'skopeo',
  umoci: 'umoci',
  buildah: 'buildah',
  podman: 'podman',
  runc: 'runc',
  attr: 'setfattr',
  'xz-utils': 'xz',
  bzip2: 'bzip2',
  zstd: 'zstd',
  gzip: 'gzip',
  tar: 'tar',
  // The RUN runners and their test rootfs.
  proot: 'proot',
  bubblewrap: 'bwrap',
  uidmap: 'newuidmap',
  'busybox-static': 'busybox',
  // The Debian base image (test/helpers/debian-image.ts).
  debootstrap: 'debootstrap',
};

/**
 * Packages a package needs in the tests besides its Depends (installs leave
 * out Recommends). podman depends on "crun | runc" and apt picks crun, but
 * podman 4.3 fails with crun here ("cgroups in hybrid mode not supported",
 * ../shared/TESTBED.md), so the podman tests configure runc.
 */
const COMPANIONS: Record<string, string[]> = {
  podman: ['runc'],
};

/** `pkgs` and their companions, once each. */
export function withCompanions(pkgs: readonly string[]): string[] {
  return [...new Set(pkgs.flatMap((p) => [p, ...(COMPANIONS[p] ?? [])]))];
}

/** Where a command is found on PATH (plus the sbin/bin directories a minimal PATH may lack), or undefined. */
export function findCommand(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/bin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

interface RunResult {
  status: number | null;
  output: string;
}

function run(command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

async function packageInstalled(name: string): Promise<boolean> {
  try {
    const r = await run('dpkg-query', ['-W', '-f=${Status}', name], 30_000);
    return r.status === 0 && r.output.includes('install ok installed');
  } catch {
    return false;
  }
}

async function isPresent(name: string): Promise<boolean> {
  const command = COMMANDS[name];
  return command !== undefined ? findCommand(command) !== undefined : packageInstalled(name);
}

// Several test files (or several start calls) may ask at once. Other processes
// (vitest workers) may run apt-get at the same moment too: apt waits for the
// dpkg lock instead of failing (DPkg::Lock::Timeout).
const APT_LOCK_WAIT = ['-o', 'DPkg::Lock::Timeout=900'];
let updateOnce: Promise<void> | undefined;
let installQueue: Promise<unknown> = Promise.resolve();

async function aptGet(args: string[]): Promise<void> {
  const r = await run('apt-get', [...APT_LOCK_WAIT, ...args], 15 * 60_000);
  if (r.status !== 0) {
    throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status}):\n${r.output.slice(-4000)}`);
  }
}

/**
 * Make sure the Debian packages `wanted` (and their COMPANIONS) are installed, installing only those
 * whose command (or, for packages without a known command, dpkg status) is
 * missing. Throws a clear error where that is impossible (not root, no apt-get).
 */
export async function ensureDebianPackages(wanted: string[]): Promise<void> {
  const pkgs = withCompanions(wanted);
  const missingNow = async (): Promise<string[]> => {
    const present = await Promise.all(pkgs.map((p) => isPresent(p)));
    return pkgs.filter((_, i) => !present[i]);
  };
  if ((await missingNow()).length === 0) return;

  // Serialise installs within this process; re-check after waiting our turn.
  const job = installQueue.then(async () => {
    const missing = await missingNow();
    if (missing.length === 0) return;
    if (findCommand('apt-get') === undefined) {
      throw new Error(`the tests need the Debian packages ${missing.join(', ')}, and this machine has no apt-get`);
    }
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error(
        `the tests need the Debian packages ${missing.join(', ')}: install them as root (apt-get install -y ${missing.join(' ')})`,
      );
    }
    updateOnce ??= aptGet(['update']).catch((e: unknown) => {
      updateOnce = undefined; // let a later call retry
      throw e;
    });
    await updateOnce;
    await aptGet(['install', '-y', '--no-install-recommends', ...missing]);
    const still = await missingNow();
    if (still.length > 0) throw new Error(`apt-get installed ${still.join(', ')} but their commands are still missing`);
  });
  installQueue = job.catch(() => undefined);
  await job;
}
