/**
 * RUN --mount options with BuildKit's defaults, the --secret and --ssh
 * flags, mount identities for the cache key, and cache mount sharing, on real
 * directories.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSecretFlag, parseSshFlag } from '../../../../src/builder/run/mounts/build-secrets.js';
import { openCacheDir } from '../../../../src/builder/run/mounts/cache-mount.js';
import { ownerTag } from '../../../../src/oci/process-alive.js';
import { cacheDirName, cacheLockFile } from '../../../../src/builder/run/mounts/cache-mount-uses.js';
import { cleanMountSource } from '../../../../src/builder/run/mounts/mount-source.js';
import { prepareStepMounts, runMountIdentities } from '../../../../src/builder/run/mounts/step-mounts.js';
import { HoistError } from '../../../../src/errors.js';
import type { StageFiles } from '../../../../snapshot/stage-files.js';
import type { StepContext } from '../../../../src/builder/executor/step-context.js';
import type { RunInstr } from '../../../../src/dockerfile/instructions/types.js';
import { PatternMatcher } from '../../../../src/dockerfile/ignore/index.js';
import { FileDigests } from '../../../../src/builder/cache/file-digests.js';
import type { KeySources } from '../../../../src/builder/executor/step-keys.js';
import type { Digest } from '../../../../src/oci/digest.js';
import { parseRunMount, parseRunMounts, parseSize } from '../../../../src/builder/run/mounts/run-mounts.js';
import { tempDir } from '../../../helpers/build.js';

const at = { file: 'Dockerfile', line: 7 };

describe('RUN --mount options', () => {
  it('fills in BuildKit\'s defaults per type', () => {
    expect(parseRunMount('target=/src', '/', at)).toEqual({ type: 'bind', target: '/src', from: undefined, source: '', readonly: true });
    expect(parseRunMount('type=bind,target=src,rw', '/work', at)).toMatchObject({ target: '/work/src', readonly: false });
    expect(parseRunMount('type=bind,target=/s,readonly=false', '/', at)).toMatchObject({ readonly: false });
    expect(parseRunMount('type=cache,target=/root/.cache', '/', at)).toEqual({
      type: 'cache', target: '/root/.cache', id: '/root/.cache', sharing: 'shared', from: undefined, source: '', readonly: false, uid: 0, gid: 0, mode: 0o755,
    });
    expect(parseRunMount('type=cache,id=go,target=/go,sharing=LOCKED,uid=1000,gid=100,mode=0700', '/', at)).toMatchObject({ id: 'go', sharing: 'locked', uid: 1000, gid: 100, mode: 0o700 });
    expect(parseRunMount('type=tmpfs,target=/t,size=64m', '/', at)).toEqual({ type: 'tmpfs', target: '/t', sizeBytes: 64 * 1024 * 1024 });
    expect(parseRunMount('type=secret,id=npmrc', '/', at)).toMatchObject({ id: 'npmrc', target: '/run/secrets/npmrc', env: undefined, required: false, mode: 0o400, uid: 0 });
    expect(parseRunMount('type=secret,target=/root/.npmrc', '/', at)).toMatchObject({ id: '.npmrc', target: '/root/.npmrc' });
    // BuildKit 0.13: env= without a target is a variable only.
    expect(parseRunMount('type=secret,id=tok,env=TOKEN', '/', at)).toMatchObject({ target: undefined, env: 'TOKEN' });
    expect(parseRunMount('type=secret,id=tok,env=TOKEN,target=/t', '/', at)).toMatchObject({ target: '/t', env: 'TOKEN' });
    expect(parseRunMount('type=ssh,required', '/', at, 1)).toMatchObject({ id: 'default', target: '/run/buildkit/ssh_agent.1', required: true, mode: 0o600 });
  });

  it('mounts a parent before what is mounted inside it, and counts ssh targets in the order written', () => {
    const mounts = parseRunMounts(['type=cache,target=/src/node_modules', 'type=ssh', 'target=/src', 'type=ssh,id=other'], '/', at);
    expect(mounts.map((m) => m.target)).toEqual(['/run/buildkit/ssh_agent.0', '/run/buildkit/ssh_agent.1', '/src', '/src/node_modules']);
  });

  it('refuses a mount without a target, a bad size and a bad flag, at the line, with a hint', () => {
    expect(() => parseRunMount('type=cache', '/', at)).toThrow(expect.objectContaining({ code: 'RUN_MOUNT_INVALID', message: expect.stringContaining('Dockerfile:7:'), hint: expect.stringContaining('target=') }));
    expect(() => parseRunMount('type=tmpfs,target=/t,size=lots', '/', at)).toThrow(expect.objectContaining({ hint: expect.stringContaining('size=64m') }));
    expect(() => parseRunMount('target=/t,rw=maybe', '/', at)).toThrow(/invalid value for rw/);
    expect(() => parseRunMount('type=volume,target=/t', '/', at)).toThrow(/unsupported mount type "volume"/);
    expect(parseSize('1g')).toBe(1024 ** 3);
    expect(parseSize('512')).toBe(512);
  });

  it('keeps a source inside its root', () => {
    expect(cleanMountSource('', undefined)).toBe('.');
    expect(cleanMountSource('/a/../b/', undefined)).toBe('b');
    expect(() => cleanMountSource('../x', undefined)).toThrow(expect.objectContaining({ code: 'RUN_MOUNT_SOURCE_OUTSIDE' }));
    expect(() => cleanMountSource('a/../../x', 'tools')).toThrow(/outside "tools"/);
  });
});

describe('--secret and --ssh', () => {
  it('reads buildx\'s forms', () => {
    expect(parseSecretFlag('id=npm,src=/home/u/.npmrc')).toEqual({ id: 'npm', file: '/home/u/.npmrc' });
    expect(parseSecretFlag('id=tok,env=GITHUB_TOKEN')).toEqual({ id: 'tok', env: 'GITHUB_TOKEN' });
    expect(parseSecretFlag('id=GITHUB_TOKEN')).toEqual({ id: 'GITHUB_TOKEN', env: 'GITHUB_TOKEN' });
    expect(parseSecretFlag('type=file,id=a,source=f')).toEqual({ id: 'a', file: 'f' });
    expect(() => parseSecretFlag('src=f')).toThrow(expect.objectContaining({ hint: expect.stringContaining('id=NAME') }));
    expect(() => parseSecretFlag('id=a,path=f')).toThrow(/unknown key "path"/);
    // A value given where a file or variable was meant may be the secret itself: an error never repeats it.
    for (const text of ['id=tok,value=SUPERSECRET', 'SUPERSECRET', 'id=tok,SUPERSECRET', 'value=SUPERSECRET']) {
      const err = (() => {
        try {
          parseSecretFlag(text);
        } catch (e) {
          return e as Error & { hint?: string };
        }
        return undefined;
      })();
      expect(err, text).toBeDefined();
      expect(`${err?.message} ${err?.hint}`, text).not.toContain('SUPERSECRET');
    }
    expect(() => parseSecretFlag('id=tok,value=x')).toThrow('--secret "id=tok,value=***": unknown key "value"');
    expect(parseSshFlag('default')).toEqual({ id: 'default', paths: [] });
    expect(parseSshFlag('default=/tmp/agent.sock')).toEqual({ id: 'default', paths: ['/tmp/agent.sock'] });
  });
});

describe('mount identities for the cache key', () => {
  /** A step context over a real context directory: only what mount sources read. */
  function stepOver(contextDir: string, ignore: string[] = []): StepContext {
    return { env: { contextDir, ignore: PatternMatcher.compile(ignore), signal: undefined }, planned: {}, createdMtime: () => 0 } as unknown as StepContext;
  }
  const run = (mounts: string[]): RunInstr => ({ kind: 'RUN', mounts, heredocs: [], location: at }) as unknown as RunInstr;
  /** Keys of the stages (by index) and digests of the images a step may bind from. */
  function keySources(digests: FileDigests, stageKeys: string[] = [], images: Record<string, string> = {}): KeySources {
    return {
      digests,
      stageKey: (index) => stageKeys[index] ?? expect.unreachable(`stage ${index} has no key`),
      imageDigest: async (ref) => (images[ref] ?? expect.unreachable(`image ${ref} has no digest`)) as Digest,
    };
  }

  it('follow a bind source\'s content, mode and names, not its times, and never a secret\'s content', async () => {
    const digests = await FileDigests.load(undefined);
    const dir = tempDir('hoist-identity-');
    await mkdir(path.join(dir, 'src/sub'), { recursive: true });
    await writeFile(path.join(dir, 'src/sub/a'), 'one');
    const instr = run(['target=/s,source=src', 'type=cache,target=/c', 'type=secret,id=tok', 'type=tmpfs,target=/t']);
    const first = await runMountIdentities(stepOver(dir), instr, '/', keySources(digests));
    // In mount order (by target).
    expect(first.map((m) => m.type)).toEqual(['cache', 'secret', 'bind', 'tmpfs']);
    expect(first[0]).toEqual({ type: 'cache', target: '/c', source: '/c', readonly: false, sharing: 'shared', uid: 0, gid: 0, mode: 0o755 });
    expect(first[1]).toEqual({ type: 'secret', target: '/run/secrets/tok', source: 'tok', uid: 0, gid: 0, mode: 0o400, required: false });
    expect(first[3]).toEqual({ type: 'tmpfs', target: '/t' });
    expect(first[2]).toMatchObject({ type: 'bind', target: '/s', readonly: true, source: expect.stringMatching(/^context:src:sha256:[0-9a-f]{64}$/) });
    await utimes(path.join(dir, 'src/sub/a'), 1000, 1000);
    expect(await runMountIdentities(stepOver(dir), instr, '/', keySources(digests))).toEqual(first);
    await writeFile(path.join(dir, 'src/sub/a'), 'two');
    const second = await runMountIdentities(stepOver(dir), instr, '/', keySources(digests));
    expect(second[2]?.source).not.toBe(first[2]?.source);
    await chmod(path.join(dir, 'src/sub/a'), 0o600);
    const third = await runMountIdentities(stepOver(dir), instr, '/', keySources(digests));
    expect(third[2]?.source).not.toBe(second[2]?.source);
    // What .dockerignore leaves out is not part of it.
    await writeFile(path.join(dir, 'src/ignored'), 'x');
    expect((await runMountIdentities(stepOver(dir, ['src/ignored']), instr, '/', keySources(digests)))[2]).toEqual(third[2]);
    expect((await runMountIdentities(stepOver(dir), instr, '/', keySources(digests)))[2]).not.toEqual(third[2]);
    await expect(runMountIdentities(stepOver(dir), run(['target=/x,source=../etc']), '/', keySources(digests))).rejects.toMatchObject({ code: 'RUN_MOUNT_SOURCE_OUTSIDE', message: expect.stringContaining('Dockerfile:7:') });
  });
  it('follow how a cache, secret, agent or tmpfs is given (sharing, owner, mode, required, size) and what seeds a cache, as BuildKit\'s ExecOp key does', async () => {
    const digests = await FileDigests.load(undefined);
    const dir = tempDir('hoist-identity-');
    await mkdir(path.join(dir, 'seed'), { recursive: true });
    await writeFile(path.join(dir, 'seed/a'), 'one');
    const ids = async (mount: string): Promise<unknown> => (await runMountIdentities(stepOver(dir), run([mount]), '/', keySources(digests)))[0];
    for (const [base, variants] of [
      ['type=cache,target=/c', ['type=cache,target=/c,sharing=locked', 'type=cache,target=/c,uid=1000', 'type=cache,target=/c,gid=1000', 'type=cache,target=/c,mode=0700', 'type=cache,target=/c,source=seed']],
      ['type=secret,id=t', ['type=secret,id=t,uid=1000', 'type=secret,id=t,mode=0444', 'type=secret,id=t,required']],
      ['type=ssh', ['type=ssh,uid=1000', 'type=ssh,mode=0666', 'type=ssh,required']],
      ['type=tmpfs,target=/t', ['type=tmpfs,target=/t,size=1m']],
    ] as const) {
      const before = await ids(base);
      for (const v of variants) expect(await ids(v), v).not.toEqual(before);
    }
    // A seed by its content: the same files give the same identity, other files another.
    const seeded = await ids('type=cache,target=/c,source=seed');
    expect(await ids('type=cache,target=/c,source=seed')).toEqual(seeded);
    await writeFile(path.join(dir, 'seed/a'), 'two');
    expect(await ids('type=cache,target=/c,source=seed')).not.toEqual(seeded);
  });

  it('take a stage\'s key or an image\'s digest for what is bound from it, as COPY --from does, without reading its files', async () => {
    const digests = await FileDigests.load(undefined);
    // No stage files and no image view: reading either would fail the test.
    const ctx = { env: { stageFiles: () => expect.unreachable('stage files read'), imageView: () => expect.unreachable('image read') }, planned: { mountStages: new Map([['build', 0]]) }, createdMtime: () => 0 } as unknown as StepContext;
    const ids = async (mounts: string[], stageKey: string, image = 'sha256:aaa'): Promise<string[]> =>
      (await runMountIdentities(ctx, run(mounts), '/', keySources(digests, [stageKey], { 'busybox:1.36': image }))).map((m) => String(m.source));
    const mounts = ['target=/b,from=build,source=/out', 'type=cache,target=/c,id=c,from=busybox:1.36,source=/bin', 'target=/i,from=busybox:1.36'];
    const first = await ids(mounts, 'k1');
    // In mount order (by target); a cache's source is its id.
    expect(first).toEqual(['build:/out:stage:k1', 'c', 'busybox:1.36::image:sha256:aaa']);
    expect(await ids(mounts, 'k1')).toEqual(first);
    expect(await ids(mounts, 'k2')).not.toEqual(first);
    expect(await ids(mounts, 'k1', 'sha256:bbb')).not.toEqual(first);
    // The cache's seed: by what seeds it, as a bind.
    const seeded = await runMountIdentities(ctx, run([mounts[1] as string]), '/', keySources(digests, ['k1'], { 'busybox:1.36': 'sha256:aaa' }));
    expect(seeded[0]).toMatchObject({ type: 'cache', seed: 'busybox:1.36:/bin:image:sha256:aaa' });
    await expect(runMountIdentities(ctx, run(['target=/x,from=build,source=../etc']), '/', keySources(digests, ['k1']))).rejects.toMatchObject({ code: 'RUN_MOUNT_SOURCE_OUTSIDE' });
  });

  it('hash a context file again only when its stat changed (the FileDigests records COPY keys use)', async () => {
    const dir = tempDir('hoist-identity-');
    await mkdir(path.join(dir, 'src'), { recursive: true });
    for (const name of ['a', 'b', 'c']) {
      await writeFile(path.join(dir, 'src', name), name);
      await utimes(path.join(dir, 'src', name), 1000, 1000);
    }
    // Hashed as if a minute from now: the files' ctimes (just set) are then past the racy window.
    const digests = await FileDigests.load(undefined, () => BigInt(Date.now() + 60_000) * 1_000_000n);
    const instr = run(['target=/s,source=src']);
    const first = await runMountIdentities(stepOver(dir), instr, '/', keySources(digests));
    expect(digests.counts).toEqual({ hashed: 3, reused: 0 });
    expect(await runMountIdentities(stepOver(dir), instr, '/', keySources(digests))).toEqual(first);
    expect(digests.counts).toEqual({ hashed: 3, reused: 3 });
    await writeFile(path.join(dir, 'src', 'b'), 'B');
    await utimes(path.join(dir, 'src', 'b'), 2000, 2000);
    expect(await runMountIdentities(stepOver(dir), instr, '/', keySources(digests))).not.toEqual(first);
    expect(digests.counts).toEqual({ hashed: 4, reused: 5 });
  });
});

describe('cache mount directories', () => {
  it('are made once per id, with their mode, and seeded', async () => {
    const root = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    const tmpDir = tempDir('hoist-cachemounts-tmp-');
    const seed = async (dir: string): Promise<void> => {
      await mkdir(dir);
      await writeFile(path.join(dir, 'seeded'), 'yes');
    };
    const a = await openCacheDir({ root, id: '/root/.cache', sharing: 'shared', uid: 0, gid: 0, mode: 0o700, seed, tmpDir });
    expect(a.path).toBe(path.join(root, cacheDirName('/root/.cache')));
    expect(await readFile(path.join(a.path, 'seeded'), 'utf8')).toBe('yes');
    await writeFile(path.join(a.path, 'later'), 'kept');
    const again = await openCacheDir({ root, id: '/root/.cache', sharing: 'shared', uid: 0, gid: 0, mode: 0o755, seed, tmpDir });
    expect((await readdir(again.path)).sort()).toEqual(['later', 'seeded']);
    expect(cacheDirName('..')).not.toBe('..');
  });

  it('locked: a second user waits for the first; private: a second user gets a new directory of its own, not a copy of the tree being written', async () => {
    const root = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    const tmpDir = tempDir('hoist-cachemounts-tmp-');
    const req = { root, id: 'x', uid: 0, gid: 0, mode: 0o755, tmpDir } as const;
    const first = await openCacheDir({ ...req, sharing: 'locked' });
    let secondGot = false;
    const second = openCacheDir({ ...req, sharing: 'locked' }).then((c) => {
      secondGot = true;
      return c;
    });
    await new Promise((r) => setTimeout(r, 400));
    expect(secondGot).toBe(false);
    // Meanwhile a private user gets a new directory, made as a new cache is (mode, seed), gone after it.
    await writeFile(path.join(first.path, 'f'), 'shared content');
    const priv = await openCacheDir({ ...req, sharing: 'private', mode: 0o700 });
    expect(priv.path).not.toBe(first.path);
    expect(await readdir(priv.path)).toEqual([]);
    expect((await stat(priv.path)).mode & 0o777).toBe(0o700);
    await priv.release();
    expect(existsSync(priv.path)).toBe(false);
    const seeded = await openCacheDir({ ...req, sharing: 'private', seed: async (dir) => { await mkdir(dir); await writeFile(path.join(dir, 'from-stage'), 's'); } });
    expect(await readdir(seeded.path)).toEqual(['from-stage']);
    await seeded.release();
    await first.release();
    const got = await second;
    expect(got.path).toBe(first.path);
    await got.release();
    // Free again: private takes the cache itself.
    const alone = await openCacheDir({ ...req, sharing: 'private' });
    expect(alone.path).toBe(first.path);
    await alone.release();
  });

  it('shared, where the runner copies mounts in and out: steps take turns, so no copy-back undoes another step\'s writes', async () => {
    const root = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    const req = { root, id: 'apt', sharing: 'shared', uid: 0, gid: 0, mode: 0o755, tmpDir: tempDir() } as const;
    const first = await openCacheDir({ ...req, copied: true });
    let secondGot = false;
    const second = openCacheDir({ ...req, copied: true }).then((c) => {
      secondGot = true;
      return c;
    });
    await new Promise((r) => setTimeout(r, 400));
    expect(secondGot).toBe(false);
    // A runner that mounts shares it at once.
    const mounted = await openCacheDir(req);
    expect(mounted.path).toBe(first.path);
    await mounted.release();
    await first.release();
    await (await second).release();
  });

  it('takes over a lock whose process is gone', async () => {
    const root = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    await mkdir(root, { recursive: true });
    await mkdir(path.join(root, 'y'));
    await mkdir(path.dirname(cacheLockFile(root, 'y')));
    await writeFile(cacheLockFile(root, 'y'), '999999999');
    const c = await openCacheDir({ root, id: 'y', sharing: 'locked', uid: 0, gid: 0, mode: 0o755, tmpDir: tempDir() });
    expect((await readFile(cacheLockFile(root, 'y'), 'utf8')).trim()).toBe(ownerTag());
    await c.release();
  });

  it('takes over a lock left without a pid by a crash, once it is old (not one still being written)', async () => {
    const root = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    await mkdir(path.join(root, 'z'), { recursive: true });
    const lock = cacheLockFile(root, 'z');
    await mkdir(path.dirname(lock));
    await writeFile(lock, '');
    await utimes(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const req = { root, id: 'z', sharing: 'locked', uid: 0, gid: 0, mode: 0o755, tmpDir: tempDir() } as const;
    const c = await Promise.race([openCacheDir(req), new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
    expect(c?.path).toBe(path.join(root, 'z'));
    await c?.release();
  });

  it('many builds finding one stale lock at once: one holds it at a time, each gets it in turn', async () => {
    const root = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    await mkdir(path.join(root, 'w'), { recursive: true });
    const req = { root, id: 'w', sharing: 'locked', uid: 0, gid: 0, mode: 0o755, tmpDir: tempDir() } as const;
    let holders = 0;
    let most = 0;
    // Rounds of takers starting a little apart, so that one reads the stale pid while another is replacing the lock.
    for (let round = 0; round < 8; round++) {
      await mkdir(path.dirname(cacheLockFile(root, 'w')), { recursive: true });
      await writeFile(cacheLockFile(root, 'w'), '999999999');
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          for (let n = 0; n < i; n++) await new Promise((r) => setImmediate(r));
          const c = await openCacheDir(req);
          most = Math.max(most, ++holders);
          await new Promise((r) => setTimeout(r, 2));
          holders--;
          await c.release();
        }),
      );
    }
    expect(most).toBe(1);
  });

  it('an id ending in .lock is a cache like any other: neither it nor the id without the suffix takes the other for its lock', async () => {
    const root = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    const req = { uid: 0, gid: 0, mode: 0o755, tmpDir: tempDir() } as const;
    const within = <T>(p: Promise<T>): Promise<T | 'timeout'> => Promise.race([p, new Promise<'timeout'>((r) => setTimeout(r, 10_000, 'timeout'))]);
    const plain = await openCacheDir({ ...req, root, id: 'x', sharing: 'locked' });
    const suffixed = await within(openCacheDir({ ...req, root, id: 'x.lock', sharing: 'locked' }));
    expect(suffixed).not.toBe('timeout');
    if (suffixed === 'timeout') return;
    expect(suffixed.path).toBe(path.join(root, 'x.lock'));
    await writeFile(path.join(suffixed.path, 'f'), 'in the cache x.lock');
    await plain.release();
    await suffixed.release();
    // Made the other way round, the suffixed id's directory is no lock of x's either.
    const root2 = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    const first = await openCacheDir({ ...req, root: root2, id: 'y.lock', sharing: 'shared' });
    const second = await within(openCacheDir({ ...req, root: root2, id: 'y', sharing: 'locked' }));
    expect(second).not.toBe('timeout');
    if (second !== 'timeout') await second.release();
    await first.release();
    expect((await readdir(root2)).sort()).toEqual(['.locks', 'y', 'y.lock']);
  });
});

describe('a step waiting for a cache lock', () => {
  it('ends with the cancel reason (STAGE_CANCELED) when its stage is canceled, not with an abort error', async () => {
    const cacheMountsDir = path.join(tempDir('hoist-cachemounts-'), 'mounts');
    await mkdir(path.dirname(cacheLockFile(cacheMountsDir, 'apt')), { recursive: true });
    // Held by a live process that is not this one (vitest's parent).
    await writeFile(cacheLockFile(cacheMountsDir, 'apt'), `${process.ppid}\n`);
    const stop = new AbortController();
    const ctx = {
      env: { tmpDir: tempDir('hoist-cachemounts-tmp-'), cacheMountsDir, signal: stop.signal, runner: async () => ({ kind: 'userns' }) },
      planned: {},
      createdMtime: () => 0,
    } as unknown as StepContext;
    const files = { resolve: (p: string) => ({ path: p.replace(/^\/+/, '') }) } as unknown as StageFiles;
    const instr = { kind: 'RUN', mounts: ['type=cache,id=apt,target=/var/cache/apt,sharing=locked'], heredocs: [], location: at } as unknown as RunInstr;
    const waiting = prepareStepMounts(ctx, instr, '/', files).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 300));
    const reason = new HoistError('STAGE_CANCELED', 'canceled: another stage of the build failed');
    stop.abort(reason);
    const err = await Promise.race([waiting, new Promise((r) => setTimeout(r, 10_000, 'still waiting'))]);
    expect(err).toBe(reason);
    expect((err as HoistError).code).toBe('STAGE_CANCELED');
  });
});

