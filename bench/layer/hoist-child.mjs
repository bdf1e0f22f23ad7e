// Runs only hoist's part of the benchmark, so that its peak RSS is hoist's
// alone: walk DIR, write the gzip layer to a null sink computing diffID and
// digest, print one JSON line. Usage: node hoist-child.mjs DIR [LEVEL [CONCURRENCY]]
import { Writable } from 'node:stream';
import { entriesFromDirectory } from '../../dist/snapshot/dir-source.js';
import { writeLayer } from '../../dist/snapshot/layer-stream.js';

const [dir, level, concurrency] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node hoist-child.mjs DIR [LEVEL]');
  process.exit(2);
}
const devNull = new Writable({
  write(_chunk, _enc, cb) {
    cb();
  },
});
const start = process.hrtime.bigint();
const opts = { gzipLevel: Number(level ?? 6), ordered: true };
if (concurrency) opts.gzipConcurrency = Number(concurrency);
const result = await writeLayer(entriesFromDirectory(dir), opts, devNull);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
const usage = process.resourceUsage();
console.log(JSON.stringify({ ...result, ms, maxRssKiB: usage.maxRSS, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 }));
