// What receiving a pull's blobs costs in Node.js itself, without hoist: the
// layers of an image fetched from a local registry, 3 at a time (hoist's
// layout concurrency), through undici (hoist's HTTP client), through
// node:http, and through node:http in 3 worker threads (each downloads whole
// blobs), each in its own process; and `skopeo copy` of the same image.
// `discard` only receives; `hashwrite` also hashes every byte, writes it to
// a file and fsyncs it, as a pull must. `wall s` and `cpu s` are the whole
// process (start-up included); `xfer s` is the transfer after the manifest.
// See README.md (issue 12).
//
//   node bench/push-pull/run.mjs --dir /tmp/pp --keep --runs 1 --ops pull   # makes /tmp/pp/layout-512M
//   node bench/push-pull/receive.mjs --layout /tmp/pp/layout-512M --runs 3
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { startRegistry } from '../lib/registry.mjs';

const SELF = fileURLToPath(import.meta.url);

if (!isMainThread) {
  await downloader(workerData);
} else if (process.argv[2] === 'child') {
  await child(process.argv[3], process.argv[4], process.argv[5], process.argv[6]);
} else {
  await controller();
}

async function controller() {
  const { values } = parseArgs({ options: { layout: { type: 'string' }, runs: { type: 'string', default: '3' } } });
  if (values.layout === undefined) throw new Error('--layout DIR (an OCI layout with tag bench, e.g. from run.mjs --keep)');
  const work = mkdtempSync(join(tmpdir(), 'hoist-receive-'));
  const reg = await startRegistry(work);
  try {
    execFileSync('/usr/bin/skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${values.layout}:bench`, `docker://${reg.host}/bench/src:1`]);
    const rows = new Map();
    const clients = ['undici', 'node:http', 'workers'];
    for (let i = 0; i < Number(values.runs); i++) {
      for (const mode of ['discard', 'hashwrite', 'skopeo']) {
        for (const client of mode === 'skopeo' ? ['skopeo'] : i % 2 === 0 ? clients : [...clients].reverse()) {
          const out = join(work, 'out');
          rmSync(out, { recursive: true, force: true });
          const cmd = client === 'skopeo'
            ? ['/usr/bin/skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${reg.host}/bench/src:1`, `oci:${out}:bench`]
            : [process.execPath, SELF, 'child', client, mode, reg.host, out];
          const timeFile = join(work, 'time');
          const t0 = performance.now();
          const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, ...cmd], { encoding: 'utf8' });
          const wall = (performance.now() - t0) / 1000;
          if (r.status !== 0) throw new Error(`${client} ${mode}: ${r.stderr}`);
          const [user, sys] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
          const key = `${client} ${mode}`;
          rows.set(key, [...(rows.get(key) ?? []), { wall, cpu: user + sys, xfer: client === 'skopeo' ? NaN : JSON.parse(r.stdout).wall }]);
        }
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('client     mode        wall s   cpu s  xfer s   (medians)');
    for (const [key, rs] of rows) {
      const [client, mode] = key.split(' ');
      const col = (f) => (Number.isNaN(median(rs.map(f))) ? '-' : median(rs.map(f)).toFixed(2)).padStart(7);
      console.log(`${client.padEnd(10)} ${mode.padEnd(10)} ${col((r) => r.wall)} ${col((r) => r.cpu)} ${col((r) => r.xfer)}`);
    }
  } finally {
    await reg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function child(client, mode, host, out) {
  execFileSync('mkdir', ['-p', out]);
  const get = client === 'undici' ? await undiciGet() : nodeGet();
  const manifest = JSON.parse((await collect(await get(`http://${host}/v2/bench/src/manifests/1`, { accept: 'application/vnd.oci.image.manifest.v1+json' }))).toString());
  const layers = [...manifest.layers].sort((a, b) => b.size - a.size);
  const t0 = performance.now();
  if (client === 'workers') {
    // Whole blobs per thread; the next index is shared, so the largest go first.
    const next = new Int32Array(new SharedArrayBuffer(4));
    await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise((resolve, reject) => {
            new Worker(SELF, { workerData: { host, mode, out, layers, next } }).once('exit', resolve).once('error', reject);
          }),
      ),
    );
  } else {
    let next = 0;
    await Promise.all(
      [0, 1, 2].map(async () => {
        while (next < layers.length) {
          const layer = layers[next++];
          await receive(await get(`http://${host}/v2/bench/src/blobs/${layer.digest}`, {}), layer, mode, out);
        }
      }),
    );
  }
  process.stdout.write(JSON.stringify({ wall: (performance.now() - t0) / 1000 }));
  process.exit(0);
}

async function downloader({ host, mode, out, layers, next }) {
  const get = nodeGet();
  for (let i = Atomics.add(next, 0, 1); i < layers.length; i = Atomics.add(next, 0, 1)) {
    await receive(await get(`http://${host}/v2/bench/src/blobs/${layers[i].digest}`, {}), layers[i], mode, out);
  }
  process.exit(0);
}

async function receive(body, layer, mode, out) {
  if (mode === 'discard') {
    await new Promise((resolve, reject) => body.on('data', () => undefined).once('end', resolve).once('error', reject));
    return;
  }
  const hash = createHash('sha256');
  const file = join(out, layer.digest.slice(7));
  const sink = createWriteStream(file, { flags: 'wx', highWaterMark: 1 << 20 });
  body.on('data', (chunk) => {
    hash.update(chunk);
    if (!sink.write(chunk)) body.pause();
  });
  sink.on('drain', () => body.resume());
  await new Promise((resolve, reject) => body.once('end', resolve).once('error', reject));
  await new Promise((resolve) => sink.end(resolve));
  const handle = await open(file, 'r+');
  await handle.sync();
  await handle.close();
  if (`sha256:${hash.digest('hex')}` !== layer.digest) throw new Error(`digest mismatch for ${layer.digest}`);
}

async function undiciGet() {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connections: 16 });
  return async (url, headers) => (await request(url, { dispatcher, headers })).body;
}

function nodeGet() {
  const agent = new http.Agent({ keepAlive: true });
  return (url, headers) =>
    new Promise((resolve, reject) => {
      http.get(url, { agent, headers }, resolve).on('error', reject);
    });
}

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}
