/**
 * Unordered entries -> entries in layer order, for sources that cannot walk
 * in order (a COPY handler's list, a snapshot diff). Hard links whose target
 * is in the same layer are turned into one group (shared `linkKey`) so that
 * whichever name sorts first carries the content, whatever the caller named
 * as target. Everything else is checked by LayerSequencer as the entries are
 * written.
 */
import { HoistError } from '../src/errors.js';
import type { FileEntry, HardlinkEntry, LayerEntry } from './layer-entry.js';
import { layerName } from './layer-sequence.js';
import { normalizeLayerPath } from './layer-path.js';

/** A new array; the caller's entries are not modified. Throws UNSAFE_PATH, RESERVED_NAME, INVALID_HARDLINK. */
export function sortLayerEntries(entries: readonly LayerEntry[]): LayerEntry[] {
  const keyed = entries.map((entry) => ({ entry, ...layerName(entry) }));
  const byPath = new Map<string, LayerEntry>();
  for (const k of keyed) if (k.name === k.path) byPath.set(k.path, k.entry);

  const grouped = new Map<FileEntry, FileEntry>(); // target file -> its copy with a linkKey
  for (const k of keyed) {
    if (k.entry.kind !== 'hardlink') continue;
    const resolved = resolveHardlink(k.entry, k.path, byPath);
    if (typeof resolved === 'string') {
      k.entry = { ...k.entry, target: resolved };
      continue;
    }
    const linkKey = resolved.linkKey ?? `\0${normalizeLayerPath(resolved.path)}`;
    if (!grouped.has(resolved)) grouped.set(resolved, sameInode(resolved, resolved.path, linkKey));
    // One inode, two names: this name gets the file's metadata and content, and the group decides who carries it.
    k.entry = sameInode(resolved, k.entry.path, linkKey);
  }
  for (const k of keyed) {
    if (k.entry.kind === 'file') k.entry = grouped.get(k.entry) ?? k.entry;
  }
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.entry);
}

/** `file` under another name, in a hard-link group. Built field by field: `open` may live on a prototype. */
function sameInode(file: FileEntry, path: string, linkKey: string): FileEntry {
  const out: FileEntry = {
    kind: 'file',
    path,
    mode: file.mode,
    uid: file.uid,
    gid: file.gid,
    mtime: file.mtime,
    size: file.size,
    open: () => file.open(),
    linkKey,
  };
  if (file.xattrs !== undefined) out.xattrs = file.xattrs;
  return out;
}

/**
 * Follows a chain of hard links: the file in this layer it ends at, or the
 * path it names in a lower layer.
 */
function resolveHardlink(link: HardlinkEntry, path: string, byPath: ReadonlyMap<string, LayerEntry>): FileEntry | string {
  const seen = new Set<string>([path]);
  let current: LayerEntry = link;
  while (current.kind === 'hardlink') {
    const target = normalizeLayerPath(current.target);
    if (seen.has(target)) throw new HoistError('INVALID_HARDLINK', `${path}: hard links form a cycle through ${target}`);
    seen.add(target);
    const next = byPath.get(target);
    if (next === undefined) return target;
    current = next;
  }
  if (current.kind !== 'file') {
    throw new HoistError('INVALID_HARDLINK', `${path}: hard link target ${normalizeLayerPath(current.path)} is a ${current.kind}, not a file`);
  }
  return current;
}
