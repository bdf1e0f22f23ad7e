/**
 * Kaniko's --context sources (issue 10, "Kaniko drop-in"): a tar.gz context
 * is unpacked without any path escaping the scratch directory, whatever
 * its names and symlinks say; a git context is cloned with the git program
 * at the ref and sub-directory asked for.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openContext, parseContextSpec } from '../../../src/builder/context-source.js';
import { HoistError } from '../../../src/errors.js';
import { tarChunks, type TarMemberInput, type TarType } from '../../../src/tar/index.js';
import { tempDir } from '../../helpers/build.js';

interface Member {
  name: string;
  type?: TarType;
  content?: string;
  linkname?: string;
}

/** A tar.gz written by the project's tar writer, names exactly as given. */
async function tarGz(members: Member[]): Promise<Buffer> {
  const inputs: TarMemberInput[] = members.map((m) => {
    const type = m.type ?? 'file';
    const body = Buffer.from(m.content ?? '');
    const header = {
      name: m.name,
      type,
      mode: type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644,
      uid: 0,
      gid: 0,
      size: type === 'file' ? body.length : 0,
      mtime: 1_700_000_000,
      ...(m.linkname === undefined ? {} : { linkname: m.linkname }),
    };
    return type === 'file' && body.length > 0 ? { header, open: () => [body] } : { header };
  });
  const chunks: Buffer[] = [];
  for await (const c of tarChunks(inputs)) chunks.push(c);
  return gzipSync(Buffer.concat(chunks));
}

/** Every path under `dir`, relative, sorted. */
function listTree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    out.push(rel);
    const st = lstatSync(path.join(dir, name));
    if (st.isDirectory()) out.push(...listTree(path.join(dir, name), rel));
  }
  return out;
}

describe('--context sources', () => {
  it('reads every form Kaniko and Docker write', () => {
    expect(parseContextSpec('/builds/group/app')).toEqual({ kind: 'dir', path: '/builds/group/app' });
    expect(parseContextSpec('dir:///workspace')).toEqual({ kind: 'dir', path: '/workspace' });
    expect(parseContextSpec('tar:///ctx/context.tar.gz')).toEqual({ kind: 'tar', path: '/ctx/context.tar.gz' });
    expect(parseContextSpec('-')).toEqual({ kind: 'stdin' });
    expect(parseContextSpec('tar://stdin')).toEqual({ kind: 'stdin' });
    expect(parseContextSpec('git://github.com/org/repo.git#refs/heads/main')).toEqual({ kind: 'git', url: 'https://github.com/org/repo.git', ref: 'refs/heads/main' });
    expect(parseContextSpec('git://github.com/org/repo.git#refs/heads/main#0123456789abcdef0123456789abcdef01234567', 'http')).toEqual({
      kind: 'git',
      url: 'http://github.com/org/repo.git',
      ref: 'refs/heads/main',
      commit: '0123456789abcdef0123456789abcdef01234567',
    });
    expect(parseContextSpec('https://github.com/org/repo.git#v1.0:docker')).toEqual({ kind: 'git', url: 'https://github.com/org/repo.git', ref: 'v1.0', subdir: 'docker' });
    expect(parseContextSpec('https://github.com/org/repo.git')).toEqual({ kind: 'git', url: 'https://github.com/org/repo.git' });
    expect(parseContextSpec('git@github.com:org/repo.git#main')).toEqual({ kind: 'git', url: 'git@github.com:org/repo.git', ref: 'main' });
  });

  it('refuses the sources hoist cannot read, saying what to do instead', () => {
    for (const value of ['gs://bucket/ctx.tar.gz', 's3://bucket/ctx.tar.gz', 'https://example.com/context.tar.gz']) {
      const err = (() => {
        try {
          parseContextSpec(value);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(HoistError);
      expect((err as HoistError).code).toBe('UNSUPPORTED_CONTEXT');
      expect((err as HoistError).hint).toContain('tar://');
    }
  });

  it('unpacks a tar.gz context', async () => {
    const dir = tempDir('hoist-ctx-tgz-');
    const file = path.join(dir, 'ctx.tar.gz');
    writeFileSync(file, await tarGz([{ name: 'Dockerfile', content: 'FROM scratch\n' }, { name: 'src/', type: 'dir' }, { name: 'src/a.txt', content: 'a' }, { name: 'link', type: 'symlink', linkname: 'src/a.txt' }]));
    const ctx = await openContext({ kind: 'tar', path: file }, { tmpDir: dir });
    try {
      expect(listTree(ctx.dir)).toEqual(['Dockerfile', 'link', 'src', 'src/a.txt']);
      expect(readlinkSync(path.join(ctx.dir, 'link'))).toBe('src/a.txt');
    } finally {
      await ctx.cleanup();
    }
    expect(existsSync(ctx.dir)).toBe(false);
  });

  it('keeps a hostile archive inside its directory: absolute names, symlinks out and writes through them', async () => {
    const dir = tempDir('hoist-ctx-hostile-');
    const outside = path.join(dir, 'outside');
    mkdirSync(outside);
    const file = path.join(dir, 'evil.tar.gz');
    writeFileSync(
      file,
      await tarGz([
        { name: '/abs.txt', content: 'absolute' },
        { name: 'out', type: 'symlink', linkname: outside },
        { name: 'out/planted.txt', content: 'through an absolute link' },
        { name: 'up', type: 'symlink', linkname: '../../../../../../..' },
        { name: `up${outside}/planted2.txt`, content: 'through a relative link' },
      ]),
    );
    const ctx = await openContext({ kind: 'tar', path: file }, { tmpDir: dir });
    try {
      expect(readdirSync(outside)).toEqual([]);
      expect(readFileSync(path.join(ctx.dir, 'abs.txt'), 'utf8')).toBe('absolute');
      // The link's target is taken inside the root, as a chroot would.
      expect(readFileSync(path.join(ctx.dir, outside, 'planted.txt'), 'utf8')).toBe('through an absolute link');
      expect(readFileSync(path.join(ctx.dir, outside, 'planted2.txt'), 'utf8')).toBe('through a relative link');
    } finally {
      await ctx.cleanup();
    }
  });

  it('refuses a name that climbs out with ../ and leaves nothing behind', async () => {
    const dir = tempDir('hoist-ctx-dotdot-');
    const file = path.join(dir, 'evil.tar.gz');
    writeFileSync(file, await tarGz([{ name: 'ok.txt', content: 'ok' }, { name: '../escaped.txt', content: 'x' }]));
    const scratch = path.join(dir, 'scratch');
    mkdirSync(scratch);
    await expect(openContext({ kind: 'tar', path: file }, { tmpDir: scratch })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(existsSync(path.join(dir, 'escaped.txt'))).toBe(false);
    expect(existsSync(path.join(scratch, 'escaped.txt'))).toBe(false);
    expect(readdirSync(scratch)).toEqual([]); // the partial context was removed
  });

  it('reads a tar.gz from a stream (standard input) and refuses a sub-directory that leads out', async () => {
    const dir = tempDir('hoist-ctx-stdin-');
    const data = await tarGz([{ name: 'app/Dockerfile', content: 'FROM scratch\n' }, { name: 'esc', type: 'symlink', linkname: '/' }]);
    const ctx = await openContext({ kind: 'stdin' }, { tmpDir: dir, stdin: Readable.from([data]), subPath: 'app' });
    try {
      expect(listTree(ctx.dir)).toEqual(['Dockerfile']);
    } finally {
      await ctx.cleanup();
    }
    await expect(openContext({ kind: 'stdin' }, { tmpDir: dir, stdin: Readable.from([data]), subPath: '../..' })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    // The archive's link to / would lead to the host's root: refused, and the scratch directory removed.
    await expect(openContext({ kind: 'stdin' }, { tmpDir: dir, stdin: Readable.from([data]), subPath: 'esc' })).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('clones a git context at a ref, with a sub-directory, and without its .git', async () => {
    const dir = tempDir('hoist-ctx-git-');
    const repo = path.join(dir, 'repo');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd: repo, stdio: 'pipe' });
    mkdirSync(repo);
    git('init', '--quiet');
    mkdirSync(path.join(repo, 'docker'));
    writeFileSync(path.join(repo, 'docker', 'Dockerfile'), 'FROM scratch\n# v1\n');
    git('add', '.');
    git('commit', '--quiet', '-m', 'v1');
    git('tag', 'v1');
    const first = git('rev-parse', 'HEAD').toString().trim();
    writeFileSync(path.join(repo, 'docker', 'Dockerfile'), 'FROM scratch\n# v2\n');
    git('commit', '--quiet', '-am', 'v2');

    const url = `file://${repo}`;
    const atTag = await openContext(parseContextSpec(`${url}#v1:docker`), { tmpDir: dir });
    try {
      expect(readFileSync(path.join(atTag.dir, 'Dockerfile'), 'utf8')).toContain('# v1');
      expect(existsSync(path.join(atTag.dir, '..', '.git'))).toBe(false);
    } finally {
      await atTag.cleanup();
    }
    const head = await openContext(parseContextSpec(url), { tmpDir: dir, subPath: 'docker' });
    try {
      expect(readFileSync(path.join(head.dir, 'Dockerfile'), 'utf8')).toContain('# v2');
    } finally {
      await head.cleanup();
    }
    // Kaniko's form names a commit after the ref.
    const atCommit = await openContext({ kind: 'git', url, ref: 'refs/heads/main', commit: first }, { tmpDir: dir });
    try {
      expect(readFileSync(path.join(atCommit.dir, 'docker', 'Dockerfile'), 'utf8')).toContain('# v1');
    } finally {
      await atCommit.cleanup();
    }
    await expect(openContext(parseContextSpec(`${url}#no-such-branch`), { tmpDir: dir })).rejects.toMatchObject({ code: 'GIT_CONTEXT' });
  });
});
