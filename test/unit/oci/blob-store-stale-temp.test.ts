import { spawnSync } from 'node:child_process';
import { readdirSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../../../src/oci/index.js';
import { FileSystemError } from '../../../src/fs-errors.js';
import { tempDir } from '../../helpers/build.js';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function ageFile(file: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  utimesSync(file, t, t);
}

describe('BlobStore temp files left by killed writers', () => {
  it('prepare() removes a dead writer\'s old temp file and keeps live or young ones', async () => {
    const store = new BlobStore(tempDir('hoist-stale-'));
    const dir = path.join(store.root, 'blobs', 'sha256');
    mkdirSync(dir, { recursive: true });
    const dead = deadPid();
    const deadOld = path.join(dir, `.tmp-${dead}-aaaa`);
    const deadYoung = path.join(dir, `.tmp-${dead}-bbbb`);
    const liveOld = path.join(dir, `.tmp-${process.ppid}-cccc`);
    const mine = path.join(dir, `.tmp-${process.pid}-dddd`);
    for (const f of [deadOld, deadYoung, liveOld, mine]) writeFileSync(f, 'partial');
    ageFile(deadOld, 3600_000);
    ageFile(liveOld, 3600_000);
    ageFile(mine, 3600_000);

    await store.prepare();
    expect(readdirSync(dir).sort()).toEqual([path.basename(deadYoung), path.basename(liveOld), path.basename(mine)].sort());
  });

  it('a temp file older than a day goes whoever wrote it', async () => {
    const store = new BlobStore(tempDir('hoist-stale-'));
    const dir = path.join(store.root, 'blobs', 'sha256');
    mkdirSync(dir, { recursive: true });
    const abandoned = path.join(dir, `.tmp-${process.ppid}-eeee`);
    writeFileSync(abandoned, 'partial');
    ageFile(abandoned, 25 * 3600_000);
    expect(await store.removeStaleTemp(600_000)).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('prepare() creates the store and reports a file in its place as the user\'s error', async () => {
    const root = tempDir('hoist-stale-');
    await new BlobStore(path.join(root, 'a', 'cache')).prepare();
    expect(readdirSync(path.join(root, 'a'))).toEqual(['cache']);
    writeFileSync(path.join(root, 'file'), 'x');
    const err = await new BlobStore(path.join(root, 'file')).prepare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileSystemError);
    expect((err as FileSystemError).code).toBe('FS_NOT_A_DIRECTORY');
  });

  it('an aborted put leaves no temp file', async () => {
    const store = new BlobStore(tempDir('hoist-stale-'));
    const controller = new AbortController();
    const { Readable } = await import('node:stream');
    let sent = 0;
    const endless = new Readable({
      read() {
        sent++;
        if (sent === 4) controller.abort(new Error('stop'));
        this.push(Buffer.alloc(1 << 16, 1));
      },
    });
    await expect(store.put(endless, {}, { signal: controller.signal })).rejects.toThrow();
    expect(readdirSync(path.join(store.root, 'blobs', 'sha256'))).toEqual([]);
  });
});
