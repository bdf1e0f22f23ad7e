/**
 * RUN --mount end to end over a busybox base, with each runner that works
 * here: binds from the context and from a stage, caches kept between
 * builds, tmpfs, secrets and an SSH agent; nothing of a mount, not even a
 * mount point hoist made, reaches a layer, and a secret reaches no blob,
 * no history, no event and no metadata file.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildOptions } from '../../../src/builder/executor/build.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import { RUNNER_KINDS, type RunnerKind } from '../../../src/run/index.js';
import { BlobStore } from '../../../src/oci/index.js';
import { commandLines } from '../../helpers/processes.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';
import { APP_UID, makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { AMD64 } from '../../helpers/plan.js';
import { BUSYBOX_BASE, buildLines, tempDir } from '../../helpers/build.js';
import { type ReadImage, type TarMember } from '../../helpers/oci-reader.js';
import { ensureDebianPackages } from '../../helpers/packages.js';
import { RegistryClient, RegistrySink, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';

let context: string;
scratchTmpdir('hoist-mounts-tmp-');
const SECRET = 'correct-horse-battery-staple-0d1f';

interface Built {
  image: ReadImage;
  events: BuildEvent[];
  layout: string;
  metadata: string;
}

async function hoistBuild(lines: string[], extra: Partial<BuildOptions> = {}): Promise<Built> {
  const metadata = path.join(tempDir('hoist-mounts-meta-'), 'metadata.json');
  const { image, events, layout } = await buildLines(context, [...BUSYBOX_BASE, ...lines], { metadataFile: metadata, ...extra });
  return { image, events, layout, metadata };
}

/** The names a layer holds, without the trailing slash of directories. */
function names(layer: TarMember[] | undefined): string[] {
  return (layer ?? []).map((m) => m.name.replace(/\/$/, ''));
}

/** Every blob of an OCI layout, gunzipped where it is gzip. */
async function blobTexts(layout: string): Promise<string[]> {
  const dir = path.join(layout, 'blobs', 'sha256');
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const data = await readFile(path.join(dir, name));
    out.push((data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data).toString('latin1'));
  }
  return out;
}

beforeAll(async () => {
  await ensureDebianPackages(['proot', 'uidmap', 'busybox-static', 'openssh-client']);
  context = tempDir('hoist-mounts-ctx-');
  await makeBusyboxRootfs(path.join(context, 'rootfs'));
  await mkdir(path.join(context, 'src/sub'), { recursive: true });
  await writeFile(path.join(context, 'src/sub/data.txt'), 'from the context\n');
  await writeFile(path.join(context, 'src/ignored.txt'), 'ignored by .dockerignore\n');
  await writeFile(path.join(context, '.dockerignore'), 'src/ignored.txt\n');
  await writeFile(path.join(context, 'secret.txt'), SECRET);
}, 15 * 60_000);

/** The host's ssh-add, its libraries and its loader (as `ld.so`) in `dir`. */
async function hostSshAdd(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const sshAdd = execFileSync('sh', ['-c', 'command -v ssh-add'], { encoding: 'utf8' }).trim();
  await copyFile(sshAdd, path.join(dir, 'ssh-add'));
  for (const line of execFileSync('ldd', [sshAdd], { encoding: 'utf8' }).split('\n')) {
    const lib = /(\/\S+) \(0x/.exec(line)?.[1];
    if (lib === undefined) continue;
    await copyFile(lib, path.join(dir, /ld-linux/.test(lib) ? 'ld.so' : path.basename(lib)));
  }
  await chmod(path.join(dir, 'ld.so'), 0o755);
}

/** A runner kind that cannot work on this machine is skipped by what it says (RUN_NO_RUNNER), as in run.test.ts. */
async function orNoRunner<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    if ((err as { code?: string }).code === 'RUN_NO_RUNNER') return undefined;
    throw err;
  }
}

describe.each(RUNNER_KINDS.map((kind) => ({ kind })))('RUN --mount with --isolation $kind', ({ kind }: { kind: RunnerKind }) => {
  it('binds the context (as .dockerignore leaves it) and a stage, read-only by default, rw discarded, and leaves no trace of the mount points', async () => {
    const built = await orNoRunner(() =>
      hoistBuild(
        [
          'FROM base AS tools',
          'RUN mkdir -p /opt/tool && echo tool-made > /opt/tool/made',
          'FROM base',
          'RUN --mount=target=/mnt/ctx,source=src --mount=type=bind,from=tools,source=/opt/tool,target=/mnt/tool --mount=type=bind,target=/mnt/rw,source=src,rw \\',
          '  cat /mnt/ctx/sub/data.txt /mnt/tool/made > /seen; test -e /mnt/ctx/ignored.txt && echo IGNORED-VISIBLE >> /seen; \\',
          '  (echo x > /mnt/ctx/new) 2>/dev/null && echo RO-WRITABLE >> /seen; echo scribble > /mnt/rw/sub/scribble; echo done >> /seen',
          'RUN test -e /mnt && echo MNT-LEFT > /check || echo clean > /check; test -e /mnt/rw/sub/scribble && echo RW-KEPT >> /check || true',
        ],
        { isolation: kind },
      ),
    );
    if (built === undefined) return;
    const layers = built.image.layers;
    const step = layers.at(-2) as TarMember[];
    const seen = step.find((m) => m.name === 'seen')?.content.toString();
    expect(seen).toContain('from the context\ntool-made\n');
    expect(seen).not.toContain('IGNORED-VISIBLE');
    // Read-only is enforced where the runner mounts; proot and the plain chroot give a discarded copy.
    if (kind !== 'proot') expect(seen).not.toContain('RO-WRITABLE');
    expect(seen).toMatch(/done\n$/);
    expect(names(step)).toEqual(['seen']);
    expect((layers.at(-1) as TarMember[]).find((m) => m.name === 'check')?.content.toString()).toBe('clean\n');
  }, 300_000);

  it('keeps a cache mount between builds, in no layer, with its id, mode and sharing', async () => {
    const store = tempDir('hoist-mounts-cache-store-');
    const steps = ['FROM base', 'RUN --mount=type=cache,target=/var/cache/thing,sharing=locked,mode=0700 echo run >> /var/cache/thing/log; cat /var/cache/thing/log > /count; stat -c %a /var/cache/thing > /mode'];
    const first = await orNoRunner(() => hoistBuild(steps, { isolation: kind, store: new BlobStore(store) }));
    if (first === undefined) return;
    const second = await hoistBuild(steps, { isolation: kind, store: new BlobStore(store) });
    const last = second.image.layers.at(-1) as TarMember[];
    expect(last.find((m) => m.name === 'count')?.content.toString()).toBe('run\nrun\n');
    expect(last.find((m) => m.name === 'mode')?.content.toString()).toBe('700\n');
    for (const b of [first, second]) for (const layer of b.image.layers.slice(1)) expect(names(layer).some((n) => n.startsWith('var/cache'))).toBe(false);
    // Kept under the cache dir, by id (the target by default).
    expect(await readFile(path.join(store, 'mounts', encodeURIComponent('/var/cache/thing'), 'log'), 'utf8')).toBe('run\nrun\n');
    // Another id is another cache.
    const other = await hoistBuild(['FROM base', 'RUN --mount=type=cache,id=other,target=/var/cache/thing cat /var/cache/thing/log > /count 2>&1 || echo empty > /count'], { isolation: kind, store: new BlobStore(store) });
    expect((other.image.layers.at(-1) as TarMember[]).find((m) => m.name === 'count')?.content.toString()).toBe('empty\n');
  }, 300_000);

  it('mounts one cache id twice in one RUN, locked, as the same directory (it once waited for itself forever)', async () => {
    const built = await orNoRunner(() =>
      hoistBuild(['FROM base', 'RUN --mount=type=cache,id=twice,target=/a,sharing=locked --mount=type=cache,id=twice,target=/b,sharing=locked sh -c "echo same > /a/f; cat /b/f > /seen"'], { isolation: kind }),
    );
    if (built === undefined) return;
    expect((built.image.layers.at(-1) as TarMember[]).find((m) => m.name === 'seen')?.content.toString()).toBe('same\n');
  }, 300_000);

  it("gives the bound context, a mount's new parents and a missing working directory Docker's modes, whatever hoist's umask", async () => {
    const own = process.umask(0o077);
    try {
      const built = await orNoRunner(() =>
        hoistBuild(['FROM base', 'WORKDIR /made/by/workdir', 'RUN rmdir /made/by/workdir', 'RUN --mount=type=bind,target=/ctx --mount=type=cache,target=/deep/new/cache echo x > /deep/new/kept && stat -c "%a %n" /ctx /deep /deep/new "$PWD" > /modes'], { isolation: kind }),
      );
      if (built === undefined) return;
      const last = built.image.layers.at(-1) as TarMember[];
      expect(last.find((m) => m.name === 'modes')?.content.toString()).toBe('755 /ctx\n755 /deep\n755 /deep/new\n755 /made/by/workdir\n');
      // The parents the step wrote into stay in its layer, with those modes.
      expect(last.filter((m) => ['deep/', 'deep/new/'].includes(m.name)).map((m) => `${m.name} ${(m.mode & 0o7777).toString(8)}`)).toEqual(['deep/ 755', 'deep/new/ 755']);
    } finally {
      process.umask(own);
    }
  }, 300_000);

  it('gives an empty tmpfs whose files reach no layer', async () => {
    const built = await orNoRunner(() => hoistBuild(['FROM base', 'RUN --mount=type=tmpfs,target=/tmp/scratch,size=16m ls -A /tmp/scratch | wc -l > /n && echo x > /tmp/scratch/f && echo ok >> /n'], { isolation: kind }));
    if (built === undefined) return;
    const last = built.image.layers.at(-1) as TarMember[];
    expect(last.find((m) => m.name === 'n')?.content.toString().replace(/ /g, '')).toBe('0\nok\n');
    expect(names(last).some((n) => n.startsWith('tmp/scratch'))).toBe(false);
  }, 300_000);

  it('gives secrets as files and variables, and their content reaches no blob, history, event or metadata file', async () => {
    const secretFile = path.join(context, 'secret.txt');
    const sum = createHash('sha256').update(SECRET).digest('hex');
    const built = await orNoRunner(() =>
      hoistBuild(
        [
          'FROM base',
          'RUN --mount=type=secret,id=token --mount=type=secret,id=envtok,env=TOKEN --mount=type=secret,id=absent \\',
          '  sha256sum /run/secrets/token | cut -d" " -f1 > /file-sum; printf %s "$TOKEN" | sha256sum | cut -d" " -f1 > /env-sum; \\',
          '  stat -c %a /run/secrets/token > /mode; test -e /run/secrets/absent && echo ABSENT-PRESENT > /absent || true; test -e /run/secrets/envtok && echo ENV-FILE > /envfile || true',
        ],
        { isolation: kind, secrets: new Map([['token', { file: secretFile }], ['envtok', { value: Buffer.from(SECRET) }]]) },
      ),
    );
    if (built === undefined) return;
    const last = built.image.layers.at(-1) as TarMember[];
    expect(last.find((m) => m.name === 'file-sum')?.content.toString()).toBe(`${sum}\n`);
    expect(last.find((m) => m.name === 'env-sum')?.content.toString()).toBe(`${sum}\n`);
    expect(last.find((m) => m.name === 'mode')?.content.toString()).toBe('400\n');
    expect(names(last).sort()).toEqual(['env-sum', 'file-sum', 'mode']);
    for (const text of await blobTexts(built.layout)) expect(text.includes(SECRET)).toBe(false);
    expect(JSON.stringify(built.image.config)).not.toContain(SECRET);
    expect(JSON.stringify(built.events)).not.toContain(SECRET);
    expect(await readFile(built.metadata, 'utf8')).not.toContain(SECRET);
  }, 300_000);

  it('a secret given as an environment variable is on no command line while the step runs (any local user reads /proc/PID/cmdline)', async () => {
    const secret = `cmdline-secret-${process.pid}-${kind}`;
    const cacheMountsDir = tempDir('hoist-mounts-sync-');
    let seen: { processes: number; leaks: string[] } | undefined;
    // The step waits (in a cache mount, which is the host's directory) for a file the test makes once it has read every process's command line.
    const watch = (async () => {
      for (let i = 0; i < 1200 && seen === undefined; i++) {
        const lines = commandLines();
        if (lines.some((cmd) => cmd.includes('hoist-cmdline-probe')) && existsSync(path.join(cacheMountsDir, 'sync'))) {
          seen = { processes: lines.length, leaks: lines.filter((cmd) => cmd.includes(secret)).map((cmd) => cmd.replaceAll('\0', ' ')) };
          writeFileSync(path.join(cacheMountsDir, 'sync', 'go'), '');
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const built = await orNoRunner(() =>
      hoistBuild(
        [
          'FROM base',
          `RUN --mount=type=secret,id=tok,env=TOKEN --mount=type=cache,id=sync,target=/sync sh -c 'i=0; while [ ! -e /sync/go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; printf %s "$TOKEN" | wc -c > /len' hoist-cmdline-probe`,
        ],
        { isolation: kind, cacheMountsDir, secrets: new Map([['tok', { value: Buffer.from(secret) }]]) },
      ),
    ).finally(() => {
      seen ??= { processes: 0, leaks: [] };
    });
    await watch;
    if (built === undefined) return;
    expect(seen?.processes).toBeGreaterThan(0);
    expect(seen?.leaks).toEqual([]);
    const last = built.image.layers.at(-1) as TarMember[];
    expect(last.find((m) => m.name === 'len')?.content.toString().trim()).toBe(String(secret.length));
  }, 300_000);

  it('a read-only cache mount keeps what the step tries to write out of the cache (proot cannot make a bind read-only: it gets a copy)', async () => {
    const built = await orNoRunner(() =>
      hoistBuild([
        'FROM base',
        'RUN --mount=type=cache,id=ro-test,target=/c echo kept > /c/kept',
        'RUN --mount=type=cache,id=ro-test,target=/c,ro sh -c "echo lost > /c/lost 2>/dev/null; true"',
        'RUN --mount=type=cache,id=ro-test,target=/c ls /c > /listing',
      ], { isolation: kind }),
    );
    if (built === undefined) return;
    const last = built.image.layers.at(-1) as TarMember[];
    expect(last.find((m) => m.name === 'listing')?.content.toString()).toBe('kept\n');
  }, 300_000);

  it('refuses a missing required secret, a missing required agent and a source outside the context, at the line', async () => {
    const missing = await orNoRunner(() => hoistBuild(['FROM base', 'RUN --mount=type=secret,id=npmrc,required true'], { isolation: kind }).then(() => 'built', (e: unknown) => e));
    if (missing === undefined) return;
    expect(missing).toMatchObject({ code: 'RUN_SECRET_MISSING', message: expect.stringContaining('Dockerfile:4:'), hint: expect.stringContaining('--secret id=npmrc') });
    await expect(hoistBuild(['FROM base', 'RUN --mount=type=ssh,required true'], { isolation: kind })).rejects.toMatchObject({
      code: 'RUN_SSH_MISSING',
      message: expect.stringContaining('Dockerfile:4:'),
      hint: expect.stringContaining('--ssh default'),
    });
    await expect(hoistBuild(['FROM base', 'RUN --mount=type=bind,source=../etc,target=/x true'], { isolation: kind })).rejects.toMatchObject({
      code: 'RUN_MOUNT_SOURCE_OUTSIDE',
      message: expect.stringContaining('Dockerfile:4:'),
      hint: expect.stringContaining('inside the build context'),
    });
  }, 300_000);

  it('refuses a mount on / or under /proc or /sys, also through a symlink in the image, at the line', async () => {
    const direct = await orNoRunner(() => hoistBuild(['FROM base', 'RUN --mount=type=tmpfs,target=/proc/1/root/tmp true'], { isolation: kind }).then(() => 'built', (e: unknown) => e));
    if (direct === undefined) return;
    expect(direct).toMatchObject({ code: 'RUN_MOUNT_TARGET', message: expect.stringContaining('Dockerfile:4: RUN --mount target=/proc/1/root/tmp: a mount may not be made') });
    await expect(hoistBuild(['FROM base', 'RUN --mount=type=cache,target=/sys/x true'], { isolation: kind })).rejects.toMatchObject({ code: 'RUN_MOUNT_TARGET' });
    await expect(hoistBuild(['FROM base', 'RUN --mount=type=bind,source=src,target=/ true'], { isolation: kind })).rejects.toMatchObject({ code: 'RUN_MOUNT_TARGET' });
    await expect(hoistBuild(['FROM base', 'RUN ln -s /proc/1/root/tmp /out', 'RUN --mount=type=tmpfs,target=/out/x true'], { isolation: kind })).rejects.toMatchObject({
      code: 'RUN_MOUNT_TARGET',
      message: expect.stringContaining('Dockerfile:5: RUN --mount target=/out/x (it resolves to /proc/1/root/tmp/x in the image)'),
      hint: expect.stringContaining('somewhere else'),
    });
  }, 300_000);

  it('forwards an SSH agent: ssh-add -l in the step lists its key, SSH_AUTH_SOCK is the default target, no trace of /run/buildkit after', async () => {
    const dir = tempDir('hoist-mounts-agent-');
    const sock = path.join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      // The agent knows a key, so that the step can see one through it.
      const key = path.join(dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hoist-test-key', '-f', key]);
      execFileSync('ssh-add', [key], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      // busybox has no ssh-add: the host's, with its libraries, is bound in and run through its loader.
      await hostSshAdd(path.join(context, 'ssh-tools'));
      const built = await orNoRunner(() =>
        hoistBuild(
          [
            'FROM base',
            'RUN --mount=type=ssh --mount=type=bind,source=ssh-tools,target=/t test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /sock && /t/ld.so --library-path /t /t/ssh-add -l > /keys',
            'RUN test -e /run/buildkit && echo LEFT > /left || echo clean > /left',
            // A non-root step reaches the agent through a socket with the mount's owner and mode (BuildKit's), whoever owns the agent's.
            'USER app',
            `RUN --mount=type=ssh,uid=${APP_UID},mode=0600 --mount=type=bind,source=ssh-tools,target=/t stat -c "%u %a" "$SSH_AUTH_SOCK" > /tmp/app-sock && /t/ld.so --library-path /t /t/ssh-add -l > /tmp/app-keys`,
            'RUN --mount=type=ssh stat -c "%u %a" "$SSH_AUTH_SOCK" > /tmp/default-sock; /t/ld.so 2>/dev/null; echo done > /tmp/default-done',
          ],
          { isolation: kind, sshAgents: new Map([['default', sock]]) },
        ),
      );
      if (built === undefined) return;
      const step = built.image.layers.at(-4) as TarMember[];
      expect(step.find((m) => m.name === 'sock')?.content.toString()).toBe('/run/buildkit/ssh_agent.0\n');
      expect(step.find((m) => m.name === 'keys')?.content.toString()).toContain('hoist-test-key (ED25519)');
      expect(names(step).sort()).toEqual(['keys', 'sock']);
      expect((built.image.layers.at(-3) as TarMember[]).find((m) => m.name === 'left')?.content.toString()).toBe('clean\n');
      const app = built.image.layers.at(-2) as TarMember[];
      expect(app.find((m) => m.name === 'tmp/app-sock')?.content.toString()).toBe(`${APP_UID} 600\n`);
      expect(app.find((m) => m.name === 'tmp/app-keys')?.content.toString()).toContain('hoist-test-key (ED25519)');
      // Without uid=, the socket is root's alone, as in BuildKit. proot shows hoist's own files as the step's user (-i) and enforces no owner.
      if (kind !== 'proot') expect((built.image.layers.at(-1) as TarMember[]).find((m) => m.name === 'tmp/default-sock')?.content.toString()).toBe('0 600\n');
      // A TMPDIR too deep for a unix socket's path (108 bytes): the relay goes to a short private directory instead.
      const deep = path.join(dir, 'd'.repeat(60), 'e'.repeat(60));
      await mkdir(deep, { recursive: true });
      const saved = process.env.TMPDIR;
      const relayDirs = (): string[] => readdirSync('/tmp').filter((n) => n.startsWith('hoist-ssh-'));
      const relaysBefore = relayDirs();
      process.env.TMPDIR = deep;
      try {
        const inDeep = await hoistBuild(
          ['FROM base', 'RUN --mount=type=ssh --mount=type=bind,source=ssh-tools,target=/t /t/ld.so --library-path /t /t/ssh-add -l > /deep-keys'],
          { isolation: kind, sshAgents: new Map([['default', sock]]) },
        );
        expect((inDeep.image.layers.at(-1) as TarMember[]).find((m) => m.name === 'deep-keys')?.content.toString()).toContain('hoist-test-key (ED25519)');
      } finally {
        if (saved === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved;
      }
      // The build's scratch directory and the relay's are gone.
      expect(readdirSync(deep).filter((n) => n.startsWith('hoist-build-'))).toEqual([]);
      expect(relayDirs()).toEqual(relaysBefore);
    } finally {
      if (agent.pid !== undefined) process.kill(agent.pid);
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('RUN --mount with --snapshot overlay', () => {
  it('mounts over the overlay, and the upper dir holds nothing of the mounts', async () => {
    const built = await orNoRunner(() =>
      hoistBuild(
        [
          'FROM base',
          'RUN --mount=target=/mnt/ctx,source=src --mount=type=cache,target=/var/cache/o --mount=type=tmpfs,target=/tmp/t --mount=type=secret,id=s \\',
          '  cat /mnt/ctx/sub/data.txt /run/secrets/s > /dev/null && echo c >> /var/cache/o/f && echo t > /tmp/t/f && echo ok > /ok',
        ],
        { snapshot: 'overlay', secrets: new Map([['s', { value: Buffer.from(SECRET) }]]) },
      ).catch((err: unknown) => {
        // Where overlay cannot be mounted here, the build says so before running anything.
        if ((err as { code?: string }).code === 'SNAPSHOT_OVERLAY_UNAVAILABLE') return undefined;
        throw err;
      }),
    );
    if (built === undefined) return;
    expect(built.events.some((e) => e.type === 'note' && e.code === 'SNAPSHOT' && e.message.includes('overlay'))).toBe(true);
    expect(names(built.image.layers.at(-1))).toEqual(['ok']);
  }, 300_000);
});

describe('RUN --mount from an image', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ keychain: anonymousKeychain() });
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('binds a path of a registry image, and caches can be seeded from one', async () => {
    const store = new BlobStore(tempDir('hoist-mounts-img-store-'));
    const images = new RegistrySource(client, { store, defaultPlatform: AMD64 });
    const ref = `${registry.host}/mounts-src:1`;
    await hoistBuild(['FROM base', 'RUN mkdir -p /opt/data && echo in-the-image > /opt/data/file'], { store, images, push: new RegistrySink(client), tags: [ref] });
    const built = await orNoRunner(() =>
      hoistBuild(
        [
          'FROM base',
          `RUN --mount=type=bind,from=${ref},source=/opt/data,target=/img --mount=type=cache,id=seeded,from=${ref},source=/opt/data,target=/c cat /img/file /c/file > /seen`,
        ],
        { store, images },
      ),
    );
    if (built === undefined) return;
    const last = built.image.layers.at(-1) as TarMember[];
    expect(last.find((m) => m.name === 'seen')?.content.toString()).toBe('in-the-image\nin-the-image\n');
    expect(names(last)).toEqual(['seen']);
  }, 300_000);
});
