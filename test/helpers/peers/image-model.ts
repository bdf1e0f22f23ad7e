/**
 * A builder-neutral view of an image for differential tests: the merged
 * filesystem (whiteouts applied, hardlinks resolved to the inode they name)
 * and the parts of the config a Dockerfile controls.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { TarMember } from '../oci-reader.js';

export interface FsEntry {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | string;
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  sha256?: string;
  linkname?: string;
  /** For files with several names: every name of the inode, sorted. */
  links?: string[];
  xattrs?: Record<string, string>;
}

const TYPES: Record<string, FsEntry['type']> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

function clean(name: string): string {
  return path.posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

function xattrsOf(m: TarMember): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.pax)) if (k.startsWith('SCHILY.xattr.')) out[k.slice('SCHILY.xattr.'.length)] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

interface Inode {
  entry: FsEntry;
  names: Set<string>;
}

/**
 * Apply layers in order. A hardlink member shares the inode of its target as
 * it stands when the member is applied; the result lists each inode's names.
 */
export function mergeLayers(layers: TarMember[][]): Map<string, FsEntry> {
  const fs = new Map<string, Inode>();
  const remove = (p: string): void => {
    const inode = fs.get(p);
    if (inode) inode.names.delete(p);
    fs.delete(p);
  };
  for (const layer of layers) {
    for (const m of layer) {
      const name = clean(m.name);
      const base = path.posix.basename(name);
      const dir = path.posix.dirname(name);
      if (base === '.wh..wh..opq') {
        const prefix = dir === '.' ? '' : `${dir}/`;
        for (const k of [...fs.keys()]) if (k.startsWith(prefix) && k !== dir) remove(k);
        continue;
      }
      if (base.startsWith('.wh.')) {
        const gone = path.posix.join(dir, base.slice(4));
        for (const k of [...fs.keys()]) if (k === gone || k.startsWith(`${gone}/`)) remove(k);
        continue;
      }
      if (name === '' || name === '.') continue;
      const existing = fs.get(name);
      if (m.type === 'link') {
        const target = fs.get(clean(m.linkname ?? ''));
        if (!target) throw new Error(`hardlink ${name} -> ${m.linkname}: target not in the image`);
        if (existing && existing !== target) remove(name);
        target.names.add(name);
        fs.set(name, target);
        continue;
      }
      // A directory over a directory keeps its children; anything else replaces what was there.
      if (existing && !(m.type === 'directory' && existing.entry.type === 'dir')) {
        for (const k of [...fs.keys()]) if (k.startsWith(`${name}/`)) remove(k);
      }
      if (existing) remove(name);
      const entry: FsEntry = {
        type: TYPES[m.type] ?? m.type,
        mode: m.mode & 0o7777,
        uid: m.uid,
        gid: m.gid,
        mtime: m.mtime,
      };
      if (entry.type === 'file') {
        entry.size = m.content.length;
        entry.sha256 = createHash('sha256').update(m.content).digest('hex');
      }
      if (entry.type === 'symlink') entry.linkname = m.linkname ?? '';
      const x = xattrsOf(m);
      if (x) entry.xattrs = x;
      fs.set(name, { entry, names: new Set([name]) });
    }
  }
  const out = new Map<string, FsEntry>();
  for (const [name, inode] of [...fs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const e: FsEntry = { ...inode.entry };
    if (inode.names.size > 1) e.links = [...inode.names].sort();
    out.set(name, e);
  }
  return out;
}

/** The config fields a Dockerfile sets, with null/empty normalised away. */
export interface ConfigView {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: string[];
  Volumes?: string[];
  StopSignal?: string;
  Healthcheck?: unknown;
  OnBuild?: string[];
  Shell?: string[];
  author?: string;
  architecture?: string;
  os?: string;
  /** Not config, but compared with it: the number of layers (one per filesystem-changing step). */
  layers?: number;
}

function nonEmpty<T>(v: T | null | undefined): T | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  if (Array.isArray(v) && v.length === 0) return undefined;
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) return undefined;
  return v;
}

export function configView(config: any): ConfigView {
  const c = config?.config ?? {};
  const keys = (o: unknown): string[] | undefined => nonEmpty(o && typeof o === 'object' ? Object.keys(o as object).sort() : undefined);
  const view: ConfigView = {
    Env: nonEmpty(c.Env),
    Cmd: nonEmpty(c.Cmd),
    Entrypoint: nonEmpty(c.Entrypoint),
    WorkingDir: nonEmpty(c.WorkingDir),
    User: nonEmpty(c.User),
    Labels: nonEmpty(c.Labels),
    ExposedPorts: keys(c.ExposedPorts),
    Volumes: keys(c.Volumes),
    StopSignal: nonEmpty(c.StopSignal),
    Healthcheck: nonEmpty(c.Healthcheck),
    OnBuild: nonEmpty(c.OnBuild),
    Shell: nonEmpty(c.Shell),
    author: nonEmpty(config?.author),
    architecture: nonEmpty(config?.architecture),
    os: nonEmpty(config?.os),
  };
  for (const k of Object.keys(view) as Array<keyof ConfigView>) if (view[k] === undefined) delete view[k];
  return view;
}

export interface ImageView {
  fs: Map<string, FsEntry>;
  config: ConfigView;
}

export function imageView(layers: TarMember[][], config: any): ImageView {
  return { fs: mergeLayers(layers), config: { ...configView(config), layers: layers.length } };
}

/** One observed difference, in a form the known-differences rules can match. */
export interface Difference {
  /** `fs` or `config`. */
  area: 'fs' | 'config';
  /** The path (fs) or config key. */
  key: string;
  /** Which property differs: `missing-in-hoist`, `extra-in-hoist`, `mode`, `uid`, `mtime`, `value` ... */
  what: string;
  hoist: unknown;
  peer: unknown;
  /** For fs differences: the entry's type (the peer's, else hoist's). */
  type?: string;
}

export function formatDifference(d: Difference): string {
  const show = (v: unknown): string => (typeof v === 'number' && (d.what === 'mode') ? `0${v.toString(8)}` : JSON.stringify(v));
  return `${d.area} ${d.key}: ${d.what}: hoist=${show(d.hoist)} peer=${show(d.peer)}`;
}

const FS_PROPS: Array<keyof FsEntry> = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'linkname', 'links', 'xattrs', 'mtime'];

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Every difference between hoist's image and the peer's. */
export function diffImages(hoist: ImageView, peer: ImageView): Difference[] {
  const out: Difference[] = [];
  for (const [p, e] of peer.fs) {
    const h = hoist.fs.get(p);
    if (!h) {
      out.push({ area: 'fs', key: p, what: 'missing-in-hoist', hoist: undefined, peer: e.type, type: e.type });
      continue;
    }
    for (const prop of FS_PROPS) {
      if (!same(h[prop], e[prop])) out.push({ area: 'fs', key: p, what: prop, hoist: h[prop], peer: e[prop], type: e.type });
    }
  }
  for (const [p, h] of hoist.fs) {
    if (!peer.fs.has(p)) out.push({ area: 'fs', key: p, what: 'extra-in-hoist', hoist: h.type, peer: undefined, type: h.type });
  }
  const keys = new Set([...Object.keys(hoist.config), ...Object.keys(peer.config)]) as Set<keyof ConfigView>;
  for (const k of keys) {
    if (!same(hoist.config[k], peer.config[k])) out.push({ area: 'config', key: k, what: 'value', hoist: hoist.config[k], peer: peer.config[k] });
  }
  return out;
}
