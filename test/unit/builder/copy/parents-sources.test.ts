import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { resolveParentsSource } from '../../../../src/builder/copy/parents-sources.js';
import { resolveInSource } from '../../../../src/builder/copy/resolve-sources.js';
import { ViewFs } from '../../../../src/builder/copy/source-fs.js';
import { FsView } from '../../../../snapshot/fs-view.js';
import type { LayerEntry } from '../../../../snapshot/layer-entry.js';

const meta = { mode: 0o755, uid: 0, gid: 0, mtime: 0 };
const file = (path: string): LayerEntry => ({ kind: 'file', path, ...meta, size: 0, open: () => Readable.from([]) });
const link = (path: string, linkname: string): LayerEntry => ({ kind: 'symlink', path, ...meta, linkname });

const fs = new ViewFs(
  FsView.empty().withLayer([
    file('t/a/b/c/d/foo'),
    file('t/a/b/c/d/e/bay'),
    file('t/a/b2/c/d/e/bar'),
    file('t/a/b/c2/d/e/baz'),
    link('t/a/b/c2/ln', 'd'),
    link('t/up', '../../../t/a'),
  ]),
  'stage "base"',
);

async function found(source: string): Promise<Array<[string, string[]]>> {
  return (await resolveParentsSource(fs, source, 'COPY')).map((p) => [p.root, p.matches.map((m) => m.rel)]);
}

describe('resolveParentsSource', () => {
  it('splits at the first /./ and resolves a wildcard pivot to every directory it matches', async () => {
    expect(await found('/t/a/b*/./c/**/e')).toEqual([
      ['t/a/b', ['c/d/e']],
      ['t/a/b2', ['c/d/e']],
    ]);
  });

  it('lets ** match zero or more directories, stopping at the first match of each branch', async () => {
    expect(await found('t/**/d')).toEqual([['', ['t/a/b/c/d', 't/a/b/c2/d', 't/a/b2/c/d']]]);
    expect(await found('t/a/b/./**/ba?')).toEqual([['t/a/b', ['c/d/e/bay', 'c2/d/e/baz']]]);
  });

  it('does not enter symlinks while walking, but matches them as they are', async () => {
    expect(await found('t/a/b/./c2/l*')).toEqual([['t/a/b', ['c2/ln']]]);
    expect((await resolveParentsSource(fs, 't/a/b/./c2/ln', 'COPY'))[0]?.matches[0]?.node.kind).toBe('symlink');
  });

  it('a pivot through a symlink is resolved inside the stage', async () => {
    expect(await found('t/up/./b/c/d/foo')).toEqual([['t/a', ['b/c/d/foo']]]);
    expect((await resolveInSource(fs, 't/up', true, 't/up')).rel).toBe('t/a');
  });

  it('a wildcard may match nothing; a plain path must exist', async () => {
    expect(await found('t/a/nope*/c')).toEqual([['', []]]);
    expect(await found('t/x*/./c')).toEqual([]);
    await expect(found('t/a/missing')).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });
});
