/** What a user sees when a registry hangs, misbehaves, or a reference carries a password (issue 11). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildCli, runCli, type CliRun } from '../helpers/cli.js';
import { listenOnLoopback } from '../helpers/net.js';

const cache = mkdtempSync(path.join(tmpdir(), 'hoist-conn-cli-'));

/** The built CLI with this file's cache and no proxy from the environment. */
function run(args: string[]): Promise<CliRun> {
  return runCli([...args, '--cache-dir', cache], { env: { HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' } });
}

const closers: Array<() => void> = [];
beforeAll(() => buildCli(), 300_000);
afterAll(() => {
  for (const c of closers) c();
});

describe('registry connections from the command line', () => {
  test('a registry that accepts and never answers: --registry-timeout, one retry, a clear error, exit 1', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    const host = await listenOnLoopback(silent);
    closers.push(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const r = await run(['digest', `${host}/app:1`, '--insecure-registry', host, '--registry-timeout', '500ms']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: .*accepted the connection but sent no answer within 0\.5 s \(2 tries\)/);
    expect(r.stderr).toContain('--registry-timeout');
    expect(r.ms).toBeLessThan(30_000);
  });

  test('a bad --registry-timeout is a usage error', async () => {
    const r = await run(['digest', '127.0.0.1:1/app:1', '--registry-timeout', 'soon']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--registry-timeout "soon"');
  });

  test('a redirect to file:// is a user error, not an internal fault', async () => {
    const server = createHttpServer((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    });
    const host = await listenOnLoopback(server);
    closers.push(() => {
      server.closeAllConnections();
      server.close();
    });
    const r = await run(['digest', `${host}/app:1`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('only http and https are followed');
    expect(r.stderr).not.toContain('internal error');
  });

  test.each([['digest', 'user:S3cretCli@127.0.0.1:1/x:1'], ['digest', 'docker://user:S3cretCli@127.0.0.1:1/x:1']])(
    'hoist %s %s refuses the reference without echoing the password',
    async (verb, ref) => {
      const r = await run([verb, ref]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('cannot hold credentials');
      expect(r.stderr).not.toContain('S3cretCli');
    },
  );

  test.each([
    ['FROM', 'FROM user:S3cretCli@127.0.0.1:1/x:1\n', []],
    ['COPY --from', 'FROM scratch\nCOPY --from=user:S3cretCli@127.0.0.1:1/x:1 /a /a\n', []],
    ['-t', 'FROM scratch\nCOPY Dockerfile /\n', ['-t', 'user:S3cretCli@127.0.0.1:1/x:1']],
    ['-t with --push', 'FROM scratch\nCOPY Dockerfile /\n', ['-t', 'user:S3cretCli@127.0.0.1:1/x:1', '--push']],
  ])('hoist build refuses a reference with a password in %s without echoing it', async (_where, dockerfile, flags) => {
    const ctx = mkdtempSync(path.join(tmpdir(), 'hoist-conn-ctx-'));
    writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile);
    const output = flags.includes('--push') ? [] : ['--output', `type=oci,dest=${path.join(ctx, 'i.tar')}`];
    const r = await run(['build', ctx, ...output, ...flags]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot hold credentials');
    expect(`${r.stdout}${r.stderr}`).not.toContain('S3cretCli');
  });
});
