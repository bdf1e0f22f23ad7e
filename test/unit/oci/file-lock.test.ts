import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { ABANDONED_MS, acquireFileLock, fileLockHeld, HEARTBEAT_MS, tryFileLock, withFileLock } from '../../../src/oci/file-lock.js';
import { ownerTag, pidNamespace } from '../../../src/oci/process-alive.js';
import { tempDir } from '../../helpers/build.js';

describe('withFileLock', () => {
  it('holds the lock file (with its pid and PID namespace) while the work runs and removes it after, also on failure', async () => {
    const lock = path.join(tempDir('hoist-lock-'), 'index.json.lock');
    const seen = await withFileLock(lock, 'the index', async () => readFileSync(lock, 'utf8'));
    expect(seen).toBe(`${ownerTag()}\n`);
    expect(seen).toMatch(/^\d+@\d+\n$/);
    expect(existsSync(lock)).toBe(false);
    await expect(withFileLock(lock, 'the index', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(lock)).toBe(false);
  });

  it('serializes read-modify-write in one process too', async () => {
    const dir = tempDir('hoist-lock-');
    const counter = path.join(dir, 'n');
    writeFileSync(counter, '0');
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withFileLock(`${counter}.lock`, 'the counter', async () => {
          const n = Number(readFileSync(counter, 'utf8'));
          await new Promise((r) => setTimeout(r, 2));
          writeFileSync(counter, String(n + 1));
        }),
      ),
    );
    expect(readFileSync(counter, 'utf8')).toBe('20');
  });

  it('a live owner past the wait: a clear error naming the lock, its owner and what to do', async () => {
    const lock = path.join(tempDir('hoist-lock-'), 'index.json.lock');
    // The parent process (vitest's) is alive and is not this one.
    writeFileSync(lock, `${process.ppid}\n`);
    let ran = false;
    const err = await withFileLock(lock, 'the index of OCI layout x', async () => {
      ran = true;
    }, { waitMs: 300 }).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(err).toBeInstanceOf(HoistError);
    expect((err as HoistError).code).toBe('LOCKED');
    expect((err as HoistError).message).toBe(`cannot update the index of OCI layout x: its lock ${lock} is held by process ${process.ppid}`);
    expect((err as HoistError).hint).toContain(`remove ${lock}`);
    expect(readFileSync(lock, 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('a lock of a dead process, or an empty one long abandoned, is taken over', async () => {
    const lock = path.join(tempDir('hoist-lock-'), 'index.json.lock');
    writeFileSync(lock, `${2 ** 22 + 1}\n`);
    expect(await withFileLock(lock, 'the index', async () => 'ran', { waitMs: 0 })).toBe('ran');
    writeFileSync(lock, '');
    utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    expect(await withFileLock(lock, 'the index', async () => 'ran', { waitMs: 0 })).toBe('ran');
  });

  it('tryFileLock: undefined while a live process holds the lock, the lock once it is free; a waiter without bound gets it on release; nothing else is left beside it', async () => {
    const dir = tempDir('hoist-lock-');
    const lock = path.join(dir, 'cache.lock');
    writeFileSync(lock, `${process.ppid}\n`);
    expect(await fileLockHeld(lock)).toBe(true);
    expect(await tryFileLock(lock, 'the cache')).toBeUndefined();
    writeFileSync(lock, `${2 ** 22 + 1}\n`);
    expect(await fileLockHeld(lock)).toBe(false);
    const first = await tryFileLock(lock, 'the cache');
    expect(first).toBeDefined();
    expect(readFileSync(lock, 'utf8')).toBe(`${ownerTag()}\n`);
    let waited = false;
    const second = acquireFileLock(lock, 'the cache', { waitMs: Infinity }).then((held) => {
      waited = true;
      return held;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(waited).toBe(false);
    await first?.release();
    await (await second).release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a lock of another PID namespace (a container sharing the cache dir) is held while it is renewed, whatever its pid is here, and stale once it is not', async () => {
    const lock = path.join(tempDir('hoist-lock-'), 'cache.lock');
    // A pid that runs nowhere here, and one that runs here (ours): neither says anything about the other namespace.
    for (const pid of [2 ** 22 + 1, process.pid]) {
      writeFileSync(lock, `${pid}@4026999999\n`);
      expect(await fileLockHeld(lock), `pid ${pid}`).toBe(true);
      expect(await tryFileLock(lock, 'the cache')).toBeUndefined();
    }
    const old = new Date(Date.now() - ABANDONED_MS - 5_000);
    utimesSync(lock, old, old);
    expect(await fileLockHeld(lock)).toBe(false);
    const taken = await tryFileLock(lock, 'the cache');
    expect(taken).toBeDefined();
    await taken?.release();
    // Our own namespace, written out: a pid that does not run is gone at once.
    writeFileSync(lock, `${2 ** 22 + 1}@${pidNamespace()}\n`);
    expect(await fileLockHeld(lock)).toBe(false);
  });

  it('a lock naming a live process, even this one, that nobody renewed is abandoned: pids and namespace numbers are used again (the next CI container); a bare pid is judged as an older hoist judges it', async () => {
    const lock = path.join(tempDir('hoist-lock-'), 'cache.lock');
    const old = new Date(Date.now() - ABANDONED_MS - 5_000);
    for (const owner of [ownerTag(), `${process.ppid}@${pidNamespace()}`]) {
      writeFileSync(lock, `${owner}\n`);
      expect(await fileLockHeld(lock), owner).toBe(true);
      utimesSync(lock, old, old);
      expect(await fileLockHeld(lock), owner).toBe(false);
    }
    // An older hoist's lock, which it never renews: held while its process runs.
    writeFileSync(lock, `${process.ppid}\n`);
    utimesSync(lock, old, old);
    expect(await fileLockHeld(lock)).toBe(true);
  });

  it('renews the mtime of a lock it holds, within the 10 s after which an older hoist takes a lock it cannot read a pid from', async () => {
    expect(HEARTBEAT_MS).toBeLessThan(10_000);
    const lock = path.join(tempDir('hoist-lock-'), 'cache.lock');
    const held = await acquireFileLock(lock, 'the cache', { heartbeatMs: 50 });
    const old = new Date(Date.now() - ABANDONED_MS - 5_000);
    utimesSync(lock, old, old);
    await new Promise((r) => setTimeout(r, 400));
    expect(Date.now() - statSync(lock).mtimeMs).toBeLessThan(ABANDONED_MS);
    await held.release();
    expect(existsSync(lock)).toBe(false);
  });

  it('a wait that is aborted ends with the abort\'s reason', async () => {
    const lock = path.join(tempDir('hoist-lock-'), 'cache.lock');
    writeFileSync(lock, `${process.ppid}\n`);
    const stop = new AbortController();
    const waiting = acquireFileLock(lock, 'the cache', { waitMs: Infinity, signal: stop.signal }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 100));
    const reason = new HoistError('STAGE_CANCELED', 'canceled');
    stop.abort(reason);
    expect(await waiting).toBe(reason);
  });
});
