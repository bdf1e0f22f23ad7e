/**
 * applyLayers and removeRootfs as an ordinary user (nobody, through
 * util-linux `setpriv`), as in a restricted pod: owners are recorded instead
 * of set, devices are skipped, directories of mode 0555 and 000 from the
 * image are still written into by upper layers and keep their modes, and
 * the result can be removed. Also as root of a user namespace that maps one
 * uid (podman, unconfined pods): the kernel refuses other owners and devices.
 * The module is bundled with esbuild so that a
 * plain `node` run as that user can load it (all but the xattr addon).
 */
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeRootfs } from '../../../snapshot/rootfs/index.js';
import { tarChunks, type TarHeader, type TarType } from '../../../src/tar/index.js';
import { exec } from '../../helpers/peers/exec.js';

const NOBODY = 65534;
const T0 = 1_700_000_000;
const asRoot = process.getuid?.() === 0;

type Member = Partial<TarHeader> & { name: string; data?: string };

async function writeLayer(file: string, members: Member[]): Promise<void> {
  const inputs = members.map((m) => {
    const { data, ...rest } = m;
    const type: TarType = m.type ?? (m.name.endsWith('/') ? 'dir' : 'file');
    const header: TarHeader = { type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: T0, ...rest, size: data?.length ?? 0 };
    return data === undefined ? { header } : { header, open: () => [Buffer.from(data)] };
  });
  const chunks: Buffer[] = [];
  for await (const c of tarChunks(inputs)) chunks.push(c);
  await writeFile(file, Buffer.concat(chunks));
}

let work: string;
let driver: string;

beforeAll(async () => {
  // The test run's temp root is private to root; nobody needs to pass through it.
  const runRoot = tmpdir();
  await chmod(runRoot, ((await stat(runRoot)).mode & 0o7777) | 0o011);
  work = await mkdtemp(join(runRoot, 'hoist-rootfs-nobody-'));
  await chmod(work, 0o755);
  await chown(work, NOBODY, NOBODY);
  await build({
    entryPoints: [join(import.meta.dirname, '../../../snapshot/rootfs/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: join(work, 'rootfs.mjs'),
    logLevel: 'silent',
    // A native addon (prebuilt .node binary) is not bundled: the bundle loads it from the project's node_modules.
    external: ['@napi-rs/xattr'],
  });
  await symlink(await realpath(join(import.meta.dirname, '../../../node_modules')), join(work, 'node_modules'));
  driver = join(work, 'driver.mjs');
  await writeFile(
    driver,
    `import { applyLayers, removeRootfs } from './rootfs.mjs';
const [cmd, root, ...layers] = process.argv.slice(2);
try {
  if (cmd === 'apply') {
    const s = await applyLayers(root, layers);
    console.log(JSON.stringify({ ...s, intendedOwners: Object.fromEntries(s.intendedOwners) }));
  } else {
    await removeRootfs(root);
    console.log('{}');
  }
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

async function asNobody(...args: string[]): Promise<Record<string, unknown>> {
  const r = await exec('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, driver, ...args], { cwd: work });
  if (r.stdout.trim() === '') throw new Error(`the driver printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe.runIf(asRoot)('applyLayers as an ordinary user', () => {
  it('records owners, skips devices, writes into read-only directories and removes the result', async () => {
    const l1 = join(work, 'l1.tar');
    const l2 = join(work, 'l2.tar');
    await writeLayer(l1, [
      { name: 'ro/', mode: 0o555 },
      { name: 'ro/f', data: 'lower' },
      { name: 'ro/sub/', mode: 0 },
      { name: 'ro/sub/g', data: 'g' },
      { name: 'ro/sub/deeper/', mode: 0o500 },
      { name: 'ro/sub/deeper/h', data: 'h' },
      { name: 'usr/bin/su', data: 'su', mode: 0o4755 },
      { name: 'home/app/', uid: 1000, gid: 1000 },
      { name: 'home/app/.profile', data: 'x', uid: 1000, gid: 1000, mode: 0o600 },
      { name: 'dev/null', type: 'char-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'locked', data: 'secret', mode: 0 },
    ]);
    await writeLayer(l2, [
      { name: 'ro/new', data: 'upper' },
      { name: 'ro/.wh.f', data: '' },
      { name: 'ro/sub/deeper/.wh..wh..opq', data: '' },
      { name: 'ro/sub/deeper/i', data: 'i' },
      { name: 'locked.link', type: 'link', linkname: 'locked', mode: 0 },
    ]);
    const root = join(work, 'root');
    await mkdir(root);
    await chown(root, NOBODY, NOBODY);

    const s = await asNobody('apply', root, l1, l2);
    expect(s).toMatchObject({
      layers: 2,
      ownersApplied: false,
      skippedDevices: 1,
      intendedOwners: { 'home/app': { uid: 1000, gid: 1000 }, 'home/app/.profile': { uid: 1000, gid: 1000 } },
    });
    // Read back as root.
    expect(await readFile(join(root, 'ro/new'), 'utf8')).toBe('upper');
    expect(await readdir(join(root, 'ro'))).toEqual(['new', 'sub']);
    expect((await readdir(join(root, 'ro/sub/deeper'))).sort()).toEqual(['i']);
    expect((await lstat(join(root, 'ro'))).mode & 0o7777).toBe(0o555);
    expect((await lstat(join(root, 'ro/sub'))).mode & 0o7777).toBe(0);
    expect((await lstat(join(root, 'ro/sub/deeper'))).mode & 0o7777).toBe(0o500);
    const su = await lstat(join(root, 'usr/bin/su'));
    expect([su.mode & 0o7777, su.uid]).toEqual([0o4755, NOBODY]);
    expect((await lstat(join(root, 'locked.link'))).nlink).toBe(2);
    expect(await readdir(join(root, 'dev'))).toEqual([]);

    expect(await asNobody('remove', root)).toEqual({});
    await expect(lstat(root)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('as root of a user namespace that maps one uid: owners the kernel refuses are recorded, devices skipped', async () => {
    const l = join(work, 'userns.tar');
    await writeLayer(l, [
      { name: 'etc/', mode: 0o755 },
      { name: 'etc/shadow', data: 's', mode: 0o640, gid: 42 },
      { name: 'home/app/', uid: 1000, gid: 1000 },
      { name: 'bin/su', data: 'su', mode: 0o4755 },
      { name: 'dev/null', type: 'char-device', mode: 0o666, devmajor: 1, devminor: 3 },
    ]);
    const root = join(work, 'userns-root');
    await mkdir(root);
    await chown(root, NOBODY, NOBODY);
    // nobody maps itself to root in a new user namespace: uid 0 there, and no other id exists.
    const r = await exec(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'unshare', '--user', '--map-root-user', process.execPath, driver, 'apply', root, l],
      { cwd: work },
    );
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(s).toMatchObject({
      ownersApplied: false,
      skippedDevices: 1,
      intendedOwners: { 'etc/shadow': { uid: 0, gid: 42 }, 'home/app': { uid: 1000, gid: 1000 } },
    });
    const su = await lstat(join(root, 'bin/su'));
    expect([su.mode & 0o7777, su.uid]).toEqual([0o4755, NOBODY]);
    expect(await asNobody('remove', root)).toEqual({});
  });

  it('removes an overlay work dir left at mode 000', async () => {
    const dir = join(work, 'ovl');
    await mkdir(join(dir, 'W/work/inner'), { recursive: true });
    await writeFile(join(dir, 'W/work/inner/x'), 'x');
    await chown(dir, NOBODY, NOBODY);
    for (const p of ['W', 'W/work', 'W/work/inner', 'W/work/inner/x']) await chown(join(dir, p), NOBODY, NOBODY);
    await chmod(join(dir, 'W/work/inner'), 0);
    await chmod(join(dir, 'W/work'), 0);
    expect(await asNobody('remove', dir)).toEqual({});
    await expect(lstat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
