import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, makeContext } from '../../helpers/build.js';
import { sha256 } from '../../helpers/oci-reader.js';

describe('ADD', () => {
  const ctx = makeContext({ 'payload/inner/file.txt': 'inside', 'payload/top.txt': 'top', 'plain.txt': 'plain' });
  beforeAll(() => {
    // Archives whose names say nothing about their content: detection is by content.
    execFileSync('tar', ['-czf', path.join(ctx, 'bundle.data'), '-C', path.join(ctx, 'payload'), '.']);
    execFileSync('tar', ['-cJf', path.join(ctx, 'bundle.txz'), '-C', path.join(ctx, 'payload'), '.']);
    execFileSync('tar', ['-cjf', path.join(ctx, 'bundle.bz'), '-C', path.join(ctx, 'payload'), '.']);
    execFileSync('tar', ['-cf', path.join(ctx, 'bundle.tar'), '-C', path.join(ctx, 'payload'), '.']);
  });

  it.each(['bundle.data', 'bundle.txz', 'bundle.bz', 'bundle.tar'])('extracts the local archive %s into the destination', async (name) => {
    const { files } = await buildImage(`FROM scratch\nADD ${name} /opt/app\n`, ctx);
    expect(files.get('opt/app/inner/file.txt')?.content.toString()).toBe('inside');
    expect(files.get('opt/app/top.txt')?.content.toString()).toBe('top');
  });

  it('copies any other file as it is, and --unpack=false copies archives too', async () => {
    const { files } = await buildImage('FROM scratch\nADD plain.txt /p/\nADD --unpack=false bundle.data /raw/\n', ctx);
    expect(files.get('p/plain.txt')?.content.toString()).toBe('plain');
    expect(files.get('raw/bundle.data')?.type).toBe('file');
  });

  it('--chown applies to extracted members', async () => {
    const { files } = await buildImage('FROM scratch\nADD --chown=33:44 bundle.tar /x/\n', ctx);
    expect(files.get('x/top.txt')).toMatchObject({ uid: 33, gid: 44 });
  });

  it('like COPY, a wildcard may match nothing when another source matches; when none does, it is an error', async () => {
    const { files } = await buildImage('FROM scratch\nADD *.nope plain.txt /w/\n', ctx);
    expect([...files.keys()].filter((k) => k.startsWith('w/'))).toEqual(['w/plain.txt']);
    await expect(buildImage('FROM scratch\nADD *.nope *.none /w/\n', ctx)).rejects.toThrow(/\/Dockerfile:2: ADD: no source files were specified/);
  });

  it('only a lower-case http:// or https:// prefix makes a URL (BuildKit): HTTP://... is a local path', async () => {
    await expect(buildImage('FROM scratch\nADD HTTP://127.0.0.1:1/x /x\n', ctx)).rejects.toThrow('Dockerfile:2: ADD: source "HTTP://127.0.0.1:1/x" not found in build context');
  });

  describe('several sources into a destination without a trailing slash (BuildKit)', () => {
    const multi = makeContext({
      'one/foo': 'content0',
      'two/bar': 'content1',
      'gz/baz': 'content2',
      'dir1/keep.txt': 'kept 1',
      'dir1/drop.mp3': 'dropped',
      'dir2/sub/keep.txt': 'kept 2',
      'dir2/drop.mp3': 'dropped',
      'a.txt': 'a',
      'b.txt': 'b',
    });
    beforeAll(() => {
      execFileSync('tar', ['-cf', path.join(multi, 't.tar'), '-C', path.join(multi, 'one'), 'foo']);
      execFileSync('tar', ['-cf', path.join(multi, 'b.tar'), '-C', path.join(multi, 'two'), 'bar']);
      execFileSync('tar', ['-czf', path.join(multi, 'c.tar'), '-C', path.join(multi, 'gz'), 'baz']);
    });

    it('ADD *.tar /dest extracts every matching archive into /dest (testDockerfileAddArchiveWildcard)', async () => {
      const { files } = await buildImage('FROM scratch\nADD *.tar /dest\n', multi);
      expect(files.get('dest')?.type).toBe('directory');
      expect(files.get('dest/foo')?.content.toString()).toBe('content0');
      expect(files.get('dest/bar')?.content.toString()).toBe('content1');
      expect(files.get('dest/baz')?.content.toString()).toBe('content2');
      expect([...files.keys()].filter((k) => k.startsWith('dest/')).sort()).toEqual(['dest/bar', 'dest/baz', 'dest/foo']);
    });

    it('ADD --exclude=... dir* /dest copies the contents of every matching directory into /dest', async () => {
      const { files } = await buildImage('FROM scratch\nADD --exclude=*.mp3 dir* /5\n', multi);
      expect(files.get('5/keep.txt')?.content.toString()).toBe('kept 1');
      expect(files.get('5/sub/keep.txt')?.content.toString()).toBe('kept 2');
      expect([...files.keys()].filter((k) => k.endsWith('.mp3'))).toEqual([]);
      expect(files.has('5/dir1')).toBe(false);
    });

    it('still wants dest/ for several plain files, or files mixed with archives', async () => {
      await expect(buildImage('FROM scratch\nADD a.txt b.txt /dest\n', multi)).rejects.toThrow(
        /Dockerfile:2: .*more than one source file, the destination must be a directory and end with a \//,
      );
      await expect(buildImage('FROM scratch\nADD t.tar a.txt /dest\n', multi)).rejects.toThrow(/must be a directory and end with a \//);
      const { files } = await buildImage('FROM scratch\nADD t.tar a.txt /dest/\n', multi);
      expect(files.get('dest/foo')?.content.toString()).toBe('content0');
      expect(files.get('dest/a.txt')?.content.toString()).toBe('a');
    });
  });

  describe('from a URL', () => {
    let server: Server;
    let base: string;
    const body = Buffer.from('downloaded content\n');
    beforeAll(async () => {
      server = createServer((req, res) => {
        if (req.url === '/files/tool.sh') {
          res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT', 'Content-Length': body.length });
          res.end(body);
        } else {
          res.writeHead(404).end('no');
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('downloads with mode 0600, the URL\'s file name and Last-Modified as mtime', async () => {
      const { files } = await buildImage(`FROM scratch\nADD ${base}/files/tool.sh /bin/\nADD ${base}/files/tool.sh /named\n`, ctx);
      expect(files.get('bin/tool.sh')).toMatchObject({ mode: 0o600, uid: 0, gid: 0, mtime: 1445412480 });
      expect(files.get('bin/tool.sh')?.content.equals(body)).toBe(true);
      expect(files.get('named')?.content.equals(body)).toBe(true);
    });

    it('--checksum is verified', async () => {
      const good = sha256(body);
      const { files } = await buildImage(`FROM scratch\nADD --checksum=${good} ${base}/files/tool.sh /t\n`, ctx);
      expect(files.has('t')).toBe(true);
      const bad = `sha256:${'0'.repeat(64)}`;
      await expect(buildImage(`FROM scratch\nADD --checksum=${bad} ${base}/files/tool.sh /t\n`, ctx)).rejects.toThrow(/Dockerfile:2: .*checksum/i);
    });

    it('URL credentials are sent as basic auth and never kept in history (BuildKit masks them with xxxxx)', async () => {
      const url = `${base.replace('http://', 'http://ann:S3cretAddPw@')}/files/tool.sh`;
      const { image, files } = await buildImage(`FROM scratch\nADD ${url} /t\n`, ctx);
      expect(files.get('t')?.content.equals(body)).toBe(true);
      const history = JSON.stringify(image.config.history);
      expect(history).not.toContain('S3cretAddPw');
      expect(history).not.toContain('ann');
      expect(history).toContain(`ADD ${base.replace('http://', 'http://xxxxx:xxxxx@')}/files/tool.sh /t`);
    });

    it('a failed download with credentials does not echo them', async () => {
      const url = `${base.replace('http://', 'http://ann:S3cretAddPw@')}/missing`;
      const err = await buildImage(`FROM scratch\nADD ${url} /m\n`, ctx).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/Dockerfile:2: .*404/);
      expect((err as Error).message).not.toContain('S3cretAddPw');
    });

    it('a failed download names the status and the line', async () => {
      await expect(buildImage(`FROM scratch\nADD ${base}/missing /m\n`, ctx)).rejects.toThrow(/Dockerfile:2: .*404/);
    });
  });
});
