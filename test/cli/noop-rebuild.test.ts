/**
 * A rebuild whose steps all come from the cache loads only what it uses:
 * not undici, the URL dispatcher, the runners, the RUN and ADD handlers or
 * the layer writer (bench/noop-rebuild measures what that saves).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { makeContext, tempDir } from '../helpers/build.js';
import { buildCliAsync } from '../helpers/cli.js';

// The unbundled CLI (tsc's output), whose modules have names to check; the bundle keeps the same lazy imports as split chunks.
const CLI = fileURLToPath(new URL('../../dist/cmd/hoist.js', import.meta.url));

/** Preloaded into the CLI: prints every module it loads (ESM through a resolve hook, CommonJS from require's cache at exit). */
const WATCH = [
  "import { register, createRequire } from 'node:module';",
  'register(`data:text/javascript,${encodeURIComponent("export async function resolve(s, c, next) { const r = await next(s, c); console.error(\'LOADED \' + r.url); return r; }")}`);',
  "process.on('exit', () => { for (const f of Object.keys(createRequire(import.meta.url).cache)) console.error('LOADED ' + f); });",
].join('\n');

let ctx: string;
let watch: string;
beforeAll(async () => {
  await buildCliAsync();
  ctx = makeContext({
    'a.txt': 'a',
    Dockerfile: ['FROM scratch', 'COPY rootfs /', 'COPY a.txt /a.txt', 'RUN echo ran > /ran', 'ENV X=1', 'CMD ["/bin/sh"]'].join('\n'),
  });
  await makeBusyboxRootfs(path.join(ctx, 'rootfs'));
  watch = path.join(tempDir('hoist-cli-noop-watch-'), 'watch.mjs');
  writeFileSync(watch, WATCH);
}, 300_000);

/** A build with the modules it loaded. */
function loadedBy(cacheDir: string, layout: string): { digest: string; loaded: string[] } {
  // With --progress quiet the CLI writes nothing to stderr: the watcher's lines are all there is.
  const r = spawnSync(process.execPath, ['--import', watch, CLI, 'build', ctx, '--cache-dir', cacheDir, '--progress', 'quiet', '-o', `type=oci-layout,dest=${layout}`], {
    encoding: 'utf8',
    env: { ...process.env, HOIST_CACHE_DIR: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`hoist build failed (${r.status}): ${r.stderr}`);
  const loaded = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice(7));
  return { digest: r.stdout.trim(), loaded };
}

const HEAVY = [/node_modules\/undici\//, /\/registry\/url-dispatcher\.js$/, /\/src\/run\/(chroot|userns|proot)-runner\.js$/, /\/snapshot\/layer-stream\.js$/, /\/src\/builder\/handlers\/(run|add)\.js$/];

describe('a no-op rebuild', () => {
  it('loads no runner, layer writer, URL dispatcher or undici, and gives the same image', () => {
    const cache = tempDir('hoist-cli-noop-cache-');
    const layout = path.join(tempDir('hoist-cli-noop-out-'), 'layout');
    const cold = loadedBy(cache, layout);
    // The watcher sees them when the steps run: the check below could fail.
    expect(cold.loaded.filter((u) => /\/src\/builder\/handlers\/run\.js$/.test(u) || /\/snapshot\/layer-stream\.js$/.test(u))).toHaveLength(2);
    const again = loadedBy(cache, layout);
    expect(again.loaded.some((u) => u.endsWith('/src/builder/executor/build.js'))).toBe(true);
    expect(again.loaded.filter((u) => HEAVY.some((re) => re.test(u)))).toEqual([]);
    expect(again.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(again.digest).toBe(cold.digest);
  }, 300_000);
});
