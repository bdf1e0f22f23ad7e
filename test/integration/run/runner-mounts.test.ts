/**
 * RUN mounts in each runner on a real busybox rootfs: binds (read-only and
 * read-write, directories and files), a cache whose writes reach its
 * source, a tmpfs, a unix socket; the rootfs is left exactly as it was,
 * with no trace of a mount point the runner made or of what it hid.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChrootRunner, findHostTools, ProotRunner, UsernsRunner, type ProcessSpec, type Runner, type StepMount } from '../../../src/run/index.js';
import { APP_GID, APP_UID, makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { ensureDebianPackages } from '../../helpers/packages.js';
import { listTree } from '../../helpers/rootfs-listing.js';

let work: string;
let rootfs: string;
let sources: string;
let socketServer: Server;

const tools = findHostTools(process.env.PATH);
const opts = (): { tools: typeof tools; tmpDir: string } => ({ tools, tmpDir: work });

async function run(runner: Runner, script: string, mounts: StepMount[]): Promise<{ exitCode: number; out: string }> {
  let out = '';
  const spec: ProcessSpec = {
    argv: ['/bin/sh', '-c', script],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    cwd: '/',
    uid: 0,
    gid: 0,
    groups: [],
    rootfs,
    mounts,
    network: 'default',
  };
  const r = await runner.run(spec, { stdout: (c) => (out += c.toString()), stderr: (c) => (out += c.toString()) });
  return { exitCode: r.exitCode, out };
}

beforeAll(async () => {
  await ensureDebianPackages(['proot', 'uidmap', 'busybox-static']);
  work = await mkdtemp(path.join(tmpdir(), 'hoist-runner-mounts-'));
  rootfs = path.join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  await chmod(rootfs, 0o755);
  // Something already at a target: a mount hides it for the step, and it is there again afterwards.
  await mkdir(path.join(rootfs, 'srv/data'), { recursive: true });
  await writeFile(path.join(rootfs, 'srv/data/original'), 'from the image\n');
  sources = path.join(work, 'sources');
  await mkdir(path.join(sources, 'tree/sub'), { recursive: true });
  await writeFile(path.join(sources, 'tree/sub/file'), 'bound content\n');
  await writeFile(path.join(sources, 'secret'), 'hush\n', { mode: 0o400 });
  socketServer = createServer((c) => c.end('pong from the agent\n'));
  await new Promise<void>((resolve) => socketServer.listen(path.join(work, 'agent.sock'), resolve));
}, 15 * 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => socketServer?.close(() => resolve()));
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const CASES: { name: string; make: () => Runner; readonlyEnforced: boolean }[] = [
  { name: 'userns (one uid mapped)', make: () => new UsernsRunner(opts()), readonlyEnforced: true },
  { name: 'chroot with a mount namespace', make: () => new ChrootRunner({ ...opts(), mountNamespace: true }), readonlyEnforced: true },
  { name: 'chroot without a mount namespace (copies)', make: () => new ChrootRunner({ ...opts(), mountNamespace: false }), readonlyEnforced: false },
  { name: 'proot', make: () => new ProotRunner({ ...opts(), killOnExit: false }), readonlyEnforced: false },
];

describe.each(CASES)('$name runner', (c) => {
  it('binds directories and files, hides what was at the target, and leaves the rootfs as it was', async () => {
    const before = await listTree(rootfs);
    const r = await run(
      c.make(),
      [
        'cat /srv/data/sub/file',
        'test -e /srv/data/original && echo HIDDEN-VISIBLE',
        'cat /run/secrets/token',
        'cat /deep/new/dir/sub/file',
        'echo scribble > /deep/new/dir/scribble 2>/dev/null; echo written $?',
        'ls /deep/new/dir',
      ].join('; '),
      [
        { source: path.join(sources, 'tree'), target: '/srv/data', readonly: true },
        { source: path.join(sources, 'secret'), target: '/run/secrets/token', readonly: true },
        { source: path.join(sources, 'tree'), target: '/deep/new/dir' },
      ],
    );
    expect(r.out).toContain('bound content\n');
    expect(r.out).not.toContain('HIDDEN-VISIBLE');
    expect(r.out).toContain('hush\n');
    expect(r.out).toContain('written 0');
    expect(await listTree(rootfs)).toEqual(before);
    expect(await readFile(path.join(rootfs, 'srv/data/original'), 'utf8')).toBe('from the image\n');
    // A read-write bind that is not a cache: the copies are hoist's own, the runners that bind for real write to the source.
    await rm(path.join(sources, 'tree/scribble'), { force: true });
  }, 120_000);

  it('refuses a file (a secret, a socket) on a directory of the image, saying so, and leaves the directory as it was', async () => {
    const before = await listTree(rootfs);
    for (const source of [path.join(sources, 'secret'), path.join(work, 'agent.sock')]) {
      const err = await run(c.make(), 'echo RAN', [{ source, target: '/srv/data', readonly: true }]).catch((e: unknown) => e);
      expect(err, source).toMatchObject({
        code: 'RUN_MOUNTPOINT',
        message: "cannot prepare /srv/data in the root filesystem for the step: a file goes there (a secret, an SSH agent's socket or a bound file), and /srv/data is a directory in the image",
        hint: expect.stringContaining('a target that is a file path') as unknown,
      });
    }
    expect(await listTree(rootfs)).toEqual(before);
  }, 120_000);

  it('refuses writes to a read-only bind where the runner can mount', async () => {
    const r = await run(c.make(), 'echo x > /srv/data/new 2>/dev/null && echo WROTE || echo REFUSED', [{ source: path.join(sources, 'tree'), target: '/srv/data', readonly: true }]);
    expect(r.out).toContain(c.readonlyEnforced ? 'REFUSED' : 'WROTE');
    await rm(path.join(sources, 'tree/new'), { force: true });
  }, 120_000);

  it('keeps what a step writes to a cache mount in its source, and nothing of it in the rootfs', async () => {
    const cache = path.join(work, `cache-${c.name.replace(/\W+/g, '-')}`);
    await mkdir(cache);
    const before = await listTree(rootfs);
    const mount: StepMount = { source: cache, target: '/root/.cache/tool', writeBack: true };
    expect((await run(c.make(), 'echo first > /root/.cache/tool/state', [mount])).exitCode).toBe(0);
    expect(await readFile(path.join(cache, 'state'), 'utf8')).toBe('first\n');
    const second = await run(c.make(), 'cat /root/.cache/tool/state; echo second >> /root/.cache/tool/state', [mount]);
    expect(second.out).toBe('first\n');
    expect(await readFile(path.join(cache, 'state'), 'utf8')).toBe('first\nsecond\n');
    expect(await listTree(rootfs)).toEqual(before);
  }, 120_000);

  it('leaves the cache directory itself in place, with its mode, when the step has written to it (another build may be using it)', async () => {
    // The builder locks a shared cache for a runner that copies it (cache-mount.ts): this one says whether it does.
    expect(c.make().copiesMounts ?? false).toBe(c.name.includes('copies'));
    const cache = path.join(work, `kept-cache-${c.name.replace(/\W+/g, '-')}`);
    await mkdir(cache);
    await writeFile(path.join(cache, 'old'), 'old\n');
    await chmod(cache, 0o750);
    const before = await stat(cache);
    const mount: StepMount = { source: cache, target: '/root/.cache/kept', writeBack: true };
    expect((await run(c.make(), 'rm /root/.cache/kept/old; echo new > /root/.cache/kept/new', [mount])).exitCode).toBe(0);
    const after = await stat(cache);
    expect({ ino: after.ino, mode: after.mode & 0o7777 }).toEqual({ ino: before.ino, mode: 0o750 });
    expect(await readdir(cache)).toEqual(['new']);
  }, 120_000);

  it('never writes a mount made inside a cache mount (a secret at /root/.m2/settings.xml) into the cache, and keeps the cache\'s own entry there', async () => {
    const cache = path.join(work, `m2-${c.name.replace(/\W+/g, '-')}`);
    await mkdir(path.join(cache, 'deep'), { recursive: true });
    await writeFile(path.join(cache, 'settings.xml'), 'the cache\'s own\n');
    const before = await listTree(rootfs);
    const mounts: StepMount[] = [
      { source: cache, target: '/root/.m2', writeBack: true },
      { source: path.join(sources, 'secret'), target: '/root/.m2/settings.xml', readonly: true },
      { source: path.join(sources, 'tree'), target: '/root/.m2/deep/bound', readonly: true },
    ];
    const r = await run(c.make(), 'cat /root/.m2/settings.xml; cat /root/.m2/deep/bound/sub/file; echo built > /root/.m2/repo', mounts);
    expect(r).toEqual({ exitCode: 0, out: 'hush\nbound content\n' });
    expect(await readFile(path.join(cache, 'repo'), 'utf8')).toBe('built\n');
    expect(await readFile(path.join(cache, 'settings.xml'), 'utf8')).toBe('the cache\'s own\n');
    expect((await readdir(path.join(cache, 'deep', 'bound')).catch(() => [])).length).toBe(0);
    expect((await readdir(cache)).sort()).toEqual(['deep', 'repo', 'settings.xml']);
    expect(await listTree(rootfs)).toEqual(before);
  }, 120_000);

  it('mounts inside a read-only bind (a cache under a source tree), leaving the bind source and the rootfs as they were', async () => {
    const cache = path.join(work, `nested-cache-${c.name.replace(/\W+/g, '-')}`);
    await mkdir(cache);
    const before = await listTree(rootfs);
    const sourceBefore = await listTree(path.join(sources, 'tree'));
    const r = await run(c.make(), 'cat /srv/data/sub/file && echo kept > /srv/data/node_modules/state && ls /srv/data/tmp | wc -l', [
      { source: path.join(sources, 'tree'), target: '/srv/data', readonly: true },
      { source: cache, target: '/srv/data/node_modules', writeBack: true },
      { kind: 'tmpfs', target: '/srv/data/sub/tmp' },
    ]);
    expect(r.out).toContain('bound content\n');
    expect(r.exitCode).toBe(0);
    expect(await readFile(path.join(cache, 'state'), 'utf8')).toBe('kept\n');
    expect(await listTree(rootfs)).toEqual(before);
    expect(await listTree(path.join(sources, 'tree'))).toEqual(sourceBefore);
  }, 120_000);

  it('copies nothing of the host into a cache when the step makes a directory on the cache\'s way a link out of the rootfs', async () => {
    const cache = path.join(work, `loot-${c.name.replace(/\W+/g, '-')}`);
    const host = path.join(work, `host-only-${c.name.replace(/\W+/g, '-')}`);
    await mkdir(cache);
    await mkdir(path.join(host, '.ssh'), { recursive: true });
    await writeFile(path.join(host, '.ssh', 'id'), 'host key\n');
    try {
      await run(c.make(), `rm -rf /x; ln -s ${host} /x; true`, [{ source: cache, target: '/x/.ssh', writeBack: true }]);
      // Under proot a bind is a path translation: rm -rf /x reaches through it and removes the cache directory itself.
      expect(await readdir(cache).catch(() => [])).toEqual([]);
      expect(await readFile(path.join(host, '.ssh', 'id'), 'utf8')).toBe('host key\n');
    } finally {
      await rm(path.join(rootfs, 'x'), { recursive: true, force: true });
    }
  }, 120_000);

  it('a step that moves a mounted secret away is not left with a copy of it in the rootfs (the copying runner fails it)', async () => {
    await mkdir(path.join(rootfs, 'app'));
    await writeFile(path.join(rootfs, 'app', 'main'), 'code\n');
    try {
      const outcome = await run(c.make(), 'mv /app /srv-app 2>/dev/null; true', [{ source: path.join(sources, 'secret'), target: '/app/.npmrc', readonly: true }]).then(
        (r) => r,
        (e: unknown) => e,
      );
      if (c.name.includes('copies')) {
        expect(outcome).toMatchObject({ code: 'RUN_MOUNT_MOVED', message: expect.stringContaining('/app/.npmrc') });
      } else {
        expect(outcome).toMatchObject({ exitCode: 0 });
      }
      // Wherever the step put the directory, no copy of the secret is in the rootfs.
      for (const dir of ['app', 'srv-app']) {
        const content = await readFile(path.join(rootfs, dir, '.npmrc'), 'utf8').catch(() => '');
        expect(content, dir).toBe('');
      }
    } finally {
      await rm(path.join(rootfs, 'app'), { recursive: true, force: true });
      await rm(path.join(rootfs, 'srv-app'), { recursive: true, force: true });
    }
  }, 120_000);

  it('keeps what the step writes beside a mount, in a parent made for the mount point, and only that', async () => {
    const cache = path.join(work, `beside-cache-${c.name.replace(/\W+/g, '-')}`);
    await mkdir(cache);
    const r = await run(c.make(), 'echo beside > /opt/made/for/other && echo inside > /opt/made/for/mount/f', [{ source: cache, target: '/opt/made/for/mount', writeBack: true }]);
    expect(r.exitCode).toBe(0);
    try {
      expect(await readFile(path.join(rootfs, 'opt/made/for/other'), 'utf8')).toBe('beside\n');
      expect(existsSync(path.join(rootfs, 'opt/made/for/mount'))).toBe(false);
      expect(await readFile(path.join(cache, 'f'), 'utf8')).toBe('inside\n');
    } finally {
      await rm(path.join(rootfs, 'opt'), { recursive: true, force: true });
    }
  }, 120_000);

  it('gives an empty tmpfs (or its stand-in) that is gone afterwards', async () => {
    const before = await listTree(rootfs);
    const r = await run(c.make(), 'ls -A /scratch | wc -l; echo x > /scratch/f && cat /scratch/f; ls -A /srv/data', [{ kind: 'tmpfs', target: '/scratch' }, { kind: 'tmpfs', target: '/srv/data' }]);
    expect(r.exitCode).toBe(0);
    expect(r.out.trim().split('\n')).toEqual(['0', 'x']);
    expect(await listTree(rootfs)).toEqual(before);
  }, 120_000);

  it('forwards a unix socket, with its owner and mode (the builder gives them to an agent\'s relay)', async () => {
    const before = await listTree(rootfs);
    const sock = path.join(work, 'agent.sock');
    await chmod(sock, 0o660);
    await chown(sock, APP_UID, APP_GID);
    try {
      const r = await run(c.make(), 'test -S /run/agent.sock && echo IS-SOCKET; stat -c "owner %u:%g mode %a" /run/agent.sock; nc local:/run/agent.sock </dev/null 2>&1 || echo no-nc', [{ source: sock, target: '/run/agent.sock' }]);
      expect(r.out).toContain('IS-SOCKET');
      // A one-uid namespace shows other owners as nobody; proot shows what hoist (root here) owns as root: it keeps ids of its own.
      if (c.name.startsWith('chroot')) expect(r.out).toContain(`owner ${APP_UID}:${APP_GID} mode 660`);
      else if (c.name.startsWith('userns')) expect(r.out).toContain('mode 660');
      if (!r.out.includes('no-nc')) expect(r.out).toContain('pong from the agent');
    } finally {
      await chown(sock, 0, 0);
    }
    expect(await listTree(rootfs)).toEqual(before);
  }, 120_000);
});
