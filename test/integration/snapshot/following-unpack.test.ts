import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { tarChunks, type TarHeader } from '../../../src/tar/index.js';
import { applyLayers } from '../../../snapshot/rootfs/apply.js';
import { FollowingUnpack, type GrowingTar } from '../../../snapshot/rootfs/following-unpack.js';
import { follow, WriteProgress } from '../../../snapshot/rootfs/write-progress.js';
import { buildCliAsync, REPO_ROOT } from '../../helpers/cli.js';
import { listTree } from '../../helpers/rootfs-listing.js';
import { StageRootfs } from '../../../src/builder/run/stage-rootfs.js';
import type { Runner } from '../../../src/run/index.js';

/** The worker as the built CLI runs it (tsc's output): a worker thread cannot load the TypeScript sources. */
const WORKER = path.join(REPO_ROOT, 'dist/snapshot/rootfs/unpack-worker.js');
const T0 = 1_700_000_000;

let work: string;

beforeAll(async () => {
  await buildCliAsync();
  work = await mkdtemp(path.join(tmpdir(), 'hoist-following-'));
}, 10 * 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function tarOf(members: { name: string; data?: string; type?: TarHeader['type']; mode?: number; uid?: number }[]): Promise<Buffer> {
  const inputs = members.map((m) => {
    const data = m.data === undefined ? undefined : Buffer.from(m.data);
    const type = m.type ?? (m.name.endsWith('/') ? 'dir' : 'file');
    const header: TarHeader = { type, name: m.name, mode: m.mode ?? (type === 'dir' ? 0o755 : 0o644), uid: m.uid ?? 0, gid: 0, mtime: T0, size: data?.length ?? 0 };
    return data === undefined ? { header } : { header, open: () => [data] };
  });
  const chunks: Buffer[] = [];
  for await (const c of tarChunks(inputs)) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A tar of many small files and a big one, as a COPY writes it. */
async function copyLikeTar(): Promise<Buffer> {
  const members: { name: string; data?: string; mode?: number; uid?: number }[] = [{ name: 'app/' }];
  for (let d = 0; d < 5; d++) {
    members.push({ name: `app/d${d}/` });
    for (let f = 0; f < 40; f++) members.push({ name: `app/d${d}/f${f}.txt`, data: `file ${d}/${f}\n`.repeat(f + 1), mode: f % 3 === 0 ? 0o4755 : 0o644, uid: f % 2 });
  }
  members.push({ name: 'data/' }, { name: 'data/big.bin', data: 'x'.repeat(3 << 20) });
  return tarOf(members);
}

/** Every path below the root with its type, mode, owner, size and times (not its inode: two trees). */
async function treeOf(root: string): Promise<string[]> {
  return (await listTree(root)).filter((line) => !line.startsWith('/ ')).map((line) => line.replace(/ ino=\d+/, ''));
}

/** Writes `tar` to a new file in pieces, telling `progress` as a spool writer does, while something follows it. */
async function writeInPieces(file: string, tar: Buffer, progress: WriteProgress, pieces = 7): Promise<void> {
  const size = Math.ceil(tar.length / pieces);
  for (let at = 0; at < tar.length; at += size) {
    await appendFile(file, tar.subarray(at, at + size));
    progress.grew(Math.min(at + size, tar.length));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  progress.finished();
}

async function growing(name: string): Promise<{ tar: GrowingTar; released: Promise<void> }> {
  const file = path.join(work, name);
  await writeFile(file, '');
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { tar: { file, progress: new WriteProgress(), done: release }, released };
}

describe('follow', () => {
  it('reads a file as its writer writes it, and fails when the writer fails', async () => {
    const { tar } = await growing('follow.tar');
    const bytes = Buffer.from('a'.repeat(3_000_000));
    const reading = (async () => {
      const parts: Buffer[] = [];
      for await (const c of follow(tar.file, tar.progress)) parts.push(c);
      return Buffer.concat(parts);
    })();
    await writeInPieces(tar.file, bytes, tar.progress);
    expect((await reading).equals(bytes)).toBe(true);

    const broken = await growing('broken.tar');
    const failing = (async () => {
      for await (const _ of follow(broken.tar.file, broken.tar.progress)) void _;
    })();
    await appendFile(broken.tar.file, 'partial');
    broken.tar.progress.grew(7);
    broken.tar.progress.failed();
    await expect(failing).rejects.toThrow('was not finished');
  });
});

describe.each([
  ['on a worker thread', WORKER],
  ['on the main thread', undefined],
])('FollowingUnpack %s', (_name, script) => {
  it('makes the same tree as unpacking the finished tar, while the tar is written', async () => {
    const bytes = await copyLikeTar();
    const expected = path.join(work, `expected-${script ? 'w' : 'm'}`);
    await mkdir(expected);
    await applyLayers(expected, [(async function* () {
      yield bytes;
    })()]);
    const root = path.join(work, `root-${script ? 'w' : 'm'}`);
    await mkdir(root);
    const unpack = new FollowingUnpack(script);
    try {
      const { tar, released } = await growing(`copy-${script ? 'w' : 'm'}.tar`);
      const applied = unpack.apply(root, tar);
      await writeInPieces(tar.file, bytes, tar.progress);
      const summary = await applied;
      await released;
      expect(summary.entries).toBeGreaterThan(200);
      expect(await treeOf(root)).toEqual(await treeOf(expected));
      expect(await readFile(path.join(root, 'app/d4/f39.txt'), 'utf8')).toBe('file 4/39\n'.repeat(40));
    } finally {
      await unpack.close();
    }
  });

  it('fails a hostile layer as the in-thread unpack does (nothing outside the root), and goes on with the next job', async () => {
    const root = path.join(work, `hostile-${script ? 'w' : 'm'}`);
    await mkdir(root);
    const unpack = new FollowingUnpack(script);
    try {
      const { tar } = await growing(`hostile-${script ? 'w' : 'm'}.tar`);
      const applied = unpack.apply(root, tar);
      await writeInPieces(tar.file, await tarOf([{ name: '../outside-secret', data: 'pwned' }]), tar.progress, 1);
      const err = await applied.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HoistError);
      expect((err as HoistError).code).toBe('UNSAFE_PATH');
      expect(await listTree(work).then((l) => l.filter((p) => p.includes('outside-secret')))).toEqual([]);
      const next = await growing(`after-${script ? 'w' : 'm'}.tar`);
      const again = unpack.apply(root, next.tar);
      await writeInPieces(next.tar.file, await tarOf([{ name: 'ok.txt', data: 'fine' }]), next.tar.progress, 1);
      await again;
      expect(await readFile(path.join(root, 'ok.txt'), 'utf8')).toBe('fine');
    } finally {
      await unpack.close();
    }
  });

  it('fails when the tar\'s writer fails', async () => {
    const root = path.join(work, `unfinished-${script ? 'w' : 'm'}`);
    await mkdir(root);
    const unpack = new FollowingUnpack(script);
    try {
      const { tar, released } = await growing(`unfinished-${script ? 'w' : 'm'}.tar`);
      const applied = unpack.apply(root, tar);
      const bytes = await copyLikeTar();
      await appendFile(tar.file, bytes.subarray(0, 4096));
      tar.progress.grew(4096);
      tar.progress.failed();
      await expect(applied).rejects.toThrow('was not finished');
      await released;
    } finally {
      await unpack.close();
    }
  });
});

describe('StageRootfs.applyGrowing', () => {
  /** A runner whose ids own files of the rootfs (a user namespace with a subordinate range), as far as the rootfs is concerned. */
  function runnerReclaiming(reclaim: () => Promise<Map<string, { uid: number; gid: number }>>): Runner {
    return {
      kind: 'userns',
      releaseOwners: async () => {},
      reclaimOwners: reclaim,
      run: () => Promise.reject(new Error('not run here')),
    };
  }

  async function rootfsWith(runner: Runner, name: string): Promise<{ rootfs: StageRootfs; cleanups: Array<() => Promise<void>> }> {
    const cleanups: Array<() => Promise<void>> = [];
    const parent = path.join(work, name);
    await mkdir(parent);
    const rootfs = await StageRootfs.create(parent, [], undefined, (c) => cleanups.push(c));
    await rootfs.storeOwners(runner);
    return { rootfs, cleanups };
  }

  it('records the owners of what the runner gives back, and applies the layer as it is written', async () => {
    const { rootfs, cleanups } = await rootfsWith(runnerReclaiming(async () => new Map([['/taken', { uid: 100000, gid: 100000 }]])), 'reclaimed');
    try {
      const { tar, released } = await growing('reclaimed.tar');
      const applied = rootfs.applyGrowing(tar);
      await writeInPieces(tar.file, await tarOf([{ name: 'new.txt', data: 'new' }]), tar.progress, 2);
      await applied;
      await released;
      expect(await readFile(path.join(rootfs.dir, 'new.txt'), 'utf8')).toBe('new');
      expect([...rootfs.recordedOwners()]).toEqual([['/taken', { uid: 100000, gid: 100000 }]]);
    } finally {
      for (const c of cleanups) await c();
    }
  });

  it('lets go of the tar\'s spool when the runner cannot give the files back, and applies nothing', async () => {
    const { rootfs, cleanups } = await rootfsWith(runnerReclaiming(() => Promise.reject(new Error('newuidmap failed'))), 'not-reclaimed');
    try {
      const { tar, released } = await growing('not-reclaimed.tar');
      await expect(rootfs.applyGrowing(tar)).rejects.toThrow('newuidmap failed');
      await released;
      expect(await listTree(rootfs.dir).then((l) => l.filter((p) => !p.startsWith('/ ')))).toEqual([]);
    } finally {
      for (const c of cleanups) await c();
    }
  });
});
