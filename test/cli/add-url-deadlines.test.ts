/**
 * ADD <url> responses have the same bounds as registry responses (issue 11,
 * hangs): a header timeout, an idle-body timeout and a total deadline, all
 * set by --registry-timeout. Each hostile server below would hold a build
 * forever without them; the child is killed after two minutes so that a
 * regression fails the test instead of hanging the suite.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, REPO_ROOT, type CliResult } from '../helpers/cli.js';
import { listenOnLoopback } from '../helpers/net.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));
const KILL_AFTER_MS = 120_000;

function build(url: string): Promise<CliResult & { ms: number }> {
  const ctx = tempDir('hoist-addurl-');
  writeFileSync(path.join(ctx, 'Dockerfile'), `FROM scratch\nADD ${url} /f\n`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [CLI, 'build', ctx, '--output', `type=oci,dest=${path.join(ctx, 'i.tar')}`, '--cache-dir', path.join(ctx, 'cache'), '--registry-timeout', '1s', '--progress', 'plain'],
      { cwd: REPO_ROOT, env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const sockets = new Set<Socket>();
const timers = new Set<NodeJS.Timeout>();
let base: string;
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  if (req.url === '/silent') return; // accepts, reads the request, never answers
  if (req.url === '/stall') {
    res.writeHead(200, { 'content-length': '1000000' });
    res.write('x'); // then nothing, the connection kept open
    return;
  }
  if (req.url === '/drip') {
    // An endless body, one byte every 100 ms: never idle for a second, never done.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const t = setInterval(() => res.write('x'), 100);
    timers.add(t);
    res.on('close', () => clearInterval(t));
    return;
  }
  res.writeHead(404).end();
});
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

beforeAll(async () => {
  buildCli();
  base = `http://${await listenOnLoopback(server)}`;
}, 300_000);
afterAll(() => {
  for (const t of timers) clearInterval(t);
  for (const s of sockets) s.destroy();
  server.close();
});

describe('ADD <url> responses end in bounded time', () => {
  test('a server that accepts and never answers: exit 1 after the header timeout', async () => {
    const r = await build(`${base}/silent`);
    expect(r.stderr).toContain(`cannot download ${base}/silent: the server sent no answer in time`);
    expect(r.stderr).toContain('--registry-timeout');
    expect(r.stderr).not.toContain('internal error');
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(60_000);
  }, KILL_AFTER_MS + 10_000);

  test('a body that stops after one byte: exit 1 after the idle timeout', async () => {
    const r = await build(`${base}/stall`);
    expect(r.stderr).toContain(`downloading ${base}/stall: the server stopped sending after 1 bytes`);
    expect(r.stderr).toContain('--registry-timeout');
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(60_000);
  }, KILL_AFTER_MS + 10_000);

  test('an endless drip: exit 1 at the total deadline', async () => {
    const r = await build(`${base}/drip`);
    expect(r.stderr).toMatch(new RegExp(`downloading ${base.replace(/[.]/g, '\\.')}/drip: \\d+ bytes in \\d+\\.\\d s, slower than 16 KiB/s`));
    expect(r.stderr).toContain('--registry-timeout');
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(60_000);
  }, KILL_AFTER_MS + 10_000);
});
