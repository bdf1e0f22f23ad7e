import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import { downloadUrl, redactUrl, urlFileName } from '../../../../src/builder/add/url-source.js';
import { withTempDir } from './fixtures.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler;
const requests: IncomingMessage[] = [];

beforeEach(async () => {
  requests.length = 0;
  handler = (_req, res) => {
    res.statusCode = 500;
    res.end();
  };
  server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const BODY = Buffer.from('#!/bin/sh\necho downloaded\n'.repeat(1000));
const hex = (alg: string, data: Buffer): string => createHash(alg).update(data).digest('hex');

function serve(routes: Record<string, Handler>): void {
  handler = (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const route = routes[path];
    if (route === undefined) {
      res.statusCode = 404;
      res.end('no such file');
      return;
    }
    route(req, res);
  };
}

const file = (headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(200, { 'content-length': String(BODY.length), ...headers });
  res.end(BODY);
};

async function expectFailure(p: Promise<unknown>): Promise<HoistError> {
  const err = await p.then(
    () => new Error('download succeeded'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}

describe('downloadUrl', () => {
  it('streams the body to a new 0600 file in tmpDir and reports size, sha256 and name', async () => {
    serve({ '/files/tool.sh': file() });
    await withTempDir(async (tmp) => {
      const r = await downloadUrl(`${base}/files/tool.sh?token=abc#frag`, { tmpDir: tmp });
      expect(r.path.startsWith(tmp)).toBe(true);
      expect(await readFile(r.path)).toEqual(BODY);
      expect((await stat(r.path)).mode & 0o777).toBe(0o600);
      expect(r.size).toBe(BODY.length);
      expect(r.digest).toBe(`sha256:${hex('sha256', BODY)}`);
      expect(r.filename).toBe('tool.sh');
      expect(r.mtime).toBeUndefined();
      expect(requests[0]?.headers['accept-encoding']).toBe('identity');
    });
  });

  it('gives every download its own file', async () => {
    serve({ '/a': file() });
    await withTempDir(async (tmp) => {
      const [a, b] = await Promise.all([downloadUrl(`${base}/a`, { tmpDir: tmp }), downloadUrl(`${base}/a`, { tmpDir: tmp })]);
      expect(a.path).not.toBe(b.path);
      expect(await readdir(tmp)).toHaveLength(2);
    });
  });

  it('follows redirects and names the file after the URL it was given', async () => {
    serve({
      '/latest': (_req, res) => {
        res.writeHead(302, { location: '/moved' });
        res.end();
      },
      '/moved': (_req, res) => {
        res.writeHead(301, { location: `${base}/releases/v2/tool-2.0.tar.gz` });
        res.end();
      },
      '/releases/v2/tool-2.0.tar.gz': file(),
    });
    await withTempDir(async (tmp) => {
      const r = await downloadUrl(`${base}/latest`, { tmpDir: tmp });
      expect(await readFile(r.path)).toEqual(BODY);
      expect(r.filename).toBe('latest');
    });
  });

  it('ignores Content-Disposition, as the Dockerfile frontend does', async () => {
    serve({ '/': file({ 'content-disposition': 'attachment; filename="report.pdf"' }) });
    await withTempDir(async (tmp) => {
      expect((await downloadUrl(`${base}/`, { tmpDir: tmp })).filename).toBe('__unnamed__');
    });
  });

  it('takes the mtime from Last-Modified', async () => {
    serve({ '/f': file({ 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' }) });
    await withTempDir(async (tmp) => {
      expect((await downloadUrl(`${base}/f`, { tmpDir: tmp })).mtime).toBe(Date.UTC(2015, 9, 21, 7, 28) / 1000);
    });
  });

  it('fails on 404 with the status and the URL, leaving nothing behind', async () => {
    serve({});
    await withTempDir(async (tmp) => {
      const err = await expectFailure(downloadUrl(`${base}/missing.tgz`, { tmpDir: tmp }));
      expect(err.code).toBe('DOWNLOAD_FAILED');
      expect(err.message).toContain('404');
      expect(err.message).toContain(`${base}/missing.tgz`);
      expect(err.hint).toMatch(/URL/);
      expect(await readdir(tmp)).toEqual([]);
    });
  });

  it('verifies sha256, sha384 and sha512 checksums', async () => {
    serve({ '/f': file() });
    await withTempDir(async (tmp) => {
      for (const alg of ['sha256', 'sha384', 'sha512']) {
        const r = await downloadUrl(`${base}/f`, { tmpDir: tmp, checksum: `${alg}:${hex(alg, BODY)}` });
        expect(r.digest).toBe(`sha256:${hex('sha256', BODY)}`);
      }
    });
  });

  it('fails on a checksum mismatch with both digests and removes the file', async () => {
    serve({ '/f': file() });
    await withTempDir(async (tmp) => {
      const wrong = `sha256:${'0'.repeat(64)}`;
      const err = await expectFailure(downloadUrl(`${base}/f`, { tmpDir: tmp, checksum: wrong }));
      expect(err.code).toBe('CHECKSUM_MISMATCH');
      expect(err.message).toContain(wrong);
      expect(err.message).toContain(`sha256:${hex('sha256', BODY)}`);
      expect(await readdir(tmp)).toEqual([]);
      const err512 = await expectFailure(downloadUrl(`${base}/f`, { tmpDir: tmp, checksum: `sha512:${'a'.repeat(128)}` }));
      expect(err512.message).toContain(`sha512:${hex('sha512', BODY)}`);
    });
  });

  it('refuses a malformed checksum before downloading', async () => {
    serve({ '/f': file() });
    await withTempDir(async (tmp) => {
      for (const bad of ['sha256:abc', 'md5:' + '0'.repeat(32), `sha256:${'A'.repeat(64)}`, 'nonsense']) {
        const err = await expectFailure(downloadUrl(`${base}/f`, { tmpDir: tmp, checksum: bad }));
        expect(err.code, bad).toBe('INVALID_CHECKSUM');
      }
      expect(requests).toHaveLength(0);
    });
  });

  it('sends URL credentials as basic auth and never shows them in errors', async () => {
    serve({
      '/private': (req, res) => {
        const ok = req.headers.authorization === `Basic ${Buffer.from('alice:s3cr3t/pw').toString('base64')}`;
        res.statusCode = ok ? 200 : 401;
        res.end(ok ? BODY : 'no');
      },
    });
    await withTempDir(async (tmp) => {
      const withCreds = base.replace('http://', 'http://alice:s3cr3t%2Fpw@');
      const r = await downloadUrl(`${withCreds}/private`, { tmpDir: tmp });
      expect(await readFile(r.path)).toEqual(BODY);

      const wrong = base.replace('http://', 'http://alice:wrong-pass@');
      const err = await expectFailure(downloadUrl(`${wrong}/private`, { tmpDir: tmp }));
      expect(err.code).toBe('DOWNLOAD_FAILED');
      expect(err.message).toContain('401');
      expect(err.message).not.toContain('wrong-pass');
      expect(err.message).not.toContain('alice');
      expect(err.message).toContain('xxxxx:xxxxx@127.0.0.1');

      const mismatch = await expectFailure(downloadUrl(`${withCreds}/private`, { tmpDir: tmp, checksum: `sha256:${'1'.repeat(64)}` }));
      expect(mismatch.message).not.toContain('s3cr3t');
    });
  });

  it('reports a refused connection without credentials', async () => {
    const port = (server.address() as AddressInfo).port;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = createServer();
    await withTempDir(async (tmp) => {
      const err = await expectFailure(downloadUrl(`http://tok:en@127.0.0.1:${port}/x`, { tmpDir: tmp }));
      expect(err.code).toBe('DOWNLOAD_FAILED');
      expect(err.message).toContain('ECONNREFUSED');
      expect(err.message).not.toContain('tok:en');
      expect(await readdir(tmp)).toEqual([]);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  it('removes the partial file when the connection breaks mid-body', async () => {
    serve({
      '/cut': (_req, res) => {
        res.writeHead(200, { 'content-length': String(BODY.length * 10) });
        res.write(BODY);
        setTimeout(() => res.socket?.destroy(), 20);
      },
    });
    await withTempDir(async (tmp) => {
      const err = await expectFailure(downloadUrl(`${base}/cut`, { tmpDir: tmp }));
      expect(err.code).toBe('DOWNLOAD_FAILED');
      expect(await readdir(tmp)).toEqual([]);
    });
  });

  it('stops when aborted, leaving nothing behind', async () => {
    const ac = new AbortController();
    serve({
      '/slow': (_req, res) => {
        res.writeHead(200);
        res.write(BODY);
        setTimeout(() => ac.abort(new Error('user cancelled')), 20);
      },
    });
    await withTempDir(async (tmp) => {
      await expect(downloadUrl(`${base}/slow`, { tmpDir: tmp, signal: ac.signal })).rejects.toThrow('user cancelled');
      expect(await readdir(tmp)).toEqual([]);
    });
  });

  it('refuses URLs that are not http(s)', async () => {
    await withTempDir(async (tmp) => {
      expect((await expectFailure(downloadUrl('ftp://example.com/x', { tmpDir: tmp }))).code).toBe('INVALID_URL');
      expect((await expectFailure(downloadUrl('not a url', { tmpDir: tmp }))).code).toBe('INVALID_URL');
    });
  });
});

describe('urlFileName', () => {
  it('is the last path segment, decoded, without query or fragment', () => {
    expect(urlFileName('https://example.com/a/b/tool-1.2.tar.gz?x=1#y')).toBe('tool-1.2.tar.gz');
    expect(urlFileName('https://example.com/a/b/dir/')).toBe('dir');
    expect(urlFileName('https://example.com/with%20space.txt')).toBe('with space.txt');
    expect(urlFileName('https://example.com/a%2Fb')).toBe('b');
    expect(urlFileName('https://user:pw@example.com/x')).toBe('x');
  });

  it('falls back to __unnamed__ like BuildKit', () => {
    expect(urlFileName('https://example.com')).toBe('__unnamed__');
    expect(urlFileName('https://example.com/')).toBe('__unnamed__');
    expect(urlFileName('https://example.com/?file=a.txt')).toBe('__unnamed__');
    expect(urlFileName('https://example.com/a/..')).toBe('__unnamed__');
    expect(urlFileName('https://example.com/%zz')).toBe('__unnamed__');
    expect(urlFileName('https://example.com/x%00')).toBe('__unnamed__');
    expect(urlFileName('::not a url')).toBe('__unnamed__');
  });
});

describe('redactUrl', () => {
  it('hides user and password', () => {
    expect(redactUrl('https://u:p@h.example/x?y=1')).toBe('https://xxxxx:xxxxx@h.example/x?y=1');
    expect(redactUrl('https://token@h.example/x')).toBe('https://xxxxx@h.example/x');
    expect(redactUrl('https://h.example/x')).toBe('https://h.example/x');
    expect(redactUrl('https://u:p@[bad/x')).toBe('https://xxxxx:xxxxx@[bad/x');
    expect(redactUrl('https://:p@h.example/x')).toBe('https://:xxxxx@h.example/x');
  });
});
