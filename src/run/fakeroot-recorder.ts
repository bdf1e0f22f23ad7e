/**
 * Owners a step sets where the kernel cannot store them (proot, a user
 * namespace that maps one id), recorded with fakeroot: Debian's
 * libfakeroot-sysv.so is preloaded into the step's processes through the
 * rootfs's /etc/ld.so.preload, and talks over SysV IPC to a faked-sysv that
 * hoist runs on the host. chown, chmod and mknod calls land in faked's
 * table (device and inode -> owner and mode), which faked writes to its save
 * file when hoist stops it after the step; the walk snapshotter then finds
 * the paths by inode.
 *
 * Only what goes through glibc is seen: a statically linked program (busybox
 * from busybox-static, a Go binary) calls the kernel directly. The library is
 * the host's, so the image's glibc must provide every symbol version it needs
 * and be built for the same machine; `start` says why not when it cannot be
 * used. Nothing of it stays in the rootfs: the library and the preload list
 * are bind-mounted by the runner (its scaffold removes the mount points), the
 * saved table lives in hoist's scratch directory, and the variables are set
 * for the step's processes only, never in the image's config or history.
 *
 * Extended attributes a step sets (setcap, setfattr) are faked by
 * libfakeroot too, but faked keeps them in memory only: its save file has
 * no room for them, so they would vanish from the layer without a word.
 * faked runs with --debug, whose lines name every attribute set or removed;
 * while faked still runs, `xattrValues` reads the values back through
 * libfakeroot (faked-xattrs.ts), and `stop` reports the names, for the
 * caller to refuse those that layers carry and it could not read back.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { lstat, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { accessSync, constants, readdirSync } from 'node:fs';
import { HoistError } from '../errors.js';
import type { BindMount } from './process-spec.js';
import { findSystemTool, TOOL_PATH } from './host-tools.js';
import { readFakedXattrs, type FakedXattrs } from './faked-xattrs.js';
import { resolveInside } from './resolve-inside.js';

/** An owner, and permission bits when the step set them, as the image must have them. */
export interface RecordedOwner {
  uid: number;
  gid: number;
  mode?: number;
}

/** Inside the rootfs, for the length of the step only. */
const LIBRARY_TARGET = '/.hoist-fakeroot.so';
const PRELOAD_TARGET = '/etc/ld.so.preload';
const S_IFMT = 0o170000;

/** Where Debian and derivatives install the library. */
function findLibrary(): string | undefined {
  const candidates = ['/usr/lib/libfakeroot/libfakeroot-sysv.so', '/usr/lib64/libfakeroot/libfakeroot-sysv.so'];
  try {
    for (const dir of readdirSync('/usr/lib')) candidates.unshift(`/usr/lib/${dir}/libfakeroot/libfakeroot-sysv.so`);
  } catch {
    // no /usr/lib: no library
  }
  return candidates.find((c) => {
    try {
      accessSync(c, constants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The ELF class, byte order and machine of a file (bytes 4, 5 and 18-19 of its header), or undefined if it is no ELF file. */
async function elfKind(file: string): Promise<string | undefined> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    const head = Buffer.alloc(20);
    const { bytesRead } = await fh.read(head, 0, 20, 0);
    if (bytesRead < 20 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    return head.subarray(4, 6).toString('hex') + head.subarray(18, 20).toString('hex');
  } finally {
    await fh.close();
  }
}

const LIBC_PATHS = [
  'lib/x86_64-linux-gnu/libc.so.6',
  'usr/lib/x86_64-linux-gnu/libc.so.6',
  'lib/aarch64-linux-gnu/libc.so.6',
  'usr/lib/aarch64-linux-gnu/libc.so.6',
  'lib64/libc.so.6',
  'usr/lib64/libc.so.6',
  'lib/libc.so.6',
  'usr/lib/libc.so.6',
];

/** Whether the image at `rootfs` has a glibc (any machine's), as a dynamically linked program of it would load one. */
export async function hasGlibc(rootfs: string): Promise<boolean> {
  for (const p of LIBC_PATHS) if ((await resolveInside(rootfs, p)) !== undefined) return true;
  return false;
}

/** Why the host's library cannot be loaded by the programs of the image at `rootfs`, or undefined if it can. */
export async function whyNotLoadable(library: string, rootfs: string): Promise<string | undefined> {
  const want = await elfKind(library);
  let libc: string | undefined;
  for (const p of LIBC_PATHS) {
    const found = await resolveInside(rootfs, p);
    if (found !== undefined && (await elfKind(found)) === want) {
      libc = found;
      break;
    }
  }
  if (libc === undefined) return 'the image has no glibc for this machine (a static or musl image)';
  const needs = [...new Set((await readFile(library, 'latin1')).match(/GLIBC_2\.\d+(\.\d+)?/g) ?? [])];
  const has = await readFile(libc, 'latin1');
  const missing = needs.filter((v) => !has.includes(`${v}\0`));
  if (missing.length > 0) return `the image's glibc is older than the one fakeroot was built for (it lacks ${missing.sort().at(-1) ?? ''})`;
  return undefined;
}

export type RecorderStart = { ok: true; recorder: FakerootRecorder } | { ok: false; why: string };

export interface RecorderOptions {
  rootfs: string;
  /** A private directory of hoist's, never inside a rootfs. */
  tmpDir: string;
  /** What earlier steps recorded, by path in the rootfs (`etc/shadow`): the step sees these owners. */
  known: Iterable<[string, RecordedOwner]>;
}

/** What faked recorded for a step. */
export interface Recorded {
  /** Owners (and modes) by inode, `${dev}:${ino}` (decimal): new, or different from what was loaded. */
  owners: Map<string, RecordedOwner>;
  /** Attributes the step set (sorted): faked kept them in memory, and they are lost. */
  xattrCalls: string[];
}

/**
 * Reads faked's --debug lines as they come (a busy step makes tens of
 * megabytes of them) and keeps the names of the attributes set. Removals
 * are not counted: faked logs one even where there was nothing to remove
 * (`setfattr -x NAME f || true`), which would fail steps that lost nothing.
 */
export class XattrCallWatch {
  /** To the end of the line: a name may hold spaces. */
  private static readonly PATTERN = /process setxattr key = ([^\n]+)/g;
  private static readonly MARK = 'xattr key = ';
  /** The unfinished last line so far (a call's line is short: attribute names have at most 255 bytes). */
  private tail: Buffer = Buffer.alloc(0);
  readonly names = new Set<string>();

  feed(chunk: Buffer): void {
    const data = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    const end = data.lastIndexOf(10) + 1; // after the last newline
    // Most output has no such call: look for the mark before making a string of it.
    if (end > 0 && data.subarray(0, end).includes(XattrCallWatch.MARK)) {
      for (const m of data.toString('latin1', 0, end).matchAll(XattrCallWatch.PATTERN)) this.names.add(Buffer.from(m[1] as string, 'latin1').toString('utf8'));
    }
    this.tail = Buffer.from(data.subarray(Math.max(end, data.length - 512)));
  }
}

/** One step's faked, from `start` to `stop`. */
export class FakerootRecorder {
  private constructor(
    private readonly faked: ChildProcessByStdio<Writable, Readable, Readable>,
    private readonly xattrCalls: XattrCallWatch,
    private readonly dir: string,
    /** Where libfakeroot-sysv.so is on this machine. */
    private readonly library: string,
    private readonly key: string,
    private readonly loaded: Map<string, string>,
    /** Bind these into the step. */
    readonly mounts: readonly BindMount[],
    /** Add these to the step's environment. */
    readonly env: Readonly<Record<string, string>>,
  ) {}

  /** Start faked for a step in `rootfs`, or say why fakeroot cannot record owners there. */
  static async start(opts: RecorderOptions): Promise<RecorderStart> {
    const library = findLibrary();
    const faked = findSystemTool('faked-sysv');
    if (library === undefined || faked === undefined) return { ok: false, why: 'fakeroot is not installed on this machine (apt-get install fakeroot)' };
    const why = await whyNotLoadable(library, opts.rootfs);
    if (why !== undefined) return { ok: false, why };
    const preload = await lstat(path.join(opts.rootfs, PRELOAD_TARGET)).catch(() => undefined);
    if (preload !== undefined && !preload.isFile()) return { ok: false, why: `${PRELOAD_TARGET} in the image is not a regular file` };
    const theirs = preload === undefined ? '' : await readFile(path.join(opts.rootfs, PRELOAD_TARGET), 'utf8');

    const dir = await mkdtemp(path.join(opts.tmpDir, 'hoist-fakeroot-'));
    try {
      const preloadCopy = path.join(dir, 'ld.so.preload');
      await writeFile(preloadCopy, `${LIBRARY_TARGET}\n${theirs}`);
      const loaded = new Map<string, string>();
      const lines: string[] = [];
      for (const [rel, owner] of opts.known) {
        const st = await lstat(path.join(opts.rootfs, rel), { bigint: true }).catch(() => undefined);
        if (st === undefined) continue;
        const mode = (Number(st.mode) & S_IFMT) | (owner.mode ?? Number(st.mode & 0o7777n));
        const line = `dev=${st.dev.toString(16)},ino=${st.ino},mode=${mode.toString(8)},uid=${owner.uid},gid=${owner.gid},nlink=${st.nlink},rdev=0`;
        loaded.set(`${st.dev}:${st.ino}`, `${mode}:${owner.uid}:${owner.gid}`);
        lines.push(line);
      }
      const child = spawn(faked, ['--foreground', '--debug', '--save-file', path.join(dir, 'saved'), '--load'], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: TOOL_PATH } });
      const xattrCalls = new XattrCallWatch();
      child.stderr.on('data', (c: Buffer) => xattrCalls.feed(c));
      let key: string;
      try {
        key = await readKey(child, lines.join('\n') + (lines.length > 0 ? '\n' : ''));
      } catch (err) {
        // Where faked cannot run (no SysV message queues), nothing can be recorded: the caller decides what that means.
        await rm(dir, { recursive: true, force: true });
        return { ok: false, why: err instanceof Error ? err.message : String(err) };
      }
      const env = { FAKEROOTKEY: key, FAKED_MODE: 'unknown-is-root', FAKEROOTDONTTRYCHOWN: '1' };
      const mounts: BindMount[] = [
        { source: library, target: LIBRARY_TARGET },
        { source: preloadCopy, target: PRELOAD_TARGET },
      ];
      return { ok: true, recorder: new FakerootRecorder(child, xattrCalls, dir, path.dirname(library), key, loaded, mounts, env) };
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * The attributes the step set so far, by name (faked's --debug lines).
   * faked logs a call before answering it, so once the step has ended what
   * is left of its log is in the pipe; a turn of the event loop reads it (a
   * name still unread is caught by the caller's check after `stop`).
   */
  async xattrNamesSet(): Promise<string[]> {
    await new Promise((resolve) => setImmediate(resolve));
    return [...this.xattrCalls.names].sort();
  }

  /**
   * The values of attributes named `names` that the step set in `rootfs`,
   * by path, read back while faked still holds them (faked-xattrs.ts);
   * undefined where this machine cannot (no getfattr, or it failed).
   */
  xattrValues(rootfs: string, names: readonly string[]): Promise<FakedXattrs | undefined> {
    return readFakedXattrs({ rootfs, library: this.library, key: this.key, names });
  }

  /** Stop faked and return what the step recorded. */
  async stop(): Promise<Recorded> {
    try {
      await this.end();
      const text = await readFile(path.join(this.dir, 'saved'), 'utf8').catch((err: unknown) => {
        throw new HoistError('RUN_OWNER_RECORDER', 'fakeroot\'s faked ended without saving the owners the step set', {
          hint: 'run the build again; if it keeps failing, report it with the output of `faked-sysv --version`',
          cause: err,
        });
      });
      return { owners: parseSaved(text, this.loaded), xattrCalls: [...this.xattrCalls.names].sort() };
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  /** Stop faked and drop what it recorded (the step failed). */
  async discard(): Promise<void> {
    try {
      await this.end();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  private end(): Promise<void> {
    const child = this.faked;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('close', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

/** Feed faked its table, and read the `key:pid` it prints once it is listening. */
function readKey(child: ChildProcessByStdio<Writable, Readable, Readable>, table: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = '';
    const keepError = (c: Buffer): void => {
      err = (err + c.subarray(-1000).toString()).slice(-1000);
    };
    child.stderr.on('data', keepError);
    const lines = createInterface({ input: child.stdout });
    const fail = (why: string): void => {
      lines.close();
      child.kill('SIGTERM');
      reject(new Error(`fakeroot's faked cannot run here (${why})`));
    };
    child.once('error', (e) => fail(e.message));
    child.once('close', (code) => fail(`it exited with ${code ?? 'a signal'}${err.trim() === '' ? '' : `: ${err.trim()}`}`));
    lines.once('line', (line) => {
      const m = /^(\d+):\d+$/.exec(line.trim());
      child.removeAllListeners('close');
      child.stderr.off('data', keepError);
      lines.close();
      if (m === null) fail(`it printed ${JSON.stringify(line)}`);
      else resolve(m[1] as string);
    });
    child.stdin.on('error', () => undefined); // an early exit is reported by 'close'
    child.stdin.end(table);
  });
}

/** faked's save file: `dev=HEX,ino=N,mode=OCTAL,uid=N,gid=N,nlink=N,rdev=N` per line. */
export function parseSaved(text: string, loaded: ReadonlyMap<string, string>): Map<string, RecordedOwner> {
  const out = new Map<string, RecordedOwner>();
  for (const line of text.split('\n')) {
    const fields = Object.fromEntries(line.split(',').map((kv) => kv.split('=') as [string, string]));
    const { dev, ino, mode, uid, gid } = fields;
    if (dev === undefined || ino === undefined || mode === undefined || uid === undefined || gid === undefined) continue;
    const key = `${BigInt(`0x${dev}`)}:${ino}`;
    const m = parseInt(mode, 8);
    if (loaded.get(key) === `${m}:${uid}:${gid}`) continue;
    out.set(key, { uid: Number(uid), gid: Number(gid), mode: m & 0o7777 });
  }
  return out;
}
