/**
 * Peer tools come from Debian packages. On a fresh Debian machine the peer
 * suites install what is missing (as root: `apt-get update` once, then
 * `apt-get install -y`); where everything is present nothing is run.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The command each package provides: its presence means the package needs no install. */
const COMMANDS: Record<string, string> = {
  skopeo: 'skopeo',
  umoci: 'umoci',
  buildah: 'buildah',
  runc: 'runc',
  attr: 'setfattr',
  'xz-utils': 'xz',
  gzip: 'gzip',
  tar: 'tar',
  'docker-registry': 'docker-registry',
};

/** Where a command is found on PATH (plus the sbin directories root's PATH may lack), or undefined. */
export function findCommand(command: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
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

function packageInstalled(name: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function isPresent(name: string): boolean {
  const command = COMMANDS[name];
  return command !== undefined ? findCommand(command) !== undefined : packageInstalled(name);
}

let updated = false;

function aptGet(args: string[]): void {
  const r = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) {
    throw new Error(`apt-get ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

/**
 * Make sure the Debian packages `names` are installed, installing only those
 * whose command is missing. Throws with a clear message where that is
 * impossible (not root, no apt-get).
 */
export function ensureDebianPackages(names: string[]): void {
  const missing = names.filter((n) => !isPresent(n));
  if (missing.length === 0) return;
  if (findCommand('apt-get') === undefined) {
    throw new Error(`the peer tests need the Debian packages ${missing.join(', ')}, and this machine has no apt-get`);
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`the peer tests need the Debian packages ${missing.join(', ')}: install them as root (apt-get install -y ${missing.join(' ')})`);
  }
  if (!updated) {
    aptGet(['update']);
    updated = true;
  }
  aptGet(['install', '-y', '--no-install-recommends', ...missing]);
  const still = missing.filter((n) => !isPresent(n));
  if (still.length > 0) throw new Error(`apt-get installed ${still.join(', ')} but their commands are still missing`);
}
