import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildImage, makeContext } from '../../helpers/build.js';

describe('COPY from the build context', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('copies a unix socket as an empty regular file with its permission bits, as BuildKit does', async () => {
    const ctx = makeContext({ 'a.txt': 'A' });
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path.join(ctx, 'app.sock'), resolve));
    chmodSync(path.join(ctx, 'app.sock'), 0o751);
    const { files } = await buildImage('FROM scratch\nCOPY . /app/\n', ctx);
    const sock = files.get('app/app.sock');
    expect(sock).toMatchObject({ type: 'file', size: 0, mode: 0o751, uid: 0, gid: 0 });
    expect(files.get('app/a.txt')?.content.toString()).toBe('A');
  });

  it('copies a FIFO as a FIFO, never opening it, as BuildKit does (fsutil mknod)', async () => {
    const ctx = makeContext({ 'a.txt': 'A' });
    execFileSync('mkfifo', ['-m', '0640', path.join(ctx, 'pipe')]);
    const { files } = await buildImage('FROM scratch\nCOPY . /app/\nCOPY pipe /single\nCOPY --chmod=600 p* /glob/\n', ctx);
    expect(files.get('app/pipe')).toMatchObject({ type: 'fifo', size: 0, mode: 0o640, uid: 0, gid: 0 });
    expect(files.get('single')).toMatchObject({ type: 'fifo', mode: 0o640 });
    expect(files.get('glob/pipe')).toMatchObject({ type: 'fifo', mode: 0o600 });
    expect(files.get('app/a.txt')?.content.toString()).toBe('A');
  });

  it.runIf(process.getuid?.() === 0)('copies character and block devices with their numbers (as root, where mknod works)', async () => {
    const ctx = makeContext({ 'a.txt': 'A' });
    execFileSync('mknod', ['-m', '0620', path.join(ctx, 'tty9'), 'c', '4', '9']);
    execFileSync('mknod', ['-m', '0660', path.join(ctx, 'big'), 'b', '259', '300000']);
    const { files } = await buildImage('FROM scratch\nCOPY . /dev/\nFROM scratch\nCOPY --from=0 /dev/ /again/\n', ctx);
    expect(files.get('again/tty9')).toMatchObject({ type: 'character-device', mode: 0o620, devmajor: 4, devminor: 9 });
    expect(files.get('again/big')).toMatchObject({ type: 'block-device', mode: 0o660, devmajor: 259, devminor: 300000 });
  });

  it('leaves out what .dockerignore excludes, and keeps what a ! exception brings back under a plain directory', async () => {
    const ctx = makeContext({
      '.dockerignore': 'node_modules\n!node_modules/keep.md\nbuild\n',
      'node_modules/dep/index.js': 'dep',
      'node_modules/keep.md': 'keep',
      'build/out.js': 'out',
      'src/main.ts': 'main',
    });
    chmodSync(path.join(ctx, 'node_modules'), 0o700);
    const { files } = await buildImage('FROM scratch\nCOPY . /app/\n', ctx);
    const names = [...files.keys()].filter((n) => n.startsWith('app/')).sort();
    expect(names).toEqual(['app/.dockerignore', 'app/node_modules', 'app/node_modules/keep.md', 'app/src', 'app/src/main.ts']);
    expect(files.get('app/node_modules')?.mode).toBe(0o755);
  });

  it('with "*" and "!src", only src is copied', async () => {
    const ctx = makeContext({ '.dockerignore': '*\n!src\n', 'node_modules/dep/index.js': 'dep', 'src/a/b.ts': 'b', 'README': 'r' });
    const { files } = await buildImage('FROM scratch\nCOPY . /app/\n', ctx);
    expect([...files.keys()].filter((n) => n.startsWith('app/')).sort()).toEqual(['app/src', 'app/src/a', 'app/src/a/b.ts']);
  });

  it('an excluded directory that holds what a ! exception brings back is a source by name, not by wildcard (as buildah and classic Docker)', async () => {
    const ctx = makeContext({ '.dockerignore': '*\n!src/a.ts\n!x.txt\n', 'src/a.ts': 'a', 'src/b.ts': 'b', 'secret/key': 'k', 'x.txt': 'x' });
    const { files } = await buildImage('FROM scratch\nCOPY src /x/\nCOPY s* x.txt /y/\n', ctx);
    expect([...files.keys()].sort()).toEqual(['x', 'x/a.ts', 'y', 'y/x.txt']);
    await expect(buildImage('FROM scratch\nCOPY secret /x/\n', ctx)).rejects.toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });

  it('a source through a symlinked directory, and a wildcard below it, are read from the link target', async () => {
    const ctx = makeContext({ 'real/x.txt': 'x', 'real/y.md': 'y', 'other/z.txt': 'z', code: { symlink: 'real' } });
    const { files } = await buildImage('FROM scratch\nCOPY code/*.txt /a/\nCOPY code /b\n', ctx);
    expect([...files.keys()].sort()).toEqual(['a', 'a/x.txt', 'b', 'b/x.txt', 'b/y.md']);
  });
});
