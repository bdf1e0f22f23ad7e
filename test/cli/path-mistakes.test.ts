/**
 * Ordinary path mistakes are the user's errors (exit 1, the path, a hint),
 * never internal faults (exit 70), for every verb that writes a file or a
 * layout and for the cache directory (issue 11). test/cli/errors.test.ts
 * covers the build's checks before it runs; this table covers the rest.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist, runCli } from '../helpers/cli.js';

describe('path mistakes: exit 1 with the path and a hint', () => {
  let out: string;
  let archive: string;
  let cache: string[];
  beforeAll(() => {
    buildCli();
    out = tempDir('hoist-pathmistakes-');
    archive = path.join(out, 'hello.tar');
    cache = ['--cache-dir', path.join(out, 'cache')];
    const r = hoist(['build', 'testdata/examples/hello', '--output', `type=oci,dest=${archive}`, ...cache]);
    expect(r.status).toBe(0);
    writeFileSync(path.join(out, 'file'), 'x');
    mkdirSync(path.join(out, 'dir'));
    symlinkSync(path.join(out, 'gone'), path.join(out, 'dangling'));
  });

  it.each<[string, () => { args: string[]; env?: Record<string, string>; message: string }]>([
    ['copy to an archive in a missing directory', () => ({ args: ['copy', `oci-archive:${archive}`, `oci-archive:${path.join(out, 'nodir', 'x.tar')}`], message: path.join(out, 'nodir') })],
    ['copy to an archive that is a directory', () => ({ args: ['copy', `oci-archive:${archive}`, `docker-archive:${path.join(out, 'dir')}:a:1`], message: `${path.join(out, 'dir')}` })],
    ['copy to a layout that is a file', () => ({ args: ['copy', `oci-archive:${archive}`, `oci-layout:${path.join(out, 'file')}:a`], message: `${path.join(out, 'file')} is not a directory` })],
    ['copy to a layout under /proc', () => ({ args: ['copy', `oci-archive:${archive}`, 'oci-layout:/proc/hoist-layout:a'], message: '/proc' })],
    ['copy to an archive under /proc', () => ({ args: ['copy', `oci-archive:${archive}`, 'oci-archive:/proc/hoist.tar'], message: '/proc/hoist.tar' })],
    ['copy to a layout under a file', () => ({ args: ['copy', `oci-archive:${archive}`, `oci-layout:${path.join(out, 'file', 'layout')}:a`], message: `${path.join(out, 'file')}` })],
    ['export to a missing directory', () => ({ args: ['export', `oci-archive:${archive}`, path.join(out, 'nodir', 'fs.tar')], message: path.join(out, 'nodir') })],
    ['export to a directory', () => ({ args: ['export', `oci-archive:${archive}`, path.join(out, 'dir')], message: path.join(out, 'dir') })],
    ['export under /proc', () => ({ args: ['export', `oci-archive:${archive}`, '/proc/hoist-fs.tar'], message: '/proc/hoist-fs.tar' })],
    ['build: an archive under /proc', () => ({ args: ['build', 'testdata/examples/hello', '--output', 'type=oci,dest=/proc/hoist.tar'], message: '/proc' })],
    ['build: --metadata-file is a directory', () => ({ args: ['build', 'testdata/examples/hello', '--output', `type=oci,dest=${path.join(out, 'b.tar')}`, '--metadata-file', path.join(out, 'dir')], message: `${path.join(out, 'dir')} is a directory` })],
    ['build: --digest-file in a missing directory', () => ({ args: ['build', 'testdata/examples/hello', '--output', `type=oci,dest=${path.join(out, 'b.tar')}`, '--digest-file', path.join(out, 'nodir', 'd')], message: path.join(out, 'nodir') })],
    ['build: --cache-dir is a file', () => ({ args: ['build', 'testdata/examples/hello', '--output', `type=oci,dest=${path.join(out, 'b.tar')}`, '--cache-dir', path.join(out, 'file')], message: `${path.join(out, 'file')} is not a directory` })],
    ['copy to a layout that is a dangling symbolic link', () => ({ args: ['copy', `oci-archive:${archive}`, `oci-layout:${path.join(out, 'dangling')}:a`], message: `${path.join(out, 'dangling')} is a symbolic link` })],
    ['copy to a layout whose index.json is a directory', () => {
      const layout = path.join(out, 'bad-index');
      mkdirSync(path.join(layout, 'index.json'), { recursive: true });
      return { args: ['copy', `oci-archive:${archive}`, `oci-layout:${layout}:a`], message: path.join(layout, 'index.json') };
    }],
    ['copy to a layout whose blobs/sha256 is a file', () => {
      const layout = path.join(out, 'bad-blobs');
      mkdirSync(path.join(layout, 'blobs'), { recursive: true });
      writeFileSync(path.join(layout, 'blobs', 'sha256'), 'x');
      return { args: ['copy', `oci-archive:${archive}`, `oci-layout:${layout}:a`], message: path.join(layout, 'blobs', 'sha256') };
    }],
    ['copy from a layout that is a file', () => ({ args: ['copy', `oci-layout:${path.join(out, 'file')}:a`, `oci-archive:${path.join(out, 'y.tar')}`], message: path.join(out, 'file') })],
    ['build: --cache-dir under a dangling symlink', () => ({ args: ['build', 'testdata/examples/hello', '--output', `type=oci,dest=${path.join(out, 'b.tar')}`, '--cache-dir', path.join(out, 'dangling', 'c')], message: `${path.join(out, 'dangling')} is a symbolic link` })],
    ['build: a dangling ~/.cache (the default cache)', () => {
      const home = path.join(out, 'home');
      mkdirSync(home, { recursive: true });
      symlinkSync(path.join(out, 'gone-cache'), path.join(home, '.cache'));
      return { args: ['build', 'testdata/examples/hello', '--output', `type=oci,dest=${path.join(out, 'c.tar')}`], env: { HOME: home, HOIST_CACHE_DIR: '' }, message: `${path.join(home, '.cache')} is a symbolic link` };
    }],
  ])('%s', async (_name, make) => {
    const { args, env, message } = make();
    const explicitCache = args.includes('--cache-dir') || env !== undefined;
    const r = await runCli([...args, ...(explicitCache ? [] : cache)], { env });
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).toContain(message);
    expect(r.stderr).toMatch(/\nhint: /);
    expect(r.status).toBe(1);
  }, 130_000);
});
