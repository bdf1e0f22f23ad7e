import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { canonicalJson, type KeyValue } from '../../../../src/builder/cache/canonical.js';
import { BUILDER_SEMANTICS, KEY_FORMAT, listingDigest, runKeyEnv, stepKey, type RunKeyFields, type StepKeyInput } from '../../../../src/builder/cache/step-key.js';
import type { FileDigests } from '../../../../src/builder/cache/file-digests.js';
import { entriesDigest } from '../../../../src/builder/executor/step-keys.js';
import type { LayerEntry } from '../../../../snapshot/layer-entry.js';

const run: RunKeyFields = {
  kind: 'RUN',
  argv: ['/bin/sh', '-c', 'make'],
  env: ['PATH=/bin', 'V=1'],
  user: 'root',
  workdir: '/src',
  network: 'default',
  security: 'sandbox',
  mounts: [],
};
const base: StepKeyInput = { parent: 'sha256:' + 'a'.repeat(64), platform: 'linux/amd64', epoch: null, step: run };

describe('canonicalJson', () => {
  it('sorts keys by UTF-8 bytes at every depth and leaves out undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { z: null, '10': true, '9': 'x' }, c: undefined })).toBe('{"a":{"10":true,"9":"x","z":null},"b":1}');
    expect(canonicalJson({ '\u{1F600}': 1, '\uFFFD': 2 })).toBe('{"\uFFFD":2,"\u{1F600}":1}');
  });

  it('gives the text JSON.stringify gives for the same value with its keys sorted (ASCII keys)', () => {
    const sortedDeep = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sortedDeep) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortedDeep((v as Record<string, unknown>)[k])])) : v;
    const value = {
      format: 'hoist.cache.sources/v1',
      entries: [
        { path: 'a "quoted"\\path\n', kind: 'file', mode: 0o4755, uid: 1000, gid: 0, content: 'sha256:00', xattrs: { 'user.z': 'eA==', 'security.capability': 'AQ==' } },
        { path: 'dir', kind: 'dir', mode: 0o755, uid: 0, gid: 0, nested: [[], {}, [1.5, -0, null, true, 'x']] },
      ],
      empty: [],
    };
    expect(canonicalJson(value)).toBe(JSON.stringify(sortedDeep(value)));
  });

  it('refuses numbers JSON cannot hold', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/NaN/);
  });
});

describe('stepKey', () => {
  it('is a sha256 digest that does not depend on the order fields were written in', () => {
    const reordered: StepKeyInput = { step: { ...run, mounts: [], argv: [...run.argv] }, epoch: null, platform: base.platform, parent: base.parent };
    expect(stepKey(base)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stepKey(reordered)).toBe(stepKey(base));
  });

  it('is the README\'s canonical JSON, with the builder semantics number, so that a hoist whose steps make other files misses what an older one cached', () => {
    const text = canonicalJson({ format: KEY_FORMAT, builder: BUILDER_SEMANTICS, parent: base.parent, platform: base.platform, epoch: null, step: run as unknown as KeyValue });
    expect(text.startsWith(`{"builder":${BUILDER_SEMANTICS},"epoch":null,"format":"hoist.cache.step/v1","parent":`)).toBe(true);
    expect(stepKey(base)).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
    const withoutBuilder = canonicalJson({ format: KEY_FORMAT, parent: base.parent, platform: base.platform, epoch: null, step: run as unknown as KeyValue });
    expect(stepKey(base)).not.toBe(`sha256:${createHash('sha256').update(withoutBuilder).digest('hex')}`);
  });

  it('changes with every field that can change the result', () => {
    const variants: StepKeyInput[] = [
      { ...base, parent: 'sha256:' + 'b'.repeat(64) },
      { ...base, platform: 'linux/arm64' },
      { ...base, epoch: 0 },
      { ...base, step: { ...run, argv: ['/bin/sh', '-c', 'make all'] } },
      { ...base, step: { ...run, env: ['PATH=/bin', 'V=2'] } },
      { ...base, step: { ...run, user: 'app' } },
      { ...base, step: { ...run, workdir: '/' } },
      { ...base, step: { ...run, network: 'none' } },
      { ...base, step: { ...run, mounts: [{ type: 'cache', target: '/root/.cache', source: 'go' }] } },
    ];
    const keys = new Set([stepKey(base), ...variants.map(stepKey)]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it('keeps apart inputs that joined strings would confuse', () => {
    const a = { ...base, step: { ...run, argv: ['a b', 'c'] } };
    const b = { ...base, step: { ...run, argv: ['a', 'b c'] } };
    expect(stepKey(a)).not.toBe(stepKey(b));
    const e1 = { ...base, step: { ...run, env: ['A=1,B=2'] } };
    const e2 = { ...base, step: { ...run, env: ['A=1', 'B=2'] } };
    expect(stepKey(e1)).not.toBe(stepKey(e2));
  });
});

describe('runKeyEnv', () => {
  it('sorts by name, keeps the last value of a name, and leaves the proxy variables out', () => {
    const env = runKeyEnv(
      [
        ['PATH', '/bin'],
        ['http_proxy', 'http://proxy:3128'],
        ['A', '1'],
        ['A', '2'],
      ],
      new Set(['http_proxy', 'HTTP_PROXY']),
    );
    expect(env).toEqual(['A=2', 'PATH=/bin']);
  });
});

describe('listingDigest', () => {
  const file = { path: 'a.txt', kind: 'file', mode: 0o644, uid: 0, gid: 0, content: `sha256:${'1'.repeat(64)}` as const };
  it('changes with content, mode, owner, link target and names, not with anything else', () => {
    const d = listingDigest([file]);
    expect(listingDigest([{ ...file }])).toBe(d);
    for (const changed of [
      { ...file, content: `sha256:${'2'.repeat(64)}` as const },
      { ...file, mode: 0o755 },
      { ...file, uid: 1000 },
      { ...file, path: 'b.txt' },
      { ...file, kind: 'symlink', content: undefined, linkTarget: 'x' },
    ]) {
      expect(listingDigest([changed])).not.toBe(d);
    }
    expect(listingDigest([file, { ...file, path: 'b.txt' }])).not.toBe(listingDigest([{ ...file, path: 'b.txt' }, file]));
  });
});

describe('entriesDigest', () => {
  const node = (minor: number): LayerEntry => ({ path: 'dev/node', kind: 'char-device', mode: 0o666, uid: 0, gid: 0, mtime: 0, devmajor: 1, devminor: minor });
  it('changes with a device node\'s numbers (mknod c 1 3 then c 1 5 was a cache hit that kept 1,3)', async () => {
    const unused = undefined as unknown as FileDigests; // no regular file: nothing is hashed
    const d = await entriesDigest([node(3)], undefined, unused);
    expect(await entriesDigest([node(3)], undefined, unused)).toBe(d);
    expect(await entriesDigest([node(5)], undefined, unused)).not.toBe(d);
    expect(await entriesDigest([{ ...node(3), devmajor: 4 } as LayerEntry], undefined, unused)).not.toBe(d);
  });

  it('leaves the keys of sources without device nodes as they were', async () => {
    const unused = undefined as unknown as FileDigests;
    const dir: LayerEntry = { path: 'etc', kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 };
    expect(await entriesDigest([dir], undefined, unused)).toBe(listingDigest([{ path: 'etc', kind: 'dir', mode: 0o755, uid: 0, gid: 0 }]));
  });
});
