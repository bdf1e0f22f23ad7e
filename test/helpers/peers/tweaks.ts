/**
 * Our own reproductions of the context tweaks upstream runs before building
 * (Go callbacks in buildah's tests/conformance/conformance_test.go and setup
 * steps in tests/bud.bats). They were read, not copied: each one makes the
 * same files, modes, owners, times, xattrs and archives.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, copyFile, link, lstat, lutimes, mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeTar } from './tarball.js';

/** Upstream's `testDate`: the fixed time its tweaks stamp on files. */
export const TEST_DATE = new Date(1485449953 * 1000);

/** Go's os.WriteFile(perm) under the usual umask 022. */
const UMASK = 0o022;

async function writeFileAs(file: string, content: string, perm: number, opts: { uid?: number; gid?: number } = {}): Promise<void> {
  await writeFile(file, content, { mode: perm & ~UMASK });
  if (opts.uid !== undefined) await chown(file, opts.uid, opts.gid ?? opts.uid);
  await utimes(file, TEST_DATE, TEST_DATE);
}

interface ArchiveMember {
  name: string;
  type?: 'file' | 'directory';
  mode: number;
  uid?: number;
  gid?: number;
  content?: string;
  xattrs?: Record<string, string>;
}

/** A tar archive as Go's archive/tar writes these headers (PAX records only for xattrs). */
async function writeArchive(file: string, members: ArchiveMember[]): Promise<void> {
  await writeTar(
    file,
    members.map((m) => {
      const pax: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.xattrs ?? {})) pax[`SCHILY.xattr.${k}`] = v;
      return { ...m, mtime: TEST_DATE, ...(Object.keys(pax).length > 0 ? { pax } : {}) };
    }),
  );
}

/** `setfattr` (Debian package attr): an oracle independent of hoist's own xattr code. */
function setXattr(file: string, name: string, value: string): void {
  execFileSync('setfattr', ['-n', name, '-v', value, file]);
}

const dockerignore =
  (content: string, perm: number) =>
  async (ctx: string): Promise<void> => {
    await writeFileAs(path.join(ctx, '.dockerignore'), content, perm);
    // Go's WriteFile keeps an existing file's mode; a new one gets perm & ~umask. Ours is always new here.
  };

async function ownedFiles(dir: string, names: Array<[string, number]>): Promise<void> {
  await mkdir(dir, { mode: 0o755 });
  for (const [name, uid] of names) await writeFileAs(path.join(dir, name), 'test content', 0o640, { uid, gid: uid });
}

async function xattrFile(ctx: string): Promise<void> {
  const file = path.join(ctx, 'xattrs-file');
  await writeFile(file, 'test content', { mode: 0o644 });
  setXattr(file, 'user.a', 'test');
  await chmod(file, 0o640);
  await utimes(file, TEST_DATE, TEST_DATE);
}

/** buildah-conformance tweaks, by case index (names repeat in the table). */
export const TWEAKS: Record<string, (ctx: string) => Promise<void>> = {
  // copy-escape-glob: directories whose names contain glob metacharacters.
  'copy-escape-glob': async (ctx) => {
    for (const [dir, content] of [
      ['jkl?', 'another'],
      ['n?pe', 'and also'],
      ['st*uv', 'and yet'],
    ] as const) {
      const d = path.join(ctx, 'app', dir);
      await mkdir(d, { mode: 0o700 });
      await chmod(d, 0o700);
      await writeFile(path.join(d, 'file.txt'), content, { mode: 0o600 });
    }
  },
  'add-permissions': async (ctx) => {
    await ownedFiles(path.join(ctx, 'archive'), [
      ['should-be-owned-by-root', 0],
      ['should-be-owned-by-99', 99],
    ]);
    await writeArchive(path.join(ctx, 'archive.tar'), [
      { name: 'archive/should-be-owned-by-root', mode: 0o640, content: 'test content' },
      { name: 'archive/should-be-owned-by-99', mode: 0o640, uid: 99, gid: 99, content: 'test content' },
    ]);
  },
  'copy-permissions': async (ctx) => {
    await ownedFiles(path.join(ctx, 'subdir'), [
      ['would-be-owned-by-root', 0],
      ['would-be-owned-by-99', 99],
    ]);
  },
  'copy-permissions-implicit': async (ctx) => {
    await ownedFiles(path.join(ctx, 'subdir'), [
      ['would-be-owned-by-root', 0],
      ['would-be-owned-by-99', 99],
    ]);
  },
  'setuid-file-in-context': async (ctx) => {
    for (const [name, mode] of [
      ['should-be-setuid-file', 0o4755],
      ['should-be-setgid-file', 0o2755],
      ['should-be-sticky-file', 0o1755],
      ['should-not-be-setuid-setgid-sticky-file', 0o640],
    ] as const) {
      const file = path.join(ctx, name);
      await writeFile(file, 'test content', { mode: 0o644 });
      await chmod(file, mode);
      await utimes(file, TEST_DATE, TEST_DATE);
    }
  },
  'xattrs-file-in-context': xattrFile,
  'setuid-file-in-archive': async (ctx) => {
    await writeArchive(path.join(ctx, 'archive.tar'), [
      { name: 'setuid-file', mode: 0o4755, content: 'whatever' },
      { name: 'setgid-file', mode: 0o2755, content: 'whatever' },
      { name: 'sticky-file', mode: 0o1755, content: 'whatever' },
      { name: 'setuid-dir', type: 'directory', mode: 0o4755 },
      { name: 'setgid-dir', type: 'directory', mode: 0o2755 },
      { name: 'sticky-dir', type: 'directory', mode: 0o1755 },
    ]);
  },
  'xattrs-file-in-archive': async (ctx) => {
    await writeArchive(path.join(ctx, 'archive.tar'), [{ name: 'xattr-file', mode: 0o640, content: 'whatever', xattrs: { 'user.a': 'test' } }]);
  },
  'xattrs-file-in-other-stage': xattrFile,
  'dockerignore-irrelevant': dockerignore('**/*-a\n!**/*-c', 0o600),
  'dockerignore-exceptions-dot': dockerignore('**/*-a\n!**/*-c', 0o644),
  'dockerignore-extensions-star': dockerignore('**/*-a\n!**/*-c', 0o600),
  'dockerignore-includes-dot': dockerignore('!**/*-c', 0o640),
  'dockerignore-includes-star': dockerignore('!**/*-c\n', 0o100),
  // Two cases each share these names; the table index tells them apart.
  '93': dockerignore('subdir-c', 0o200),
  '94': dockerignore('subdir-c', 0o400),
  '95': dockerignore('**/subdir-c', 0o200),
  '96': dockerignore('**/subdir-c', 0o400),
  'dockerignore-exclude-wildcard-dot': dockerignore('subdir-*', 0o000),
  'dockerignore-exclude-wildcard-star': dockerignore('subdir-*', 0o660),
  'dockerignore-exclude-deep-wildcard-dot': dockerignore('**/subdir-*', 0o000),
  'dockerignore-exclude-deep-wildcard-star': dockerignore('**/subdir-*', 0o660),
  '101': dockerignore('**/subdir-f', 0o666),
  '102': dockerignore('**/subdir-f', 0o640),
  'dockerignore-exclude-not-so-deep-subdir-dot': dockerignore('**/subdir-b', 0o705),
  'dockerignore-exclude-not-so-deep-subdir-star': dockerignore('**/subdir-b', 0o750),
  'dockerignore-exclude-kind-of-deep-subdir-dot': dockerignore('**/subdir-e\n!**/subdir-f', 0o750),
  'dockerignore-exclude-kind-of-deep-subdir-star': dockerignore('**/subdir-e\n!**/subdir-f', 0o750),
  '107': dockerignore('**/subdir-f\n!**/subdir-g', 0o750),
  '108': dockerignore('**/subdir-f\n!**/subdir-g', 0o750),
};

/** The tweak for a conformance case: by index where names repeat, else by name. */
export function conformanceTweak(index: number, name: string): ((ctx: string) => Promise<void>) | undefined {
  return TWEAKS[String(index)] ?? TWEAKS[name];
}

/**
 * buildah-bud setups from tests/bud.bats, keyed by Dockerfile path under bud/.
 * Each gets an empty directory and returns the context and Dockerfile to build.
 */
export const BUD_TWEAKS: Record<string, (ctx: string, dockerfile: string) => Promise<{ contextDir: string; dockerfile: string }>> = {
  // "bud-copy-replace-symlink": the Dockerfile, a symlink to it, and an unrelated .dockerignore.
  'symlink/Dockerfile.replace-symlink': async (ctx, dockerfile) => {
    const dest = path.join(ctx, 'Dockerfile.replace-symlink');
    await copyFile(dockerfile, dest);
    await symlink('Dockerfile.replace-symlink', path.join(ctx, 'symlink'));
    await writeFile(path.join(ctx, '.dockerignore'), 'foo\n');
    return { contextDir: ctx, dockerfile: dest };
  },
  // "bud-copy-recurse": COPY . . twice with a .dockerignore present.
  'recurse/Dockerfile': async (ctx, dockerfile) => {
    const dest = path.join(ctx, 'Dockerfile');
    await copyFile(dockerfile, dest);
    await writeFile(path.join(ctx, '.dockerignore'), 'foo\n');
    return { contextDir: ctx, dockerfile: dest };
  },
  // "bud-copy-dockerignore-hardlinks": four names for one inode, across directories.
  'hardlink/Dockerfile': async (ctx, dockerfile) => {
    const dest = path.join(ctx, 'Dockerfile');
    await copyFile(dockerfile, dest);
    await writeFile(path.join(ctx, '.dockerignore'), 'foo\n');
    await mkdir(path.join(ctx, 'subdir'));
    await writeFile(path.join(ctx, 'subdir', 'test1.txt'), 'test1\n');
    await link(path.join(ctx, 'subdir', 'test1.txt'), path.join(ctx, 'subdir', 'test2.txt'));
    await link(path.join(ctx, 'subdir', 'test2.txt'), path.join(ctx, 'test3.txt'));
    await link(path.join(ctx, 'test3.txt'), path.join(ctx, 'test4.txt'));
    return { contextDir: ctx, dockerfile: dest };
  },
};

/**
 * Give everything created or changed since `since` (ms) the time `to`, so
 * that no context entry looks like it was made by the build itself (the
 * differential suite treats directory times after its start as build times).
 */
export async function settleTimes(root: string, since: number, to: Date): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const abs = path.join(dir, name);
      const st = await lstat(abs);
      if (st.isDirectory()) await walk(abs);
      if (st.mtimeMs >= since) await lutimes(abs, to, to);
    }
  };
  await walk(root);
  if ((await lstat(root)).mtimeMs >= since) await utimes(root, to, to);
}
