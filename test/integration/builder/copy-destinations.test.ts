/**
 * COPY/ADD destinations as BuildKit makes them: extraction through symlinks
 * already in the image, the directories COPY creates, and --parents.
 * Cases transcribed from BuildKit's own tests say so.
 */
import { chmodSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildImage, makeContext } from '../../helpers/build.js';
import { writeTar } from '../../helpers/peers/tarball.js';

const T = 1_600_000_000;

describe('ADD extracts through symlinks already in the image', () => {
  const ctx = makeContext({ 'f.txt': 'f' });
  beforeAll(async () => {
    await writeTar(path.join(ctx, 'rootfs.tar'), [
      { name: 'run/', type: 'directory', mode: 0o755 },
      { name: 'var/', type: 'directory', mode: 0o755 },
      { name: 'var/run', type: 'symlink', linkname: '/run', mode: 0o777 },
      { name: 'opt/', type: 'directory', mode: 0o755 },
      { name: 'opt/up', type: 'symlink', linkname: '../../../../srv', mode: 0o777 },
    ]);
    // BuildKit testDockerfileAddArchiveThroughAbsoluteSymlink (moby#53258): parents explicit below var/run only.
    await writeTar(path.join(ctx, 'payload.tar'), [
      { name: 'var/run/act/', type: 'directory', mode: 0o755 },
      { name: 'var/run/act/actions/', type: 'directory', mode: 0o755 },
      { name: 'var/run/act/actions/broad/', type: 'directory', mode: 0o755 },
      { name: 'var/run/act/actions/broad/.git/', type: 'directory', mode: 0o755 },
      { name: 'var/run/act/actions/broad/.git/HEAD', mode: 0o644, content: 'ref: refs/heads/main\n' },
      { name: 'var/run/act/actions/broad/.git/HEAD.link', type: 'link', linkname: 'var/run/act/actions/broad/.git/HEAD', mode: 0o644 },
    ]);
    await writeTar(path.join(ctx, 'implied.tar'), [{ name: 'var/run/deep/er/file', mode: 0o600, uid: 3, gid: 4, content: 'deep' }]);
    await writeTar(path.join(ctx, 'up.tar'), [{ name: 'up/escaped', mode: 0o644, content: 'inside' }]);
  });

  it('follows an absolute var/run -> /run in the rootfs, hard links included (BuildKit)', async () => {
    const { files, image } = await buildImage('FROM scratch\nADD rootfs.tar /\nADD payload.tar /\n', ctx);
    expect(files.get('var/run')).toMatchObject({ type: 'symlink', linkname: '/run' });
    expect(files.get('run/act/actions/broad/.git/HEAD')?.content.toString()).toBe('ref: refs/heads/main\n');
    expect(files.get('run/act/actions/broad/.git/HEAD.link')).toMatchObject({ type: 'link', linkname: 'run/act/actions/broad/.git/HEAD' });
    const layer = (image.layers[1] ?? []).map((m) => m.name.replace(/\/$/, ''));
    expect(layer.filter((n) => n.startsWith('var'))).toEqual([]);
    expect(layer).toContain('run/act/actions/broad/.git/HEAD.link');
  });

  it('makes parents the archive only implies 0755 root:root, even with --chown; the destination gets the --chown owner', async () => {
    const { files } = await buildImage('FROM scratch\nADD rootfs.tar /\nADD --chown=7:8 implied.tar /\nADD --chown=7:8 implied.tar /new/dest/\n', ctx);
    expect(files.get('run/deep')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
    expect(files.get('run/deep/er/file')).toMatchObject({ mode: 0o600, uid: 7, gid: 8 });
    expect(files.get('new')).toMatchObject({ mode: 0o755, uid: 7, gid: 8 });
    expect(files.get('new/dest')).toMatchObject({ mode: 0o755, uid: 7, gid: 8 });
    expect(files.get('new/dest/var/run')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
  });

  it('never leaves the destination: a link climbing out stops at the destination, as in BuildKit\'s chroot', async () => {
    const { files } = await buildImage('FROM scratch\nADD rootfs.tar /\nADD up.tar /opt/\n', ctx);
    expect(files.get('opt/up')).toMatchObject({ type: 'symlink' });
    expect(files.get('opt/srv/escaped')?.content.toString()).toBe('inside');
    expect(files.has('srv/escaped')).toBe(false);
  });

  it('COPY into a destination whose parent is a symlink in the image lands in the link target', async () => {
    const { files } = await buildImage('FROM scratch\nADD rootfs.tar /\nCOPY f.txt /var/run/a/\nCOPY f.txt /var/run/b\nWORKDIR /var/run\nCOPY f.txt c/\n', ctx);
    expect(files.get('run/a/f.txt')?.content.toString()).toBe('f');
    expect(files.get('run/b')?.content.toString()).toBe('f');
    expect(files.get('run/c/f.txt')?.content.toString()).toBe('f');
    expect(files.get('var/run')).toMatchObject({ type: 'symlink', linkname: '/run' });
  });
});

describe('a copied tree over what the image has at its paths (fsutil copy: lstat, no replacement)', () => {
  // buildah-conformance 159-162 (testdata/replace/symlink-with-directory): tree1/maybe-directory -> directory, tree2/maybe-directory/.
  const ctx = makeContext({
    'tree1/directory/file-in-directory': '',
    'tree1/maybe-directory': { symlink: 'directory' },
    'tree2/maybe-directory/file-in-maybe-directory': '',
    'tree3/maybe-directory': 'a file',
  });

  it.each([
    ['a directory over a symbolic link (159)', 'COPY tree1/ /\nCOPY tree2/ /\n', 'NOT_A_DIRECTORY', /Dockerfile:3: .*cannot copy a directory to "\/maybe-directory": a symlink is in the way/],
    ['a directory over a symbolic link below the destination (162)', 'COPY tree1/ /tree/\nCOPY tree2/ /tree/\n', 'NOT_A_DIRECTORY', /Dockerfile:3: .*"\/tree\/maybe-directory": a symlink is in the way/],
    ['a directory over a file', 'COPY tree3/ /\nCOPY tree2/ /\n', 'NOT_A_DIRECTORY', /"\/maybe-directory": a file is in the way/],
    ['a symbolic link over a directory (160)', 'COPY tree2/ /\nCOPY tree1/ /\n', 'DEST_IS_DIR', /Dockerfile:3: .*cannot replace the directory "\/maybe-directory" with a symbolic link/],
    ['a symbolic link over a directory below the destination (161)', 'COPY tree2/ /tree/\nCOPY tree1/ /tree/\n', 'DEST_IS_DIR', /"\/tree\/maybe-directory" with a symbolic link/],
  ])('%s is refused, as BuildKit refuses it', async (_name, steps, code, message) => {
    const err = (await buildImage(`FROM scratch\n${steps}`, ctx).catch((e: unknown) => e)) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('a directory over a directory merges, and a file or link over a file replaces it', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY tree2/ /\nCOPY tree2/ /\nCOPY tree3/ /x/\nCOPY tree1/ /x/\n', ctx);
    expect(files.get('maybe-directory/file-in-maybe-directory')).toMatchObject({ type: 'file' });
    expect(files.get('x/maybe-directory')).toMatchObject({ type: 'symlink', linkname: 'directory' });
  });
});

describe('directories COPY creates (fsutil Copy, prepareTargetDir, MkdirAll)', () => {
  const ctx = makeContext({ 'tree/sub/f': 'f', 'file': 'x' });
  beforeAll(() => {
    chmodSync(path.join(ctx, 'tree', 'sub'), 0o750);
    chmodSync(path.join(ctx, 'tree'), 0o700);
    utimesSync(path.join(ctx, 'tree'), T, T);
  });

  it('COPY --chown into a new destination: 0755 owned by the --chown owner, not the source directory\'s mode', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --chown=5:6 tree /a/b\n', ctx);
    expect(files.get('a')).toMatchObject({ mode: 0o755, uid: 5, gid: 6 });
    expect(files.get('a/b')).toMatchObject({ mode: 0o755, uid: 5, gid: 6, mtime: T });
    expect(files.get('a/b/sub')).toMatchObject({ mode: 0o750, uid: 5, gid: 6 });
  });

  it('COPY --from into a new destination: 0755 root:root, while the copied tree keeps the stage\'s owners', async () => {
    const { files } = await buildImage('FROM scratch AS one\nCOPY --chown=9:9 tree /built\nFROM scratch\nCOPY --from=one /built /x\nCOPY --from=one /built/ /y/\n', ctx);
    expect(files.get('x')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
    expect(files.get('x/sub')).toMatchObject({ mode: 0o750, uid: 9, gid: 9 });
    expect(files.get('y')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
  });

  it('an octal --chmod is the mode of every directory COPY creates; a symbolic one leaves them 0755', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --chmod=0710 file /p/q/r\nCOPY --chmod=2750 tree /t\nCOPY --chmod=u+x file /s/t/\n', ctx);
    expect(files.get('p')?.mode).toBe(0o710);
    expect(files.get('p/q')?.mode).toBe(0o710);
    expect(files.get('p/q/r')?.mode).toBe(0o710);
    expect(files.get('t')?.mode).toBe(0o750);
    expect(files.get('t/sub')?.mode).toBe(0o2750);
    expect(files.get('s')?.mode).toBe(0o755);
    expect(files.get('s/t')?.mode).toBe(0o755);
  });

  it('an existing destination keeps its own mode and owner', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --chown=1:1 --chmod=0700 file /d/\nCOPY --chown=2:2 tree /d\n', ctx);
    expect(files.get('d')).toMatchObject({ mode: 0o700, uid: 1, gid: 1 });
    expect(files.get('d/sub')).toMatchObject({ uid: 2, gid: 2 });
  });
});

describe('COPY --parents (BuildKit testCopyRelativeParents, testCopyParentsMissingDirectory)', () => {
  const ctx = makeContext({
    'test/a/b/c/d/foo': '',
    'test/a/b/c/d/e/bay': '',
    'test/a/b2/c/d/e/bar': '',
    'test/a/b/c2/d/e/baz': '',
    'test/a/b/c2/d/e2/baz': '',
  });
  beforeAll(() => chmodSync(path.join(ctx, 'test', 'a'), 0o750));

  const under = (files: Map<string, unknown>, dir: string): string[] =>
    [...files.keys()].filter((k) => k.startsWith(`${dir}/`)).map((k) => k.slice(dir.length + 1)).sort();

  it('** spans any number of directories, and each pivot match merges into one tree (doublewildcard)', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --parents /test/a/b*/./c/**/e /out/\n', ctx);
    expect(under(files, 'out')).toEqual(['c', 'c/d', 'c/d/e', 'c/d/e/bar', 'c/d/e/bay']);
  });

  it('two wildcard sources merge into one tree (doubleinputs)', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --parents /test/a/b/c*/./d/**/baz /test/a/b*/./c/**/bar /out/\n', ctx);
    expect(files.has('out/d/e/baz')).toBe(true);
    expect(files.has('out/d/e2/baz')).toBe(true);
    expect(files.has('out/d/e/bay')).toBe(false);
    expect(files.has('out/c/d/e/bar')).toBe(true);
  });

  it('keeps the parents with the source directories\' metadata, and ** matches zero directories too', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --parents test/**/foo test/a/**/b2 /p/\n', ctx);
    expect(under(files, 'p')).toEqual(['test', 'test/a', 'test/a/b', 'test/a/b/c', 'test/a/b/c/d', 'test/a/b/c/d/foo', 'test/a/b2', 'test/a/b2/c', 'test/a/b2/c/d', 'test/a/b2/c/d/e', 'test/a/b2/c/d/e/bar']);
    expect(files.get('p/test/a')?.mode).toBe(0o750);
  });

  it('a wildcard that matches nothing is accepted and still makes the destination (wildcard-nonexistent)', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --parents /test/a/b3*/c /out/\nCOPY --parents /test/a/b/./c2x* /out2/\n', ctx);
    expect(files.get('out')).toMatchObject({ type: 'directory', mode: 0o755 });
    expect(under(files, 'out')).toEqual([]);
    expect(files.has('out2')).toBe(true);
  });

  it('a path without wildcards must exist (nonexistentfile)', async () => {
    await expect(buildImage('FROM scratch\nCOPY --parents /test/nonexistent-file /out/\n', ctx)).rejects.toThrow(/Dockerfile:2: COPY: source "\/test\/nonexistent-file" not found/);
  });
});

describe('a destination is cleaned before its symlinks are followed', () => {
  const ctx = makeContext({ 'f.txt': 'f', 'tree/symlink': { symlink: '/symlink-target/subdirectory' }, 'tree/symlink-target/subdirectory/.keep': '' });

  // buildah's conformance case add-parent-clean: ADD . /symlink/.. lands in /, as Docker (BuildKit's file backend cleanPath).
  it('/link/.. is /, not the parent of the link target', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY tree /\nCOPY f.txt /symlink/..\nADD f.txt /symlink/../added\n', ctx);
    expect(files.get('f.txt')?.content.toString()).toBe('f');
    expect(files.get('added')?.content.toString()).toBe('f');
    expect(files.has('symlink-target/f.txt')).toBe(false);
    expect(files.has('symlink-target/added')).toBe(false);
  });
});
