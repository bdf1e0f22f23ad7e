import { describe, expect, it } from 'vitest';
import { DockerfileError } from '../../../src/dockerfile/errors.js';
import { chmodSync, cpSync, rmSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage, makeContext, tempDir } from '../../helpers/build.js';

const T = 1_600_000_000;

/** testdata/build/copy-context, plus what git cannot store: special modes and mtimes. */
function copyContextFromTestdata(): string {
  const src = fileURLToPath(new URL('../../../testdata/build/copy-context/', import.meta.url));
  const ctx = path.join(tempDir('hoist-copyctx-'), 'ctx');
  cpSync(src, ctx, { recursive: true, verbatimSymlinks: true });
  rmSync(path.join(ctx, 'README.md'));
  chmodSync(path.join(ctx, 'a.txt'), 0o640);
  utimesSync(path.join(ctx, 'a.txt'), T, T);
  utimesSync(path.join(ctx, 'dir', 'x'), T, T);
  chmodSync(path.join(ctx, 'tool'), 0o4755);
  chmodSync(path.join(ctx, 'shared'), 0o2775);
  return ctx;
}

function kindOf(type: string): string {
  return type === 'directory' ? 'dir' : type;
}

/** The build's error, with the context directory taken out of its message. */
async function fail(dockerfile: string, context: string): Promise<{ message: string; hint: string | undefined }> {
  try {
    await buildImage(dockerfile, context);
  } catch (err) {
    expect(err).toBeInstanceOf(DockerfileError);
    const e = err as DockerfileError;
    return { message: e.message.replace(`${context}/`, ''), hint: e.hint };
  }
  throw new Error('expected the build to fail');
}

describe('COPY follows Docker', () => {
  const ctx = copyContextFromTestdata();

  it('a trailing slash makes the destination a directory', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY a.txt /file\nCOPY a.txt /into/\n', ctx);
    expect(files.get('file')?.content.toString()).toBe('A');
    expect(files.get('into/a.txt')?.content.toString()).toBe('A');
    expect(kindOf(files.get('into')?.type ?? '')).toBe('dir');
  });

  it('an existing directory destination receives the file even without a slash', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY a.txt /d/\nCOPY b.txt /d\n', ctx);
    expect(files.get('d/b.txt')?.content.toString()).toBe('B');
  });

  it('a directory source copies its contents, keeping inner symlinks', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY dir /out\n', ctx);
    expect(files.get('out/x')?.content.toString()).toBe('X');
    expect(files.get('out/sub/y')?.content.toString()).toBe('Y');
    expect(files.get('out/link')).toMatchObject({ type: 'symlink', linkname: 'x' });
    expect(files.has('out/dir')).toBe(false);
  });

  it('wildcards follow Go filepath.Match and need a directory destination', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY *.txt [c]?md /w/\n', ctx);
    expect([...files.keys()].filter((k) => k.startsWith('w/')).sort()).toEqual(['w/a.txt', 'w/b.txt', 'w/c.md']);
    const err = await fail('FROM scratch\nCOPY a.txt b.txt /notdir\n', ctx);
    expect(err.message).toBe(
      'Dockerfile:2: COPY: when using COPY with more than one source file, the destination must be a directory and end with a /',
    );
  });

  it('a wildcard that matches nothing is an error', async () => {
    const err = await fail('FROM scratch\nCOPY *.nope /w/\n', ctx);
    expect(err.message).toContain('Dockerfile:2: COPY: no source files were specified');
  });

  it('a relative destination is relative to WORKDIR, and missing parents are created 0755', async () => {
    const { files } = await buildImage('FROM scratch\nWORKDIR /srv/app\nCOPY a.txt conf/\n', ctx);
    expect(files.get('srv/app/conf/a.txt')?.content.toString()).toBe('A');
    expect(files.get('srv/app/conf')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
  });

  it('files are 0:0 with their mode and mtime; suid and sgid are kept', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY a.txt tool shared /\n', ctx);
    expect(files.get('a.txt')).toMatchObject({ mode: 0o640, uid: 0, gid: 0, mtime: T });
    expect(files.get('tool')?.mode).toBe(0o4755);
    expect(files.get('shared')?.mode).toBe(0o2775);
  });

  it('--chown takes ids, and --chmod takes octal or symbolic modes', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --chown=1000:2000 --chmod=0600 a.txt /o/\nCOPY --chown=7 --chmod=u+x,g-r a.txt /p/\n', ctx);
    expect(files.get('o/a.txt')).toMatchObject({ uid: 1000, gid: 2000, mode: 0o600 });
    expect(files.get('o')).toMatchObject({ uid: 1000, gid: 2000 });
    expect(files.get('p/a.txt')).toMatchObject({ uid: 7, gid: 7, mode: 0o700 });
  });

  it('--chown names come from the stage\'s /etc/passwd and /etc/group', async () => {
    const c = makeContext({ 'passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n', 'group': 'root:x:0:\nstaff:x:50:\n', 'f': 'f' });
    const { files } = await buildImage('FROM scratch\nCOPY passwd group /etc/\nCOPY --chown=app:staff f /f\nCOPY --chown=app f /g\n', c);
    expect(files.get('f')).toMatchObject({ uid: 1001, gid: 50 });
    expect(files.get('g')).toMatchObject({ uid: 1001, gid: 1001 });
    const err = await fail('FROM scratch\nCOPY passwd /etc/\nCOPY --chown=nobody f /f\n', c);
    expect(err.message).toBe('Dockerfile:3: unable to find user nobody: no matching entries in passwd file');
  });

  it('a top-level symlink source is followed and keeps its own name', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY top-link /t/\nCOPY dirlink /dl/\n', ctx);
    expect(files.get('t/top-link')).toMatchObject({ type: 'file' });
    expect(files.get('t/top-link')?.content.toString()).toBe('A');
    expect(files.get('dl/x')?.content.toString()).toBe('X');
  });

  it('an existing destination directory keeps its own mode and owner (the Kaniko /tmp bug)', async () => {
    const c = makeContext({ 'base/tmp': { dir: true, mode: 0o1777 }, 'data/f': 'f' });
    const { image, files } = await buildImage('FROM scratch\nCOPY base /\nCOPY data /tmp/\n', c);
    expect(files.get('tmp')?.mode).toBe(0o1777);
    const second = image.layers[1] ?? [];
    expect(second.find((m) => m.name.replace(/\/$/, '') === 'tmp')?.mode).toBe(0o1777);
  });

  it('COPY --from takes a stage name or index and keeps owners', async () => {
    const { files } = await buildImage('FROM scratch AS one\nCOPY --chown=5:6 a.txt /built/a\nFROM scratch\nCOPY --from=one /built /x\nCOPY --from=0 /built/a /y\n', ctx);
    expect(files.get('x/a')).toMatchObject({ uid: 5, gid: 6 });
    expect(files.get('y')?.content.toString()).toBe('A');
  });

  it('--exclude leaves out matching files', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --exclude=sub --exclude=*.md . /e/\n', ctx);
    expect(files.has('e/dir/x')).toBe(true);
    expect(files.has('e/dir/sub/y')).toBe(true);
    expect(files.has('e/c.md')).toBe(false);
    const { files: f2 } = await buildImage('FROM scratch\nCOPY --exclude=sub dir /e/\n', ctx);
    expect(f2.has('e/sub')).toBe(false);
    expect(f2.has('e/x')).toBe(true);
  });

  it('--parents keeps the source path, after a /./ pivot if any', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY --parents dir/sub/y a.txt /p/\nCOPY --parents ./dir/./sub/y /q/\n', ctx);
    expect(files.has('p/dir/sub/y')).toBe(true);
    expect(files.has('p/a.txt')).toBe(true);
    expect(files.has('q/sub/y')).toBe(true);
  });

  it('a destination through a symlink lands in the link target', async () => {
    const c = makeContext({ 'tree/real/keep': 'k', 'tree/link': { symlink: 'real' }, 'f': 'f' });
    const { files } = await buildImage('FROM scratch\nCOPY tree /\nCOPY f /link/\n', c);
    expect(files.get('link')).toMatchObject({ type: 'symlink', linkname: 'real' });
    expect(files.get('real/f')?.content.toString()).toBe('f');
  });

  it('COPY heredocs write files (expanded unless quoted)', async () => {
    const { files } = await buildImage("FROM scratch\nENV WHO=world\nCOPY <<EOF <<'RAW' /h/\nhello $WHO\nEOF\n$WHO\nRAW\n", ctx);
    expect(files.get('h/EOF')?.content.toString()).toBe('hello world\n');
    expect(files.get('h/RAW')?.content.toString()).toBe('$WHO\n');
  });
});

describe('the build context is a boundary', () => {
  const outside = makeContext({ 'secret': 'top secret' });
  const ctx = makeContext({
    'ok': 'ok',
    'escape': { symlink: `${outside}/secret` },
    'rel-escape': { symlink: '../../../../../../../../etc/passwd' },
    'ignored.log': 'log',
    'keep/ignored.log': 'log',
    '.dockerignore': '*.log\n',
  });

  it('refuses ../ sources', async () => {
    const err = await fail('FROM scratch\nCOPY ../x /\n', ctx);
    expect(err.message).toBe('Dockerfile:2: source "../x" is outside the build context');
    expect(err.hint).toContain('inside the build context');
  });

  it('refuses symlinks that lead outside, absolute or relative', async () => {
    expect((await fail('FROM scratch\nCOPY escape /\n', ctx)).message).toBe('Dockerfile:2: source "escape" is outside the build context');
    expect((await fail('FROM scratch\nCOPY rel-escape /\n', ctx)).message).toBe('Dockerfile:2: source "rel-escape" is outside the build context');
  });

  it('.dockerignore hides files from COPY, and names the likely cause', async () => {
    const { files } = await buildImage('FROM scratch\nCOPY . /c/\n', ctx);
    expect(files.has('c/ok')).toBe(true);
    expect(files.has('c/ignored.log')).toBe(false);
    expect(files.has('c/keep/ignored.log')).toBe(true);
    const err = await fail('FROM scratch\nCOPY ignored.log /\n', ctx);
    expect(err.message).toBe('Dockerfile:2: COPY: source "ignored.log" not found in build context (is it excluded by .dockerignore?)');
  });
});


describe('COPY regressions found by the buildah differential suite', () => {
  it('a directory destination COPY creates is 0755 root:root whatever the source directory (fsutil prepareTargetDir)', async () => {
    const c = makeContext({ 'private/f': 'f', 'private/inner/g': 'g' });
    chmodSync(path.join(c, 'private', 'inner'), 0o700);
    chmodSync(path.join(c, 'private'), 0o700);
    utimesSync(path.join(c, 'private'), T, T);
    const { files } = await buildImage('FROM scratch\nCOPY private/ /slash/\nCOPY private /noslash\n', c);
    expect(files.get('slash')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
    expect(files.get('noslash')).toMatchObject({ mode: 0o755, uid: 0, gid: 0, mtime: T });
    expect(files.get('noslash/inner')?.mode).toBe(0o700);
  });

  it('a directory inside a copied tree takes the source metadata even over an existing one', async () => {
    const c = makeContext({ 'a/sub/x': 'x', 'b/sub/y': 'y' });
    chmodSync(path.join(c, 'a', 'sub'), 0o700);
    chmodSync(path.join(c, 'b', 'sub'), 0o750);
    const { files } = await buildImage('FROM scratch\nCOPY a/ /x/\nCOPY b/ /x/\n', c);
    expect(files.get('x/sub')?.mode).toBe(0o750);
  });

  it('.dockerignore exceptions re-include files under an excluded directory', async () => {
    const c = makeContext({ 'folder1/file1': '1', 'folder1/file2': '2', '.dockerignore': '**\n!folder1/file1\n' });
    const { files } = await buildImage('FROM scratch\nADD folder1 /f1\n', c);
    expect(files.get('f1/file1')?.content.toString()).toBe('1');
    expect(files.has('f1/file2')).toBe(false);
    expect(files.get('f1')?.mode).toBe(0o755);
  });

  it('a wildcard matching nothing is fine when another source matched', async () => {
    const c = makeContext({ 'a.txt': 'a' });
    const { files } = await buildImage('FROM scratch\nCOPY *.nope a.txt /d/\n', c);
    expect(files.has('d/a.txt')).toBe(true);
  });

  it('COPY --parents ./ copies the whole context under the destination', async () => {
    const c = makeContext({ 'x/y/f': 'f', 'top': 't' });
    const { files } = await buildImage('FROM scratch\nCOPY --parents ./ /parents/\n', c);
    expect(files.has('parents/x/y/f')).toBe(true);
    expect(files.has('parents/top')).toBe(true);
  });
});
