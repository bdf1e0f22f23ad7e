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
      fs.lchownSync(path.join(root, ...parts), uid, gid);
      stored.push(rel);
    } catch {}
  }
  process.stdout.write(JSON.stringify(stored));
});
`;

/**
 * chown `owners` (ids as the image has them) inside a user namespace made
 * with `unshareFlags`; owners with an id above `maxId` are left out.
 * Returns the paths whose owner is now on disk.
 */
export function storeOwnersInNamespace(unshare: string, unshareFlags: readonly string[], rootfs: string, owners: readonly OwnerToStore[], maxId: { uid: number; gid: number }): Promise<string[]> {
  const storable = owners.filter((o) => o.uid <= maxId.uid && o.gid <= maxId.gid);
  if (storable.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn(unshare, [...unshareFlags, '--', process.execPath, '-e', SCRIPT, rootfs], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: TOOL_PATH } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(
          new HoistError('RUN_OWNERS', `cannot give the files of the image their owners inside a user namespace: ${err.trim() || `exit ${code ?? 'by a signal'}`}`, {
            hint: 'check the subordinate id ranges in /etc/subuid and /etc/subgid (hoist doctor), or use --isolation proot',
          }),
        );
        return;
      }
      try {
        resolve(JSON.parse(out) as string[]);
      } catch {
        reject(new HoistError('INTERNAL', `the owner helper printed ${JSON.stringify(out.slice(0, 200))}`));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(storable.map((o) => JSON.stringify([o.path, o.uid, o.gid])).join('\n'));
  });
}

/** `chown -R -h 0:0 rootfs` as root of a user namespace made with `unshareFlags`: every file back to hoist. */
export function releaseOwnersInNamespace(unshare: string, unshareFlags: readonly string[], rootfs: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(unshare, [...unshareFlags, '--', 'chown', '-R', '-h', '0:0', rootfs], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: TOOL_PATH } });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new HoistError('RUN_OWNERS', `cannot give ${rootfs} back to hoist before removing it: ${err.trim() || `exit ${code ?? 'by a signal'}`}`)),
    );
  });
}

/**
 * Run inside the user namespace: every path of the rootfs (never following
 * a symlink, staying on its file system) that is not root's is given to
 * root, and its owner printed (for each name of a hard link); setuid and
 * setgid bits, which chown clears, are put back.
 */
const RECLAIM_SCRIPT = `
const fs = require('node:fs');
const root = fs.realpathSync(process.argv[1]);
const rootDev = fs.lstatSync(root).dev;
const owners = [];
const taken = new Map();
const pending = [''];
while (pending.length > 0) {
  const rel = pending.pop();
  const abs = rel === '' ? root : root + '/' + rel;
  const st = fs.lstatSync(abs);
  // Another name of an inode taken back already: root's now, but it had the owner seen first.
  const linked = st.nlink > 1 && !st.isDirectory() ? taken.get(st.ino) : undefined;
  if (linked !== undefined) owners.push([rel, linked[0], linked[1]]);
  else if (rel !== '' && (st.uid !== 0 || st.gid !== 0)) {
    owners.push([rel, st.uid, st.gid]);
    if (st.nlink > 1 && !st.isDirectory()) taken.set(st.ino, [st.uid, st.gid]);
    fs.lchownSync(abs, 0, 0);
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) fs.chmodSync(abs, st.mode & 0o7777);
  }
  if (st.isDirectory() && st.dev === rootDev) for (const name of fs.readdirSync(abs)) pending.push(rel === '' ? name : rel + '/' + name);
}
process.stdout.write(JSON.stringify(owners));
`;

/** Give every file under `rootfs` back to hoist (the namespace's root), returning who owned each path. */
export function reclaimOwnersInNamespace(unshare: string, unshareFlags: readonly string[], rootfs: string): Promise<Map<string, { uid: number; gid: number }>> {
  return new Promise((resolve, reject) => {
    const child = spawn(unshare, [...unshareFlags, '--', process.execPath, '-e', RECLAIM_SCRIPT, rootfs], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: TOOL_PATH } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(
          new HoistError('RUN_OWNERS', `cannot take the files of ${rootfs} back from the user namespace: ${err.trim() || `exit ${code ?? 'by a signal'}`}`, {
            hint: 'check the subordinate id ranges in /etc/subuid and /etc/subgid (hoist doctor), or use --isolation proot',
          }),
        );
        return;
      }
      try {
        resolve(new Map((JSON.parse(out) as [string, number, number][]).map(([p, uid, gid]) => [p, { uid, gid }])));
      } catch {
        reject(new HoistError('INTERNAL', `the owner helper printed ${JSON.stringify(out.slice(0, 200))}`));
      }
    });
  });
}
