/**
 * For the walk snapshotter tests: the layer a diff makes, read back with the
 * project's tar reader, and a small applier that lays such a layer over a
 * copy of the tree as it was before the step (whiteouts, opaque markers,
 * hard links; metadata of directories set last, deepest first).
 */
import { execFile } from 'node:child_process';
import { chmod, lchown, link, lutimes, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readTar } from '../../../../src/tar/index.js';
import { whiteoutMarker } from '../../../../snapshot/layer-entry.js';
import { createTarStream } from '../../../../snapshot/layer-tar.js';
import { captureState, diffState, type CaptureOptions, type DiffOptions, type WalkState } from '../../../../snapshot/walk/index.js';

const run = promisify(execFile);

export interface Member {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname: string;
  content: Buffer;
  /** `SCHILY.xattr.*` records, values in hex. */
  xattrs?: Record<string, string>;
}

/** The tar the layer writer makes of `diffState(root, before)`, in archive order. */
export async function layerOf(root: string, before: WalkState, opts: DiffOptions = {}): Promise<Member[]> {
  const out: Member[] = [];
  for await (const { header, body } of readTar(createTarStream(diffState(root, before, opts), { ordered: true }))) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c);
    const { name, type, mode, uid, gid, mtime, size, linkname } = header;
    const m: Member = { name, type, mode, uid, gid, mtime, size, linkname, content: Buffer.concat(chunks) };
    if (header.xattrs) m.xattrs = Object.fromEntries(Object.entries(header.xattrs).map(([k, v]) => [k, v.toString('hex')]));
    out.push(m);
  }
  return out;
}

/** `name type mode uid:gid [-> link]`: what a test asserts about a layer, compactly. */
export function summary(members: readonly Member[]): string[] {
  return members.map((m) => {
    const link = m.type === 'symlink' || m.type === 'link' ? ` -> ${m.linkname}` : '';
    return `${m.name} ${m.type} ${m.mode.toString(8)} ${m.uid}:${m.gid}${link}`;
  });
}

/** Captures `root`, runs `step`, and returns the layer of what it changed. */
export async function stepLayer(root: string, step: () => Promise<unknown>, opts: CaptureOptions & DiffOptions = {}): Promise<Member[]> {
  const before = await captureState(root, opts);
  await step();
  return layerOf(root, before, opts);
}

export async function sh(cwd: string, script: string): Promise<void> {
  await run('sh', ['-euc', script], { cwd });
}

/** Applies `members` over `dest` as a container runtime applies a layer. */
export async function applyMembers(dest: string, members: readonly Member[]): Promise<void> {
  const dirs: Member[] = [];
  for (const m of members) {
    const name = m.name.replace(/\/$/, '');
    const marker = whiteoutMarker(name);
    if (marker?.kind === 'whiteout') {
      await rm(join(dest, marker.path), { recursive: true, force: true });
      continue;
    }
    if (marker?.kind === 'opaque') {
      await rm(join(dest, marker.path), { recursive: true, force: true });
      await mkdir(join(dest, marker.path));
      continue;
    }
    const p = join(dest, name);
    if (m.type === 'dir') {
      await mkdir(p, { recursive: true }).catch(async () => {
        await rm(p, { force: true });
        await mkdir(p);
      });
      dirs.push({ ...m, name });
      continue;
    }
    await rm(p, { recursive: true, force: true });
    if (m.type === 'file') await writeFile(p, m.content);
    else if (m.type === 'symlink') await symlink(m.linkname, p);
    else if (m.type === 'link') {
      await link(join(dest, m.linkname), p);
      continue;
    } else if (m.type === 'fifo') await run('mkfifo', [p]);
    else throw new Error(`applyMembers: ${m.type} not handled`);
    await setMeta(p, m);
  }
  for (const d of dirs.reverse()) await setMeta(join(dest, d.name), d);
}

async function setMeta(p: string, m: Member): Promise<void> {
  await lchown(p, m.uid, m.gid);
  if (m.type !== 'symlink') await chmod(p, m.mode);
  await lutimes(p, m.mtime, m.mtime);
}

/**
 * Every path of a tree with type, mode, owner, size, mtime (seconds), link
 * count, link target and content digest, as `find` and `sha256sum` see it.
 */
export async function treeListing(root: string): Promise<string[]> {
  const { stdout } = await run('find', ['.', '-mindepth', '1', '-printf', '%P|%y|%m|%U:%G|%s|%T@|%n|%l\\n'], { cwd: root, maxBuffer: 64 << 20 });
  const lines = stdout.trimEnd().split('\n').sort();
  const sums = await run('sh', ['-c', 'find . -type f -print0 | sort -z | xargs -0r sha256sum'], { cwd: root, maxBuffer: 64 << 20 });
  const digest = new Map(sums.stdout.trimEnd().split('\n').filter((l) => l !== '').map((l) => [l.slice(66).replace(/^\.\//, ''), l.slice(0, 12)]));
  return lines.map((line) => {
    const f = line.split('|');
    const path = f[0] as string;
    const secs = Math.floor(Number(f[5]));
    const size = f[1] === 'd' ? '-' : f[4];
    return [path, f[1], f[2], f[3], size, secs, f[6], f[7], digest.get(path) ?? ''].join('|');
  });
}
