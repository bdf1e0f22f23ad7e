import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import { staticKeychain } from '../../../registry/keychain/index.js';
import { parseReference, type Descriptor, type Digest } from '../../../src/oci/index.js';
import { byteCounter, throttleTransfers, type TransferProgress } from '../../../src/oci/progress.js';
import { seedBlob, sha256, startFakeRegistry, type FakeRegistry } from './fake-registry.js';

let reg: FakeRegistry;
let client: RegistryClient;

beforeEach(async () => {
  reg = await startFakeRegistry();
  client = new RegistryClient({ keychain: staticKeychain({}), retry: { baseDelayMs: 5, maxDelayMs: 20 }, monolithicUploadLimit: 1000 });
});
afterEach(async () => {
  await client.close();
  await reg.close();
});

const desc = (data: Buffer): Descriptor => ({ mediaType: 'application/octet-stream', digest: sha256(data) as Digest, size: data.length });
const ascending = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x >= (xs[i - 1] as number));

describe('blob transfer progress', () => {
  test('a download reports bytes received, on through a resume, up to the size', async () => {
    const data = randomBytes(300_000);
    seedBlob(reg, 'app', data);
    let dropped = false;
    reg.hook = (req, res) => {
      if (!req.url?.includes('/blobs/') || dropped) return false;
      dropped = true;
      res.writeHead(200, { 'content-length': data.length });
      res.write(data.subarray(0, 100_000), () => setTimeout(() => req.socket.destroy(), 20));
      return true;
    };
    const seen: number[] = [];
    const stream = await client.fetchBlob(parseReference(`${reg.host}/app`), desc(data), { onProgress: (n) => seen.push(n) });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(dropped).toBe(true);
    expect(seen.length).toBeGreaterThan(1);
    expect(ascending(seen)).toBe(true);
    expect(seen.at(-1)).toBe(data.length);
  });

  test('an upload reports bytes sent; a blob already there reports nothing', async () => {
    const data = randomBytes(5000); // above the monolithic limit: PATCH then PUT
    const seen: number[] = [];
    const open = async () => Readable.from([data.subarray(0, 2000), data.subarray(2000)]);
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), open, { onProgress: (n) => seen.push(n) })).toBe('uploaded');
    expect(seen).toEqual([2000, 5000]);
    const again: number[] = [];
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), open, { onProgress: (n) => again.push(n) })).toBe('exists');
    expect(again).toEqual([]);
  });
});

describe('throttleTransfers', () => {
  const p = (id: string, current: number, status: TransferProgress['status'] = 'running'): TransferProgress => ({ action: 'download', id, current, total: 100, status });

  test('passes the first report and then one per interval per blob, and every final one', () => {
    let now = 0;
    const out: TransferProgress[] = [];
    const report = throttleTransfers((x) => out.push(x), 100, () => now);
    report(p('a', 1));
    now = 50;
    report(p('a', 2));
    report(p('b', 1)); // another blob has its own interval
    now = 120;
    report(p('a', 3));
    now = 130;
    report(p('a', 100, 'done'));
    expect(out.map((x) => `${x.id}${x.current}`)).toEqual(['a1', 'b1', 'a3', 'a100']);
  });
});

describe('byteCounter', () => {
  test('passes bytes through and counts them', async () => {
    const counts: number[] = [];
    const counter = byteCounter((n) => counts.push(n));
    const out: Buffer[] = [];
    counter.on('data', (c: Buffer) => out.push(c));
    const done = new Promise((resolve) => counter.on('end', resolve));
    counter.write(Buffer.from('abc'));
    counter.end(Buffer.from('de'));
    await done;
    expect(Buffer.concat(out).toString()).toBe('abcde');
    expect(counts).toEqual([3, 5]);
  });
});
