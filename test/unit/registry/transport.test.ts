import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Agent } from 'undici';
import { afterEach, describe, expect, test } from 'vitest';
import { RegistryError } from '../../../registry/errors.js';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, Transport } from '../../../registry/transport.js';
import { startServer, type LocalServer } from './local-server.js';
import { makeSelfSigned } from './tls-fixtures.js';

const fast = { baseDelayMs: 5, maxDelayMs: 20 };
const ctx = { what: 'GET thing', registry: 'r' };
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

function transport(policy: Partial<typeof DEFAULT_RETRY> = fast): Transport {
  const agent = new Agent();
  cleanup.push(() => agent.close());
  return new Transport(async () => agent, policy);
}

async function server(handler: Parameters<typeof startServer>[0]): Promise<LocalServer> {
  const s = await startServer(handler);
  cleanup.push(() => s.close());
  return s;
}

describe('retry policy', () => {
  test('503 twice then 200: three requests, the 200 returned', async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      res.writeHead(n <= 2 ? 503 : 200).end(n <= 2 ? 'busy' : 'ok');
    });
    const res = await transport().send({ method: 'GET', url: new URL(`${s.url}/x`) }, ctx);
    expect(res.status).toBe(200);
    expect(await res.body.text()).toBe('ok');
    expect(s.requests).toHaveLength(3);
  });

  test('429 with Retry-After is waited for', async () => {
    let n = 0;
    const s = await server((_req, res) => {
      n++;
      if (n === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.writeHead(200).end('ok');
    });
    const t0 = Date.now();
    const res = await transport().send({ method: 'GET', url: new URL(`${s.url}/x`) }, ctx);
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(s.requests).toHaveLength(2);
  });

  test('a Retry-After longer than the cap is not waited for', async () => {
    const s = await server((_req, res) => void res.writeHead(429, { 'retry-after': '3600' }).end());
    const res = await transport({ ...fast, maxRetryAfterMs: 1000 }).send({ method: 'GET', url: new URL(`${s.url}/x`) }, ctx);
    expect(res.status).toBe(429);
    expect(s.requests).toHaveLength(1);
  });

  test.each([400, 401, 404, 501])('no retry on %i', async (status) => {
    const s = await server((_req, res) => void res.writeHead(status).end());
    const res = await transport().send({ method: 'GET', url: new URL(`${s.url}/x`) }, ctx);
    expect(res.status).toBe(status);
    expect(s.requests).toHaveLength(1);
  });

  test('408 and 500 are retried', async () => {
    const seq = [408, 500, 502, 200];
    const s = await server((_req, res) => void res.writeHead(seq.shift() ?? 500).end());
    const res = await transport().send({ method: 'GET', url: new URL(`${s.url}/x`) }, ctx);
    expect(res.status).toBe(200);
    expect(s.requests).toHaveLength(4);
  });

  test('attempts are bounded: the last 503 is returned', async () => {
    const s = await server((_req, res) => void res.writeHead(503).end());
    const res = await transport({ ...fast, maxAttempts: 3 }).send({ method: 'GET', url: new URL(`${s.url}/x`) }, ctx);
    expect(res.status).toBe(503);
    expect(s.requests).toHaveLength(3);
  });

  test('a reset connection is retried', async () => {
    let n = 0;
    const s = await server((req, res) => {
      n++;
      if (n === 1) req.socket.destroy();
      else res.writeHead(200).end('ok');
    });
    const res = await transport().send({ method: 'GET', url: new URL(`${s.url}/x`) }, ctx);
    expect(res.status).toBe(200);
    expect(n).toBe(2);
  });

  test('connection refused, every time: a RegistryError naming the registry, after maxAttempts', async () => {
    const s = await startServer((_req, res) => void res.end());
    const url = new URL(`${s.url}/x`);
    await s.close();
    const err = await transport({ ...fast, maxAttempts: 2 })
      .send({ method: 'GET', url }, ctx)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe('REGISTRY_UNREACHABLE');
    expect((err as RegistryError).message).toMatch(/GET thing: cannot reach r/);
  });

  test('a stream body is reopened for each attempt', async () => {
    const bodies: string[] = [];
    const s = await server((_req, res, body) => {
      bodies.push(body.toString());
      res.writeHead(bodies.length === 1 ? 503 : 201).end();
    });
    let opened = 0;
    const res = await transport().send(
      {
        method: 'PUT',
        url: new URL(`${s.url}/x`),
        headers: { 'content-length': '5' },
        body: async () => {
          opened++;
          return Readable.from([Buffer.from('hello')]);
        },
      },
      ctx,
    );
    expect(res.status).toBe(201);
    expect(opened).toBe(2);
    expect(bodies).toEqual(['hello', 'hello']);
  });

  test('a fault in hoist while preparing the request is reported as such, not as an unreachable registry', async () => {
    const s = await server((_req, res) => void res.writeHead(201).end());
    const bug = new TypeError('x is not a function');
    const err = await transport()
      .send({ method: 'PUT', url: new URL(`${s.url}/x`), body: () => Promise.reject(bug) }, ctx)
      .catch((e: unknown) => e);
    expect(err).toBe(bug);
    expect(s.requests).toHaveLength(0);
  });

  test('retry: false sends once', async () => {
    const s = await server((_req, res) => void res.writeHead(503).end());
    const res = await transport().send({ method: 'PATCH', url: new URL(`${s.url}/x`), body: 'x', retry: false }, ctx);
    expect(res.status).toBe(503);
    expect(s.requests).toHaveLength(1);
  });

  test('TLS verification failures are not retried', async () => {
    const { certPem, keyPem } = makeSelfSigned();
    let connections = 0;
    const https = createHttpsServer({ cert: certPem, key: keyPem }, (_req, res) => res.end('ok'));
    https.on('connection', () => connections++);
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => https.close(() => resolve())));
    const { port } = https.address() as AddressInfo;
    const err = await transport()
      .send({ method: 'GET', url: new URL(`https://127.0.0.1:${port}/v2/`) }, ctx)
      .catch((e: unknown) => e);
    expect((err as RegistryError).code).toBe('REGISTRY_TLS');
    expect((err as RegistryError).hint).toMatch(/--registry-ca|--insecure-registry/);
    expect(connections).toBe(1);
  });

  test('an abort stops the retries', async () => {
    const s = await server((_req, res) => void res.writeHead(503).end());
    const ac = new AbortController();
    const t = transport({ baseDelayMs: 10_000, maxDelayMs: 10_000 });
    const p = t.send({ method: 'GET', url: new URL(`${s.url}/x`), signal: ac.signal }, ctx);
    setTimeout(() => ac.abort(new Error('stop')), 100);
    await expect(p).rejects.toThrow('stop');
  });
});

describe('backoff and Retry-After parsing', () => {
  test('exponential with full jitter, capped', () => {
    const p = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(p, 1, () => 0.999)).toBe(99);
    expect(backoffDelay(p, 3, () => 0.5)).toBe(200);
    expect(backoffDelay(p, 10, () => 0.999)).toBe(999);
    expect(backoffDelay(p, 2, () => 0)).toBe(0);
  });

  test('Retry-After seconds and HTTP-date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Mon, 01 Jan 2023 00:00:05 GMT', now)).toBe(0);
  });
});
