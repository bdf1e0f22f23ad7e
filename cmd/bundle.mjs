// The CLI users run (package.json's `bundle`; run after `tsc -p tsconfig.json`):
// - dist/bin/hoist-cli.cjs: dist/cmd/hoist.js and commander as one CommonJS file;
// - dist/bin/hoist.cjs: package.json's bin, cmd/launcher.ts, which runs hoist-cli.cjs from a V8 code cache;
// - that cache, made by a no-op rebuild (`--no-code-cache`: none; the first run of hoist makes it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * Modules that most commands never use, loaded on first use instead of when the
 * module that imports them starts: a no-op rebuild loaded child_process (with net, dgram and
 * stream_base_commons) for the RUN runners and commander's subcommand executables,
 * readline for fakeroot's recorder, and @napi-rs/xattr (~10 ms: it reads /usr/bin/ldd and
 * loads a native addon), whose xattrs a no-op rebuild takes from the build cache's records
 * (bench/noop-rebuild/README.md). The source imports them
 * by name (`import { spawn } from 'node:child_process'`), which esbuild turns into a plain
 * `require` and property reads at each call: the require is replaced by a proxy that loads
 * the module on its first property read. A default import (`import net from 'node:net'`)
 * lists the module's keys when its importer starts, so it loads the module then (correct,
 * only not lazy).
 */
const LAZY_BUILTINS = ['node:child_process', 'node:net', 'node:readline', '@napi-rs/xattr'];

const LAZY_REQUIRE = `var __lazyBuiltin = (id) => {
  let real;
  const load = () => (real ??= require(id));
  return new Proxy({}, {
    get: (_, key) => load()[key],
    has: (_, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, key) => { const d = Reflect.getOwnPropertyDescriptor(load(), key); return d && { ...d, configurable: true }; },
  });
};`;

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { 'import.meta.url': '__filename' },
  write: false,
  logLevel: 'warning',
};

/** Through a temp file and a rename: CLI test files build in parallel while others run the CLI. */
function writeAtomic(file, text, mode) {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode });
  renameSync(temp, file);
}

async function bundleCli() {
  const result = await build({
    ...common,
    entryPoints: ['dist/cmd/hoist.js'],
    // commander is bundled (one package fewer to resolve, read and compile at each start); the
    // others stay in node_modules: undici and node-forge load on first use, @napi-rs/xattr is native.
    external: ['undici', 'node-forge', '@napi-rs/xattr'],
    outfile: 'dist/bin/hoist-cli.cjs',
  });
  let text = result.outputFiles[0].text;
  // After the "use strict" directive, which must stay the first statement.
  const strict = '"use strict";\n';
  if (!text.includes(strict)) throw new Error('cmd/bundle.mjs: no "use strict" in the bundle');
  text = text.replace(strict, `${strict}${LAZY_REQUIRE}\n`);
  for (const id of LAZY_BUILTINS) {
    const plain = `require(${JSON.stringify(id)})`;
    if (!text.includes(plain)) throw new Error(`cmd/bundle.mjs: the bundle no longer requires ${id}; update LAZY_BUILTINS`);
    text = text.replaceAll(plain, `__lazyBuiltin(${JSON.stringify(id)})`);
  }
  // esbuild escapes strings but leaves comments and regular expression literals as written: the
  // launcher decodes the bundle as latin1 (no UTF-8 decoding, a one-byte string for V8 to scan),
  // which is exact only for ASCII. \uXXXX means the same character in a regular expression.
  text = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  writeAtomic('dist/bin/hoist-cli.cjs', text, 0o644);
}

async function bundleLauncher() {
  const result = await build({ ...common, entryPoints: ['dist/cmd/launcher.js'], outfile: 'dist/bin/hoist.cjs' });
  writeAtomic('dist/bin/hoist.cjs', result.outputFiles[0].text, 0o755);
}

/**
 * The launcher's code cache holds the functions the run that made it compiled: made here by
 * a no-op rebuild (a small context built twice, the cache removed in between), so that it
 * covers start-up and the build cache's path, the most common short run. Best effort: with
 * no cache, the first run of the installed command makes one.
 */
function makeCodeCache() {
  let work;
  try {
    work = mkdtempSync(path.join(tmpdir(), 'hoist-code-cache-'));
    const ctx = path.join(work, 'context');
    mkdirSync(ctx);
    writeFileSync(path.join(ctx, 'a.txt'), 'a\n');
    writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\nENV A=1\nWORKDIR /app\nLABEL a=1\nCMD ["/a.txt"]\n');
    const args = ['dist/bin/hoist.cjs', 'build', ctx, '-t', 'code-cache:1', '--output', `type=oci-layout,dest=${path.join(work, 'layout')}`, '--cache-dir', path.join(work, 'cache'), '--progress', 'quiet'];
    const env = { ...process.env };
    delete env.HOIST_CACHE_DIR;
    for (const run of ['cold', 'rebuild']) {
      if (run === 'rebuild') removeCodeCaches();
      const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`the ${run} build exited ${r.status}: ${r.stderr.trim()}`);
    }
  } catch (err) {
    removeCodeCaches();
    console.warn(`cmd/bundle.mjs: no code cache made (the first run of hoist makes one): ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  }
}

/** The bundle's code caches (cmd/launcher.ts names them), stale once it is rebuilt. */
function removeCodeCaches() {
  for (const name of readdirSync('dist/bin')) if (name.endsWith('.v8-cache')) rmSync(path.join('dist/bin', name), { force: true });
}

mkdirSync('dist/bin', { recursive: true });
await Promise.all([bundleCli(), bundleLauncher()]);
removeCodeCaches();
// The CLI tests build the bundle in each file's beforeAll: they skip the two builds (and their runs make the cache).
if (!process.argv.includes('--no-code-cache')) makeCodeCache();
