/**
 * Registries that accept a connection and then answer slowly or not at all:
 * every wait is bounded (issue 11), with a short timeout so the tests are
 * fast; the bounds asserted are generous for a loaded machine.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import { TransferDeadline } from '../../../registry/deadline.js';
import { RegistryError } from '../../../registry/errors.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { parseReference } from '../../../src/oci/index.js';
import { listenOnLoopback } from '../../helpers/net.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));

/**
 * A raw TCP server: answers the /v2/ ping like an open registry and hands
 * every other request to `onRequest` with the socket. Records request lines.
 */
async function rawServer(onRequest: (socket: Socket, line: string) => void): Promise<{ host: string; lines: string[] }> {
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const line = head.split('\r\n')[0] ?? '';
        lines.push(line);
        if (line.startsWith('GET /v2/ ')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}');
        else onRequest(socket, line);
      }
    });
  });
  const host = await listenOnLoopback(server);
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { host, lines };
}

function client(host: string, timeoutMs: number): RegistryClient {
  const c = new RegistryClient({ keychain: anonymousKeychain(), insecureRegistries: [host], timeoutMs, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
  cleanup.push(() => c.close());
  return c;
}

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

describe('a registry that never answers', () => {
  test('times out after the header timeout, retries once, then says so clearly', async () => {
    const s = await rawServer(() => undefined); // accepts and never answers
    const started = Date.now();
    const err = await failure(client(s.host, 400).getManifest(parseReference(`${s.host}/app:1`)));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('REGISTRY_TIMEOUT');
    expect(err.message).toMatch(/GET manifest .*app:1: .* accepted the connection but sent no answer within 0\.4 s \(2 tries\)/);
    expect(err.hint).toContain('--registry-timeout');
    expect(s.lines.filter((l) => l.startsWith('GET /v2/app/manifests/1 '))).toHaveLength(2);
    expect(elapsed).toBeLessThan(20_000);
  });
});

describe('a registry that answers too slowly', () => {
  test('a manifest dripped one byte at a time is given up at the total deadline', async () => {
    const s = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: ${MANIFEST.length}\r\n\r\n`);
      let i = 0;
      const drip = setInterval(() => {
        if (socket.destroyed || i >= MANIFEST.length) return clearInterval(drip);
        socket.write(MANIFEST.subarray(i, ++i));
      }, 100);
      socket.on('close', () => clearInterval(drip));
    });
    const started = Date.now();
    const err = await failure(client(s.host, 500).getManifest(parseReference(`${s.host}/app:1`)));
    expect(err.code).toBe('REGISTRY_TIMEOUT');
    expect(err.message).toMatch(new RegExp(`sent \\d+ of ${MANIFEST.length} bytes in [\\d.]+ s, slower than 16 KiB/s`));
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('an endless drip without a length ends too', async () => {
    const s = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
      const drip = setInterval(() => (socket.destroyed ? clearInterval(drip) : socket.write('1\r\n \r\n')), 50);
      socket.on('close', () => clearInterval(drip));
    });
    const started = Date.now();
    const err = await failure(client(s.host, 500).listTags(parseReference(`${s.host}/app`)));
    expect(err.code).toBe('REGISTRY_TIMEOUT');
    expect(err.message).toMatch(/slower than 16 KiB\/s/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('a body that stops mid-way ends at the idle timeout with a clear error', async () => {
    const s = await rawServer((socket) => {
      // Long enough that the total deadline (0.4 s + 100 KB at 16 KiB/s) is far: the idle timeout ends it.
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: 100000\r\n\r\n`);
      socket.write(MANIFEST.subarray(0, 10));
    });
    const err = await failure(client(s.host, 400).getManifest(parseReference(`${s.host}/app:1`)));
    expect(err.code).toBe('REGISTRY_TIMEOUT');
    expect(err.message).toMatch(/stopped sending the answer/);
  });
});

describe('TransferDeadline', () => {
  test('the allowance grows with the size: a known size gets timeout + size / rate', () => {
    const limits = { timeoutMs: 1000, minBytesPerSecond: 1024 };
    expect(TransferDeadline.allowance(limits, 0)).toBe(1000);
    expect(TransferDeadline.allowance(limits, 10 * 1024)).toBe(11_000);
  });

  test('with an unknown size, the bytes received so far extend it', async () => {
    let now = 0;
    const expired: number[] = [];
    const d = new TransferDeadline({ timeoutMs: 30, minBytesPerSecond: 1000 }, undefined, (e) => expired.push(e.received), () => now);
    d.start();
    d.add(100); // allowance now 30 + 100 ms
    now = 100;
    await new Promise((r) => setTimeout(r, 60));
    expect(expired).toEqual([]);
    now = 200;
    await new Promise((r) => setTimeout(r, 150));
    expect(expired).toEqual([100]);
    d.stop();
  });
});
