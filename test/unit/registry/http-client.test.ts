import { createRequire } from 'node:module';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadUndiciParts, request, undiciParts } from '../../../registry/http-client.js';
import { startServer, type LocalServer } from './local-server.js';

let server: LocalServer;
beforeAll(async () => {
  server = await startServer((req, res) => {
    res.writeHead(201, { 'x-echo': `${req.method} ${req.url}` }).end('made');
  });
});
afterAll(async () => {
  await server.close();
});

describe('registry/http-client: the parts of undici loaded from its own files', () => {
  test('are the objects undici itself exports, loaded the fast way (an upgrade that moves them fails here)', () => {
    expect(undiciParts().loadedFrom).toBe('internal-files');
    expect(undiciParts().Agent).toBe(undici.Agent);
    const requireHere = createRequire(import.meta.url);
    expect(undici.Dispatcher.prototype.request).toBe(requireHere('undici/lib/api/api-request'));
  });

  test('an undici whose files moved: the entry point gives the same objects', () => {
    const parts = loadUndiciParts({ agent: 'undici/lib/no-such-agent', request: 'undici/lib/no-such-request' });
    expect(parts.loadedFrom).toBe('entry-point');
    expect(parts.Agent).toBe(undici.Agent);
    expect(parts.dispatchRequest).toBe(undici.Dispatcher.prototype.request);
  });

  test('request sends method, path and query to the URL, through the given agent', async () => {
    const agent = new (undiciParts().Agent)();
    try {
      const res = await request(new URL(`${server.url}/v2/app/tags/list?n=2&last=a`), { method: 'PUT', body: 'x', dispatcher: agent });
      expect(res.statusCode).toBe(201);
      expect(res.headers['x-echo']).toBe('PUT /v2/app/tags/list?n=2&last=a');
      expect(await res.body.text()).toBe('made');
      expect(server.requests.at(-1)?.body.toString()).toBe('x');
    } finally {
      await agent.close();
    }
  });
});
