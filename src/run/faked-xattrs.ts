/**
 * Extended attributes a step set through fakeroot (setcap, setfattr), read
 * back from faked while it runs. faked keeps them in memory only (its save
 * file has no room for them), but answers libfakeroot's getxattr: the
 * host's getfattr, with libfakeroot preloaded and the step's FAKEROOTKEY,
 * walks the rootfs and prints what faked holds. Files faked knows nothing
 * of show no attributes that way; symbolic links are skipped (libfakeroot
 * answers for the target, and no layer carries a link's attributes).
 */
import { spawn } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { findSystemTool, TOOL_PATH } from './host-tools.js';

export type FakedXattrs = Map<string, Record<string, Buffer>>;

export interface FakedXattrsQuery {
  /** The rootfs the step ran in, as this machine sees it. */
  rootfs: string;
  /** The directory of libfakeroot-sysv.so on this machine. */
  library: string;
  /** faked's FAKEROOTKEY. */
  key: string;
  /** The attribute names to read (those the step set). */
  names: readonly string[];
}

/** How long getfattr may take (it walks the whole rootfs, one call to faked per file: seconds for 100k files). */
const GETFATTR_TIMEOUT_MS = 300_000;

/**
 * The named attributes faked holds for files of the rootfs, by path relative
 * to it; undefined where getfattr is missing, says anything on stderr (the
 * preload refused, a directory it cannot read), exits non-zero or takes too
 * long: then what it printed may be partial, and nothing of it is used.
 */
export async function readFakedXattrs(q: FakedXattrsQuery): Promise<FakedXattrs | undefined> {
  const getfattr = findSystemTool('getfattr');
  if (getfattr === undefined || q.names.length === 0) return undefined;
  const pattern = `^(${q.names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
  const text = await new Promise<string | undefined>((resolve) => {
    const child = spawn(getfattr, ['--absolute-names', '--no-dereference', '--recursive', '--physical', '--dump', '--match', pattern, '--encoding', 'base64', q.rootfs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: TOOL_PATH, FAKEROOTKEY: q.key, LD_LIBRARY_PATH: q.library, LD_PRELOAD: 'libfakeroot-sysv.so' },
    });
    const chunks: Buffer[] = [];
    let complained = false;
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', () => (complained = true));
    const timer = setTimeout(() => child.kill('SIGKILL'), GETFATTR_TIMEOUT_MS);
    child.once('error', () => resolve(undefined));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 && !complained ? Buffer.concat(chunks).toString('latin1') : undefined);
    });
  });
  if (text === undefined) return undefined;
  const out: FakedXattrs = new Map();
  const root = path.resolve(q.rootfs);
  for (const [abs, values] of parseGetfattrDump(text)) {
    const rel = path.relative(root, abs);
    if (rel === '' || rel === '..' || rel.startsWith('../') || path.isAbsolute(rel)) continue;
    const st = await lstat(abs).catch(() => undefined);
    if (st === undefined || st.isSymbolicLink()) continue;
    out.set(rel, values);
  }
  return out;
}

/**
 * `getfattr --dump --encoding base64` output: `# file: NAME` then `key=0sBASE64`
 * lines, a blank line after each file. Names are latin1 strings of the raw
 * bytes with getfattr's escapes (`\\`, `\ooo`) undone; values are raw bytes.
 */
export function parseGetfattrDump(text: string): Map<string, Record<string, Buffer>> {
  const out = new Map<string, Record<string, Buffer>>();
  let current: Record<string, Buffer> | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      const name = Buffer.from(unescape(line.slice('# file: '.length)), 'latin1').toString('utf8');
      current = {};
      out.set(name, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current === undefined || eq <= 0) continue;
    const raw = line.slice(eq + 1);
    const value = raw.startsWith('0s') ? Buffer.from(raw.slice(2), 'base64') : raw.startsWith('"') && raw.endsWith('"') ? Buffer.from(raw.slice(1, -1), 'latin1') : Buffer.alloc(0);
    current[unescape(line.slice(0, eq))] = value;
  }
  for (const [name, values] of out) if (Object.keys(values).length === 0) out.delete(name);
  return out;
}

/** getfattr's quoting of names: `\\` and three-digit octal escapes, as latin1. */
function unescape(s: string): string {
  return s.replace(/\\(\\|[0-7]{3})/g, (_, e: string) => (e === '\\' ? '\\' : String.fromCharCode(parseInt(e, 8))));
}
