// Runs only hoist's part of the benchmark, so that its peak RSS is hoist's
// alone. Usage: node hoist-child.mjs LAYER DEST
import { applyLayers } from '../../dist/snapshot/rootfs/index.js';

const [layer, dest] = process.argv.slice(2);
const start = process.hrtime.bigint();
const s = await applyLayers(dest, [layer]);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ ms, entries: s.entries, maxRssKiB: process.resourceUsage().maxRSS }));
