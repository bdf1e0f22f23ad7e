/**
 * Each runner on a real busybox rootfs: ids, environment, working directory,
 * exit codes and signals, streaming, /proc and /dev, the network files, and
 * a rootfs left exactly as it was.
 */
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import {
  ChrootRunner,
  findHostTools,
  ProotRunner,
  UsernsRunner,
  type ProcessSpec,
  type RunResult,
  type Runner,
} from '../../../src/run/index.js';
import { APP_GID, APP_UID, makeBusyboxRootfs, STAFF_GID } from '../../helpers/busybox-rootfs.js';
import { ensureDebianPackages } from '../../helpers/packages.js';
import { listTree } from '../../helpers/rootfs-listing.js';

let work: string;
let rootfs: string;

interface Captured extends RunResult {
  stdout: string;
  stderr: string;
}

async function run(runner: Runner, spec: Partial<ProcessSpec>, signal?: AbortSignal): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const full: ProcessSpec = {
    argv: ['/bin/true'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' },
    cwd: '/',
    uid: 0,
    gid: 0,
    groups: [],
    rootfs,
    mounts: [],
    network: 'default',
    ...spec,
  };
  const r = await runner.run(full, { stdout: (c) => (stdout += c.toString()), stderr: (c) => (stderr += c.toString()) }, signal);
  return { ...r, stdout, stderr };
}

/** Pids of processes whose argv is exactly `argv` (found by scanning /proc: the test kills by id only). */
async function pidsOf(argv: readonly string[]): Promise<number[]> {
  const want = argv.join('\0') + '\0';
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'latin1').catch(() => '');
    if (cmdline === want) pids.push(Number(name));
  }
  return pids;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  await ensureDebianPackages(['proot', 'uidmap', 'busybox-static']);
  work = await mkdtemp(path.join(tmpdir(), 'hoist-runners-'));
  rootfs = path.join(work, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  await chmod(rootfs, 0o755);
}, 15 * 60_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const tools = findHostTools(process.env.PATH);
const opts = (tmpDir = work): { tools: typeof tools; tmpDir: string } => ({ tools, tmpDir });

interface Case {
  name: string;
  /** The runner, with its per-step scratch files in `tmpDir` (default the test's work dir). */
  make: (tmpDir?: string) => Runner;
  /** Whether /proc is there for the step. */
  proc: boolean;
  /** Whether the step may run as a non-root user with supplementary groups. */
  ids: 'all' | 'no-groups' | 'root-only';
  /** Whether the runner isolates the network for --network=none. */
  networkNone: boolean;
  /** Whether the step's command is the init of its own PID namespace. */
  pidNamespace: boolean;
  /** The step's ptys: a devpts of its own (as runc mounts one), or none (a plain chroot cannot mount one; proot would have to bind the host's). */
  ptys: 'own' | 'none';
}

const CASES: Case[] = [
  { name: 'userns (one uid mapped)', make: (t) => new UsernsRunner(opts(t)), proc: true, ids: 'root-only', networkNone: true, pidNamespace: true, ptys: 'own' },
  { name: 'chroot with a mount namespace', make: (t) => new ChrootRunner({ ...opts(t), mountNamespace: true }), proc: true, ids: 'all', networkNone: true, pidNamespace: true, ptys: 'own' },
  { name: 'chroot without a mount namespace', make: (t) => new ChrootRunner({ ...opts(t), mountNamespace: false }), proc: false, ids: 'all', networkNone: false, pidNamespace: false, ptys: 'none' },
  { name: 'proot', make: (t) => new ProotRunner({ ...opts(t), killOnExit: false }), proc: true, ids: 'no-groups', networkNone: false, pidNamespace: false, ptys: 'none' },
];

describe.each(CASES)('$name runner', (c) => {
  const runner = (): Runner => c.make();

  it('runs as root, in the working directory, with exactly the given environment', async () => {
    process.env.HOIST_RUNNER_TEST_SECRET = 'must-not-leak';
    try {
      const env = { PATH: '/bin:/usr/bin', GREETING: 'hello world', EMPTY: '' };
      const r = await run(runner(), { argv: ['/usr/bin/env'], env, cwd: '/home/app' });
      expect(r.exitCode).toBe(0);
      // proot always adds PWD (the working directory), as a shell would.
      const extra = c.name === 'proot' ? ['PWD=/home/app'] : [];
      expect(r.stdout.trim().split('\n').sort()).toEqual(['EMPTY=', 'GREETING=hello world', 'PATH=/bin:/usr/bin', ...extra]);
      const id = await run(runner(), { argv: ['/bin/sh', '-c', 'id -u; id -g; pwd; echo "$PATH"'], env, cwd: '/home/app' });
      expect(id.stdout).toBe('0\n0\n/home/app\n/bin:/usr/bin\n');
    } finally {
      delete process.env.HOIST_RUNNER_TEST_SECRET;
    }
  });

  it('gives the step its private variables, and refuses names that the tools on the way read', async () => {
    const env = { PATH: '/bin:/usr/bin' };
    const r = await run(runner(), { argv: ['/usr/bin/env'], env, privateEnv: { TOKEN: 's3cret value', _npm_token: 'npm-token' } });
    expect(r.exitCode).toBe(0);
    const extra = c.name === 'proot' ? ['PWD=/'] : [];
    expect(r.stdout.trim().split('\n').sort()).toEqual(['PATH=/bin:/usr/bin', ...extra, 'TOKEN=s3cret value', '_npm_token=npm-token'].sort());
    // Every runner refuses the same names, also those only a shell on the way drops (npm's //host/:_authToken).
    for (const name of ['LD_PRELOAD', 'IFS', 'PATH', 'PWD', 'PROOT_LOADER', 'npm_config_//registry.example.com/:_authToken']) {
      const refused = await run(runner(), { argv: ['/bin/true'], env, privateEnv: { [name]: '/tmp/x.so' } }).catch((err: unknown) => err);
      expect(refused, name).toBeInstanceOf(HoistError);
      expect((refused as HoistError).code).toBe('RUN_PRIVATE_VARIABLE');
      expect((refused as HoistError).message).toContain(JSON.stringify(name));
    }
  });

  it('sets the variables that host tools would act on (ENV LD_PRELOAD) inside the rootfs, through the image\'s env, in order', async () => {
    const env = { PATH: '/bin:/usr/bin', LD_PRELOAD: '/usr/lib/hoist-test-missing.so', KEEP: 'x', LD_LIBRARY_PATH: '/opt/lib', TMPDIR: '/var/tmp' };
    const r = await run(runner(), { argv: ['/bin/sh', '-c', 'echo "$LD_PRELOAD|$LD_LIBRARY_PATH|$TMPDIR|$KEEP"'], env });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('/usr/lib/hoist-test-missing.so|/opt/lib|/var/tmp|x\n');
    // The host's dynamic loader (setpriv, nsenter, proot) would say it cannot preload the image's library.
    expect(r.stderr).toBe('');
    // The environment in the order it was given (busybox env prints it as it is), after the secrets; under proot
    // (which adds PWD) the moved variables come last, so that the others stay off the command line that runs for the step's length.
    const all = await run(runner(), { argv: ['/usr/bin/env'], env, privateEnv: { TOKEN: 's3cret' } });
    const lines = all.stdout.trim().split('\n').filter((l) => !l.startsWith('PWD='));
    const given = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    if (c.name === 'proot') {
      expect(lines).toEqual(['TOKEN=s3cret', 'PATH=/bin:/usr/bin', 'KEEP=x', 'LD_PRELOAD=/usr/lib/hoist-test-missing.so', 'LD_LIBRARY_PATH=/opt/lib', 'TMPDIR=/var/tmp']);
    } else {
      expect(lines).toEqual(['TOKEN=s3cret', ...given]);
    }
    expect(all.stderr).toBe('');
  });

  it('refuses a loader variable it cannot keep from the host tools (the image\'s env under a mount)', async () => {
    const empty = await mkdtemp(path.join(work, 'empty-'));
    const err = await run(runner(), { argv: ['/bin/true'], env: { PATH: '/bin', LD_PRELOAD: '/x.so' }, mounts: [{ source: empty, target: '/usr' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoistError);
    expect((err as HoistError).code).toBe('RUN_HOST_VARIABLE');
  });

  it('resolves the working directory inside the rootfs, symlinks included', async () => {
    const link = path.join(rootfs, 'tmp/etc-link');
    await import('node:fs/promises').then((fs) => fs.symlink('/etc', link));
    try {
      const r = await run(runner(), { argv: ['/bin/sh', '-c', 'cat passwd'], cwd: '/tmp/etc-link' });
      expect(r.stdout).toContain(`app:x:${APP_UID}:${APP_GID}`);
      expect(r.stdout).not.toContain('daemon:'); // the host's passwd has it
    } finally {
      await rm(link);
    }
  });

  it('reports the exit code', async () => {
    const r = await run(runner(), { argv: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'] });
    expect(r).toMatchObject({ exitCode: 7, stdout: 'out\n', stderr: 'err\n' });
    expect(r.signal).toBeUndefined();
  });

  it(c.pidNamespace ? 'reports a step killed by a signal as 128 + the signal' : 'reports a step killed by a signal as that signal', async () => {
    const argv = ['/bin/sleep', `${3000 + CASES.indexOf(c)}`];
    const pending = run(runner(), { argv });
    // Killed from outside: a PID namespace's init ignores signals from inside, as Docker's RUN does.
    const [pid] = await waitFor(async () => ((await pidsOf(argv)).length > 0 ? pidsOf(argv) : undefined), 'the step to start');
    process.kill(pid as number, 'SIGKILL');
    const r = await pending;
    // In a PID namespace the signal reaches hoist as the status of the namespace's init (see namespace-setup.ts).
    expect(r.signal).toBe(c.pidNamespace ? undefined : 'SIGKILL');
    expect(r.exitCode).toBe(137);
  });

  it('lets the step reach no host file through another process\'s /proc/PID/root', async () => {
    // A file only the host has: a step that can read it through any process it sees could read hoist's own credentials too.
    const marker = path.join(work, `host-only-${CASES.indexOf(c)}`);
    await writeFile(marker, 'host');
    try {
      const script = `for r in /proc/[0-9]*/root; do [ -e "$r${marker}" ] && echo "reached through $r"; done; echo "pid $$"; echo done`;
      const r = await run(runner(), { argv: ['/bin/sh', '-c', script] });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).not.toContain('reached through');
      expect(r.stdout).toContain('done');
      // In a PID namespace the step is its init, as Docker's RUN is: no process of the host's is in it.
      if (c.pidNamespace) expect(r.stdout).toContain('pid 1\n');
    } finally {
      await rm(marker);
    }
  });

  it('streams output as it comes', async () => {
    const go = path.join(rootfs, 'tmp/go');
    let sawFirstBeforeEnd = false;
    const done = (async () => {
      let out = '';
      const r = await c.make().run(
        {
          argv: ['/bin/sh', '-c', 'echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second'],
          env: { PATH: '/bin' },
          cwd: '/',
          uid: 0,
          gid: 0,
          groups: [],
          rootfs,
          mounts: [],
          network: 'default',
        },
        {
          stdout: (chunk) => {
            out += chunk.toString();
            if (out.includes('first') && !out.includes('second')) {
              sawFirstBeforeEnd = true;
              readFileSync('/dev/null'); // keep the callback synchronous
              void writeFile(go, '');
            }
          },
          stderr: () => undefined,
        },
      );
      return { r, out };
    })();
    const { r, out } = await done;
    await rm(go, { force: true });
    expect(sawFirstBeforeEnd).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(out).toBe('first\nsecond\n');
  });

  it('gives the step /dev/null and the other devices, and the host\'s resolv.conf and hosts', async () => {
    const r = await run(runner(), {
      argv: ['/bin/sh', '-c', 'echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c && cat /etc/resolv.conf && echo ---- && cat /etc/hosts'],
    });
    expect(r.stderr).toBe('');
    const [counts, hosts] = r.stdout.split('----\n');
    expect(counts).toBe(`4\n4\n${await readFile('/etc/resolv.conf', 'utf8')}`);
    expect(hosts).toBe(await readFile('/etc/hosts', 'utf8'));
  });

  if (c.pidNamespace) {
    // /dev's files come from a skeleton in the scratch dir, and its binds from an fstab that must escape such a path.
    it('gives /dev its links and directories, with scratch files under a path with a space and a #', async () => {
      const scratch = path.join(work, 'scratch dir #1');
      await mkdir(scratch, { recursive: true });
      const r = await run(c.make(scratch), {
        argv: ['/bin/sh', '-c', 'stat -c "%a %n" /dev /dev/pts /dev/shm; for l in fd stdin stdout stderr; do readlink /dev/$l; done; ls /dev; echo x > /dev/null; head -c 3 /dev/zero | wc -c; cat /etc/hosts'],
      });
      expect(r.stderr).toBe('');
      const [modes, links, list] = [r.stdout.split('\n').slice(0, 3), r.stdout.split('\n').slice(3, 7), r.stdout.split('\n').slice(7, 20)];
      expect(modes).toEqual(['755 /dev', '755 /dev/pts', '1777 /dev/shm']);
      expect(links).toEqual(['/proc/self/fd', '/proc/self/fd/0', '/proc/self/fd/1', '/proc/self/fd/2']);
      expect(list).toEqual(['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
      expect(r.stdout.split('\n').slice(20).join('\n')).toBe(`3\n${await readFile('/etc/hosts', 'utf8')}`);
      // Nothing of the step's scratch files is left.
      expect(await readdir(scratch)).toEqual([]);
    });
  }

  if (c.ptys !== 'none') {
    it('gives the step ptys of its own (a devpts instance, as runc mounts one), to every user', async () => {
      const before = await listTree(rootfs);
      // Opening the multiplexer makes a pty: a fresh instance has no other.
      const script = 'exec 3<>/dev/ptmx && ls /dev/pts';
      const want = '0\nptmx\n';
      expect(await run(runner(), { argv: ['/bin/sh', '-c', script] })).toMatchObject({ exitCode: 0, stdout: want, stderr: '' });
      if (c.ids !== 'root-only') {
        expect(await run(runner(), { argv: ['/bin/sh', '-c', script], uid: APP_UID, gid: APP_GID })).toMatchObject({ exitCode: 0, stdout: want, stderr: '' });
      }
      expect(await listTree(rootfs)).toEqual(before);
    });
  }

  it('gives the step a /dev/shm that every user may write to, as Docker does, and takes it away after', async () => {
    const before = await listTree(rootfs);
    const asRoot = await run(runner(), { argv: ['/bin/sh', '-c', 'stat -c %a /dev/shm && echo x > /dev/shm/by-root && cat /dev/shm/by-root'] });
    expect(asRoot).toMatchObject({ exitCode: 0, stdout: '1777\nx\n', stderr: '' });
    if (c.ids !== 'root-only') {
      const asApp = await run(runner(), { argv: ['/bin/sh', '-c', 'echo y > /dev/shm/by-app && cat /dev/shm/by-app'], uid: APP_UID, gid: APP_GID });
      expect(asApp).toMatchObject({ exitCode: 0, stdout: 'y\n', stderr: '' });
    }
    expect(await listTree(rootfs)).toEqual(before);
  });

  it("creates files with Docker's umask (0022), whatever hoist's own", async () => {
    const own = process.umask(0o077);
    try {
      const r = await run(runner(), { argv: ['/bin/sh', '-c', 'umask; echo x > /tmp/umask-f; mkdir /tmp/umask-d; stat -c %a /tmp/umask-f /tmp/umask-d; rm -r /tmp/umask-f /tmp/umask-d'] });
      expect(r).toMatchObject({ exitCode: 0, stdout: '0022\n644\n755\n', stderr: '' });
    } finally {
      process.umask(own);
    }
  });

  it(c.proc ? 'mounts /proc' : 'runs without /proc', async () => {
    const r = await run(runner(), { argv: ['/bin/grep', '-E', '^(Name|SigIgn):', '/proc/self/status'] });
    // No signal is ignored: the step can be interrupted as under Docker. (Not through busybox sh, which ignores SIGQUIT for its children.)
    if (c.proc) expect(r).toMatchObject({ exitCode: 0, stdout: 'Name:\tgrep\nSigIgn:\t0000000000000000\n' });
    else expect(r.exitCode).not.toBe(0);
  });

  if (c.ids === 'root-only') {
    it('refuses a non-root USER with a hint about subordinate ids', async () => {
      const err = await run(runner(), { argv: ['/bin/id'], uid: APP_UID, gid: APP_GID }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HoistError);
      expect((err as HoistError).code).toBe('RUN_UNMAPPED_ID');
      expect((err as HoistError).hint).toContain('/etc/subuid');
    });
  } else {
    it('runs a step as a non-root USER', async () => {
      const r = await run(runner(), { argv: ['/bin/sh', '-c', 'id -u; id -g; id -G; touch /tmp/made-by-app; stat -c %u:%g /tmp/made-by-app; rm /tmp/made-by-app'], uid: APP_UID, gid: APP_GID, groups: [APP_GID, STAFF_GID] });
      const groups = c.ids === 'all' ? `${APP_GID} ${STAFF_GID}` : `${APP_GID}`;
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${APP_UID}\n${APP_GID}\n${groups}\n${APP_UID}:${APP_GID}\n`);
    });
  }

  if (c.networkNone) {
    it('gives --network=none an empty network namespace', async () => {
      const r = await run(runner(), { argv: ['/bin/sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'], network: 'none' });
      expect(r).toMatchObject({ exitCode: 0, stdout: 'lo\n' });
    });

    it('binds a host directory, read-only where asked', async () => {
      const data = path.join(work, 'bind-src');
      await mkdir(data, { recursive: true });
      await writeFile(path.join(data, 'f.txt'), 'from the host\n');
      const r = await run(runner(), {
        argv: ['/bin/sh', '-c', 'cat /mnt/data/f.txt; echo x > /mnt/data/g.txt || echo refused'],
        mounts: [{ source: data, target: '/mnt/data', readonly: true }],
      });
      expect(r.stdout).toBe('from the host\nrefused\n');
    });
  } else {
    it('refuses --network=none', async () => {
      const err = await run(runner(), { network: 'none' }).catch((e: unknown) => e);
      expect((err as HoistError).code).toBe('RUN_NETWORK_UNSUPPORTED');
    });
  }

  it('kills the whole process tree on abort, a daemon that left the process group too', async () => {
    const n = 4000 + CASES.indexOf(c);
    const child = ['sleep', `${n}`];
    const daemon = ['sleep', `${n + 10}`];
    const controller = new AbortController();
    const pending = run(runner(), { argv: ['/bin/sh', '-c', `sleep ${n} & /bin/busybox setsid sleep ${n + 10} & echo started; wait`] }, controller.signal).catch((e: unknown) => e);
    await waitFor(async () => ((await pidsOf(child)).length > 0 && (await pidsOf(daemon)).length > 0 ? true : undefined), 'the background processes');
    controller.abort(new Error('interrupted'));
    expect(await pending).toMatchObject({ message: 'interrupted' });
    expect(await pidsOf(child)).toEqual([]);
    expect(await pidsOf(daemon)).toEqual([]);
  });

  // As in Docker, a step ends with its main process, and what it left running is stopped (a daemon, gpg's agents, `server &`).
  it('ends when its main process exits, with its status, and stops what it left running', async () => {
    const n = 4100 + 10 * CASES.indexOf(c);
    const left = [['sleep', `${n}`], ['sleep', `${n + 1}`], ['sleep', `${n + 2}`]];
    // A daemon holding the output pipes, one with its output elsewhere, and a plain background job; each says it
    // started (a file in /tmp, removed again) before the main process exits.
    const started = (i: number): string => `/tmp/started-${n + i}`;
    const script = [
      `/bin/busybox setsid sh -c 'touch ${started(0)}; exec sleep ${n}' &`,
      `/bin/busybox setsid sh -c 'touch ${started(1)}; exec sleep ${n + 1}' </dev/null >/dev/null 2>&1 &`,
      `(touch ${started(2)}; exec sleep ${n + 2}) &`,
      `while [ ! -e ${started(0)} ] || [ ! -e ${started(1)} ] || [ ! -e ${started(2)} ]; do sleep 0.05; done`,
      `rm ${started(0)} ${started(1)} ${started(2)}; echo started; exit 3`,
    ].join('\n');
    const r = await run(runner(), { argv: ['/bin/sh', '-c', script] });
    expect(r).toMatchObject({ exitCode: 3, stdout: 'started\n' });
    for (const argv of left) expect(await pidsOf(argv)).toEqual([]);
  });

  it('reports the signal that killed its main process, not that of what it left running', async () => {
    const n = 4150 + 10 * CASES.indexOf(c);
    // Nothing of the step exits before the kill: proot 5.1 reports a signal only then (see the README).
    const r = await run(runner(), { argv: ['/bin/sh', '-c', `/bin/busybox setsid sleep ${n} & kill -TERM $$; sleep 1`] });
    // PID 1 of a PID namespace ignores a SIGTERM it has no handler for, so there the step goes on and ends by itself.
    if (c.pidNamespace) expect(r.exitCode).toBe(0);
    else expect(r).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
    expect(await pidsOf(['sleep', `${n}`])).toEqual([]);
  });

  if (c.name === 'chroot without a mount namespace') {
    it('stops a daemon the step left in a chroot of its own, below the rootfs', async () => {
      const daemon = ['/bin/busybox', 'sleep', '4190'];
      const r = await run(runner(), {
        argv: ['/bin/sh', '-c', 'mkdir -p /nested/bin && cp /bin/busybox /nested/bin/ && /bin/busybox setsid /bin/busybox chroot /nested /bin/busybox sh -c "/bin/busybox touch /started; exec /bin/busybox sleep 4190" </dev/null >/dev/null 2>&1 & while [ ! -e /nested/started ]; do sleep 0.05; done; rm -rf /nested'],
      });
      expect(r.exitCode).toBe(0);
      expect(await pidsOf(daemon)).toEqual([]);
    });

    it('never removes through a symlink the step put where its mount points were', async () => {
      const victim = path.join(work, 'victim');
      await mkdir(victim, { recursive: true });
      await writeFile(path.join(victim, 'null'), 'keep me');
      try {
        const r = await run(runner(), { argv: ['/bin/sh', '-c', `rm -rf /dev && ln -s ${victim} /dev`] });
        expect(r.exitCode).toBe(0);
        expect(await readFile(path.join(victim, 'null'), 'utf8')).toBe('keep me');
      } finally {
        await rm(path.join(rootfs, 'dev'), { force: true });
      }
    });

    it('gives /etc its time back after adding resolv.conf, unless the step changed /etc itself', async () => {
      const etcLine = async (): Promise<string | undefined> => (await listTree(rootfs)).find((l) => l.startsWith('/etc '));
      const before = await etcLine();
      await run(runner(), { argv: ['/bin/cat', '/etc/resolv.conf'] });
      expect(await etcLine()).toBe(before);
      const r = await run(runner(), { argv: ['/bin/sh', '-c', 'sleep 0.1; touch /etc/made-by-step && rm /etc/made-by-step'] });
      expect(r.exitCode).toBe(0);
      expect(await etcLine()).not.toBe(before); // the step's own change to /etc is kept for the snapshot
    });
  }

  it('leaves nothing in the rootfs: no mount points, device nodes or network files, and the same times', async () => {
    const before = await listTree(rootfs);
    expect(before.filter((l) => /^\/(proc|dev|etc\/resolv\.conf|etc\/hosts) /.test(l))).toEqual([]); // the runner must make them
    const r = await run(runner(), { argv: ['/bin/sh', '-c', 'ls /dev/null /etc/resolv.conf /etc/hosts >/dev/null'] });
    expect(r.exitCode).toBe(0);
    expect(await listTree(rootfs)).toEqual(before);
  });
});
