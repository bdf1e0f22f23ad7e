/**
 * Owners that hoist, unprivileged, could not set when it unpacked a rootfs,
 * put on disk from inside a user namespace that maps the subordinate range:
 * there they are ordinary ids, and a step running as a non-root USER finds
 * its own files of the base image (its home directory) owned by it.
 *
 * The chown calls are made by the host's node, run as root of that
 * namespace, from a list on stdin. Each path is checked first: every
 * directory on the way must be a directory and not a symlink, so that a
 * link the image put there cannot lead the chown out of the rootfs.
 */
import { spawn } from 'node:child_process';
import { HoistError } from '../errors.js';
import { TOOL_PATH } from './host-tools.js';

export interface OwnerToStore {
  /** Relative to the rootfs, as the applier names it (`home/app`). */
  path: string;
  uid: number;
  gid: number;
}

/** A path whose owner storeOwnersInNamespace put on disk, and the ctime that gave it (ms, as Node's Stats has it). */
export interface StoredOwner {
  path: string;
  ctimeMs: number;
}

const SCRIPT = `
const fs = require('node:fs');
const path = require('node:path');
const root = process.argv[1];
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const stored = [];
  next: for (const line of input.split('\\n')) {
    if (line === '') continue;
    const [rel, uid, gid] = JSON.parse(line);
    const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) continue;
    let at = root;
    for (const p of parts.slice(0, -1)) {
      at = path.join(at, p);
      const st = fs.lstatSync(at, { throwIfNoEntry: false });
      if (st === undefined || !st.isDirectory()) continue next;
    }
    try {
      const abs = path.join(root, ...parts);
      const mode = fs.lstatSync(abs).mode;
      fs.lchownSync(abs, uid, gid);
      // chown clears setuid and setgid: put them back.
      if ((mode & 0o170000) !== 0o120000 && (mode & 0o6000) !== 0) fs.chmodSync(abs, mode & 0o7777);
      stored.push([rel, fs.lstatSync(abs).ctimeMs]);
    } catch {}
  }
  process.stdout.write(JSON.stringify(stored));
});
`;

/** What a helper run inside the user namespace printed on stdout, or RUN_OWNERS with `failure` and its stderr. */
function inNamespace(unshare: string, unshareFlags: readonly string[], command: readonly string[], input: string | undefined, failure: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(unshare, [...unshareFlags, '--', ...command], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { PATH: TOOL_PATH } });
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(out);
      reject(
        new HoistError('RUN_OWNERS', `${failure}: ${err.trim() || `exit ${code ?? 'by a signal'}`}`, {
          hint: 'check the subordinate id ranges in /etc/subuid and /etc/subgid (hoist doctor), or use --isolation proot',
        }),
      );
    });
    if (input !== undefined) {
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input);
    }
  });
}

function parseHelperOutput<T>(out: string): T {
  try {
    return JSON.parse(out) as T;
  } catch {
    throw new HoistError('INTERNAL', `the owner helper printed ${JSON.stringify(out.slice(0, 200))}`);
  }
}

/**
 * chown `owners` (ids as the image has them) inside a user namespace made
 * with `unshareFlags`; owners with an id above `maxId` are left out.
 * Returns the paths whose owner is now on disk, with the ctime chown gave them.
 */
export async function storeOwnersInNamespace(unshare: string, unshareFlags: readonly string[], rootfs: string, owners: readonly OwnerToStore[], maxId: { uid: number; gid: number }): Promise<StoredOwner[]> {
  const storable = owners.filter((o) => o.uid <= maxId.uid && o.gid <= maxId.gid);
  if (storable.length === 0) return [];
  const input = storable.map((o) => JSON.stringify([o.path, o.uid, o.gid])).join('\n');
  const out = await inNamespace(unshare, unshareFlags, [process.execPath, '-e', SCRIPT, rootfs], input, 'cannot give the files of the image their owners inside a user namespace');
  return parseHelperOutput<[string, number][]>(out).map(([p, ctimeMs]) => ({ path: p, ctimeMs }));
}

/** `chown -R -h 0:0 rootfs` as root of a user namespace made with `unshareFlags`: every file back to hoist. */
export async function releaseOwnersInNamespace(unshare: string, unshareFlags: readonly string[], rootfs: string): Promise<void> {
  await inNamespace(unshare, unshareFlags, ['chown', '-R', '-h', '0:0', rootfs], undefined, `cannot give ${rootfs} back to hoist before removing it`);
}

/**
 * Run inside the user namespace: every path of the rootfs (never following
 * a symlink, staying on its file system) that is not root's is given to
 * root, and its owner printed (for each name of a hard link); setuid and
 * setgid bits, which chown clears, are put back.
 *
 * With a time (argv[2], ms), only what hoist, outside the namespace, could
 * not read of a step's changes is taken: a directory others may not list
 * and search, and a file others may not read whose ctime is that late (one
 * the step changed; taking back an unchanged file would move its ctime and
 * put it in the layer).
 */
const RECLAIM_SCRIPT = `
const fs = require('node:fs');
const root = fs.realpathSync(process.argv[1]);
const since = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const rootDev = fs.lstatSync(root).dev;
const owners = [];
const taken = new Map();
const pending = [''];
const closed = (st) => st.isDirectory() ? (st.mode & 0o005) !== 0o005 : !st.isSymbolicLink() && (st.mode & 0o004) === 0 && st.ctimeMs >= since;
while (pending.length > 0) {
  const rel = pending.pop();
  const abs = rel === '' ? root : root + '/' + rel;
  const st = fs.lstatSync(abs);
  // Another name of an inode taken back already: root's now, but it had the owner seen first.
  const linked = st.nlink > 1 && !st.isDirectory() ? taken.get(st.ino) : undefined;
  if (linked !== undefined) owners.push([rel, linked[0], linked[1]]);
  else if (rel !== '' && (st.uid !== 0 || st.gid !== 0) && (since === undefined || closed(st))) {
    owners.push([rel, st.uid, st.gid]);
    if (st.nlink > 1 && !st.isDirectory()) taken.set(st.ino, [st.uid, st.gid]);
    fs.lchownSync(abs, 0, 0);
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) fs.chmodSync(abs, st.mode & 0o7777);
  }
  if (st.isDirectory() && st.dev === rootDev) for (const name of fs.readdirSync(abs)) pending.push(rel === '' ? name : rel + '/' + name);
}
process.stdout.write(JSON.stringify(owners));
`;

/**
 * Give files under `rootfs` back to hoist (the namespace's root), returning
 * who owned each path taken: all of them, or with `changedSince` (ms since
 * the epoch) only what hoist could not read of what changed since then.
 */
export async function reclaimOwnersInNamespace(unshare: string, unshareFlags: readonly string[], rootfs: string, changedSince?: number): Promise<Map<string, { uid: number; gid: number }>> {
  const args = [process.execPath, '-e', RECLAIM_SCRIPT, rootfs, ...(changedSince === undefined ? [] : [String(changedSince)])];
  const out = await inNamespace(unshare, unshareFlags, args, undefined, `cannot take the files of ${rootfs} back from the user namespace`);
  return new Map(parseHelperOutput<[string, number, number][]>(out).map(([p, uid, gid]) => [p, { uid, gid }]));
}
