/**
 * The overlay snapshotter as an ordinary user (nobody, through util-linux
 * `setpriv`) with a user namespace that maps root to it, as on a laptop or
 * in an unconfined pod without a subordinate range: the upper dir is merged
 * back from outside the namespace, read-only directories of the image (0555)
 * included, and they keep their modes. The modules are bundled with esbuild
 * so that a plain `node` run as that user can load them.
 */
import { chmod, chown, mkdtemp, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeRootfs } from '../../../snapshot/rootfs/index.js';
import { exec } from '../../helpers/peers/exec.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const here = import.meta.dirname;

let work: string;
let driver: string;

beforeAll(async () => {
  const runRoot = tmpdir();
  await chmod(runRoot, ((await stat(runRoot)).mode & 0o7777) | 0o011);
  work = await mkdtemp(join(runRoot, 'hoist-overlay-nobody-'));
  await chmod(work, 0o755);
  await chown(work, NOBODY, NOBODY);
  const entry = join(work, 'entry.ts');
  await writeFile(
    entry,
    `export { OverlaySnapshotter } from ${JSON.stringify(join(here, '../../../snapshot/overlay/index.ts'))};\n` +
      `export { overlayOp } from ${JSON.stringify(join(here, '../../../src/run/namespace-setup.ts'))};\n`,
  );
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: join(work, 'overlay.mjs'), logLevel: 'silent', external: ['@napi-rs/xattr'] });
  await symlink(await realpath(join(here, '../../../node_modules')), join(work, 'node_modules'));
  driver = join(work, 'driver.mjs');
  await writeFile(
    driver,
    `import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, lstatSync, writeFileSync } from 'node:fs';
import { OverlaySnapshotter, overlayOp } from './overlay.mjs';
const [script] = process.argv.slice(2);
const base = mkdtempSync(process.cwd() + '/case-');
const root = base + '/root';
const scratch = base + '/scratch';
mkdirSync(root + '/ro/sub', { recursive: true });
mkdirSync(scratch);
writeFileSync(root + '/ro/sub/f', 'f');
writeFileSync(root + '/ro/keep', 'k');
chmodSync(root + '/ro/sub', 0o555);
chmodSync(root + '/ro', 0o555);
try {
  const s = new OverlaySnapshotter(root, { scratchDir: scratch });
  const dirs = await s.beforeStep();
  const op = overlayOp(root, dirs, true);
  execFileSync('unshare', ['--user', '--map-root-user', '--mount', '--', 'sh', '-euc', 'mount -t overlay -o "$1" hoist-overlay "$2"; cd "$2"; eval "$3"', 'sh', op.options, root, script]);
  const entries = (await s.changes()).map((e) => e.kind + ' ' + e.path + (e.mode === undefined ? '' : ' ' + e.mode.toString(8)));
  const tree = [];
  const walk = (rel) => {
    for (const name of readdirSync(root + rel).sort()) {
      const st = lstatSync(root + rel + '/' + name);
      tree.push((rel + '/' + name).slice(1) + ' ' + (st.mode & 0o7777).toString(8));
      if (st.isDirectory()) walk(rel + '/' + name);
    }
  };
  walk('');
  console.log(JSON.stringify({ entries, tree, scratch: readdirSync(scratch) }));
} catch (err) {
  console.log(JSON.stringify({ code: err.code, message: err.message }));
  process.exitCode = 1;
}
`,
  );
});

afterAll(async () => {
  if (work !== undefined) await removeRootfs(work);
});

async function asNobody(script: string): Promise<Record<string, unknown>> {
  const r = await exec('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, driver, script], { cwd: work });
  if (r.stdout.trim() === '') throw new Error(`the driver printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe.runIf(asRoot)('the overlay snapshotter as an ordinary user', () => {
  it('merges changes into and below read-only directories, which keep their modes, and deletes there', async () => {
    const r = await asNobody('echo g > ro/sub/g; rm ro/sub/f; mkdir -p newro/in; echo z > newro/in/z; chmod 555 newro/in newro; rm -r ro/sub/../keep');
    expect(r.code).toBeUndefined();
    expect(r.entries).toEqual(['dir newro 555', 'dir newro/in 555', 'file newro/in/z 644', 'dir ro 555', 'whiteout ro/keep', 'dir ro/sub 555', 'whiteout ro/sub/f', 'file ro/sub/g 644']);
    expect(r.tree).toEqual(['newro 555', 'newro/in 555', 'newro/in/z 644', 'ro 555', 'ro/sub 555', 'ro/sub/g 644']);
    expect(r.scratch).toEqual([]);
  });
});
