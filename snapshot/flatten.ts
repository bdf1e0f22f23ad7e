/**
 * The filesystem an image's layers add up to, as one tar stream: what
 * `hoist export` writes.
 *
 * The layers are applied the way containerd's applier (pkg/archive
 * applyNaive, which BuildKit uses) applies them inside its root, by FsView:
 * a member's parent is resolved through the symlinks already applied (an
 * absolute target starting again from the root, `..` never climbing above
 * it), so `lnk -> /tmp/x` then `lnk/file` gives `tmp/x/file`; names are
 * cleaned the same way (`../x` is `x`, `/a` is `a`); hard-link targets and
 * whiteouts go through the same resolution. The output is that filesystem:
 * every name is canonical, so no member lies below a symlink and no
 * extractor, however naive, writes outside the directory it unpacks into.
 * Missing parents a layer only implies are written as directories (0755,
 * 0:0, mtime 0), as the applier makes them.
 *
 * Two passes over the layers. The first reads headers only (contents are
 * skipped, not read) and builds the view. Then the output: first every
 * directory, symlink, device and fifo, depth first in byte order; then the
 * regular files, in the order their contents come in the layers, each
 * content once under its first name, its other names as hard links to it.
 * A layer none of whose contents survive is not read again.
 *
 * Members keep what their layer says (owner ids and names, mode, mtime in
 * whole seconds, xattrs, other PAX records). Memory holds the view (one
 * small record per path, no content), never a file.
 */
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HoistError } from '../src/errors.js';
import { isTarError, readTar, tarChunks, type TarEntryHeader, type TarHeader, type TarMemberInput } from '../src/tar/index.js';
import { FsView, type ViewFile, type ViewNode } from './fs-view.js';
import { whiteoutMarker, type LayerEntry } from './layer-entry.js';
import { cleanPath } from './root-path.js';

export type OpenLayerTar = () => Promise<Readable>;

/** What the output keeps of a member beyond what the view holds: the node's `origin`. */
interface Origin {
  uname: string;
  gname: string;
  pax: Record<string, string>;
}

/** Where a file's content is: the `index`-th member of layer `layer`, whose node has `origin`. */
interface ContentAt {
  layer: number;
  index: number;
  origin: Origin;
}

type OpenContent = () => Readable;

/** The names of one content in the final filesystem (several for hard links), in output order. */
type Names = { path: string; node: ViewFile }[];

/** Write the flattened filesystem of `layers` (bottom first, uncompressed tars) to `out`. */
export async function flattenLayers(layers: readonly OpenLayerTar[], out: Writable): Promise<void> {
  const reading = { layer: 0 };
  const tar = layerErrors(tarChunks(flattenedMembers(layers, reading)), (err) => {
    if (err instanceof HoistError) return err;
    if (isTarError(err) && err.kind === 'field-range') {
      return new HoistError('BAD_LAYER', `a member of layer ${reading.layer + 1} cannot be exported: ${err.message}`, { cause: err });
    }
    // Anything else comes from reading the layer: its tar, its decompression.
    const why = err instanceof Error ? err.message : String(err);
    return new HoistError('BAD_LAYER', `layer ${reading.layer + 1} of ${layers.length} is not a readable tar: ${why}`, { cause: err });
  });
  await pipeline(Readable.from(tar, { objectMode: false, highWaterMark: 64 * 1024 }), out);
}

/** `chunks`, with failures passed through `wrap` (once per output chunk, not per input chunk). */
async function* layerErrors(chunks: AsyncIterable<Buffer>, wrap: (err: unknown) => unknown): AsyncGenerator<Buffer, void, undefined> {
  try {
    yield* chunks;
  } catch (err) {
    throw wrap(err);
  }
}

async function* flattenedMembers(layers: readonly OpenLayerTar[], reading: { layer: number }): AsyncGenerator<TarMemberInput, void, undefined> {
  const { view, contents } = await applyLayers(layers, reading);
  const byContent = new Map<OpenContent, Names>();
  for (const { path, node } of view.walk('')) {
    if (path === '') continue;
    if (node.kind !== 'file') {
      yield { header: outHeader(path, node) };
      continue;
    }
    const names = byContent.get(node.open);
    if (names === undefined) byContent.set(node.open, [{ path, node }]);
    else names.push({ path, node });
  }
  // Content origin -> its names, per layer, for the second read.
  const wanted = new Map<number, Map<number, Names>>();
  for (const [open, names] of byContent) {
    const at = contents.get(open) as ContentAt;
    let inLayer = wanted.get(at.layer);
    if (inLayer === undefined) wanted.set(at.layer, (inLayer = new Map()));
    // The member that carried the content keeps it when its name survives; the other names link to it.
    const own = names.findIndex((n) => n.node.origin === at.origin);
    if (own > 0) names.unshift(...names.splice(own, 1));
    inLayer.set(at.index, names);
  }
  for (let i = 0; i < layers.length; i++) {
    const inLayer = wanted.get(i);
    if (inLayer === undefined) continue;
    reading.layer = i;
    let index = 0;
    for await (const entry of readTar(await (layers[i] as OpenLayerTar)())) {
      const names = inLayer.get(index++);
      if (names === undefined) continue;
      const [first, ...others] = names as [Names[number], ...Names];
      const header = outHeader(first.path, first.node);
      // The names the view gives are the member's, the owner names and PAX records its header's.
      Object.assign(header, origin(entry.header));
      const body = entry.body;
      yield header.size > 0 ? { header, open: () => body } : { header };
      for (const other of others) yield { header: { ...outHeader(other.path, other.node), type: 'link', size: 0, linkname: first.path } };
      inLayer.delete(index - 1);
      if (inLayer.size === 0) break;
    }
  }
}

/** Pass one: the view the layers add up to, and where each file content lies. */
async function applyLayers(layers: readonly OpenLayerTar[], reading: { layer: number }): Promise<{ view: FsView; contents: Map<OpenContent, ContentAt> }> {
  let view = FsView.empty();
  const contents = new Map<OpenContent, ContentAt>();
  for (let i = 0; i < layers.length; i++) {
    reading.layer = i;
    const entries: LayerEntry[] = [];
    let index = 0;
    for await (const { header } of readTar(await (layers[i] as OpenLayerTar)())) {
      const at = { layer: i, index: index++ };
      const open: OpenContent = () => {
        throw new Error('flatten: contents are read in the second pass');
      };
      const entry = layerEntry(header, open);
      if (entry === undefined) continue;
      if (entry.kind === 'file') contents.set(open, { ...at, origin: entry.origin as Origin });
      entries.push(entry);
    }
    try {
      view = view.withLayer(entries);
    } catch (err) {
      if (!(err instanceof HoistError)) throw err;
      throw new HoistError(err.code, `layer ${i + 1} of ${layers.length}: ${err.message}`, {
        hint: err.hint ?? 'the image is inconsistent; rebuild it',
        cause: err,
      });
    }
  }
  return { view, contents };
}

function origin(h: TarEntryHeader): Origin {
  return { uname: h.uname, gname: h.gname, pax: h.pax };
}

/**
 * A member as a layer entry. Names are cleaned as containerd's applier
 * cleans them: `..` stays at the root, a leading `/` is dropped. The root
 * itself (and a whiteout of it) is skipped, as containerd skips it.
 */
function layerEntry(h: TarEntryHeader, open: OpenContent): LayerEntry | undefined {
  const path = cleanPath(h.name).path;
  if (path === '') return undefined;
  const marker = whiteoutMarker(path);
  if (marker !== undefined) {
    const target = cleanPath(marker.path).path;
    if (marker.kind === 'whiteout' && target === '') return undefined;
    return { kind: marker.kind, path: target };
  }
  if (h.type === 'other') {
    throw new HoistError('UNSUPPORTED_LAYER_MEMBER', `${h.name}: a layer member of tar type ${JSON.stringify(h.typeflag)} cannot be exported`, {
      hint: 'the layer holds a member that is not a file, directory, link, device or fifo (e.g. a GNU sparse file); rebuild it without',
    });
  }
  const meta = { path, mode: h.mode, uid: h.uid, gid: h.gid, mtime: Math.floor(h.mtime), origin: origin(h), ...(h.xattrs === undefined ? {} : { xattrs: h.xattrs }) };
  switch (h.type) {
    case 'dir':
    case 'fifo':
      return { kind: h.type, ...meta };
    case 'file':
      return { kind: 'file', ...meta, size: h.size, open };
    case 'symlink':
      return { kind: 'symlink', ...meta, linkname: h.linkname };
    case 'link':
      return { kind: 'hardlink', ...meta, target: cleanPath(h.linkname).path };
    case 'char-device':
    case 'block-device':
      return { kind: h.type, ...meta, devmajor: h.devmajor, devminor: h.devminor };
  }
}

/** The output header of the node at `path`. */
function outHeader(path: string, node: ViewNode): TarHeader {
  const header: TarHeader = {
    name: node.kind === 'dir' ? `${path}/` : path,
    type: node.kind,
    mode: node.mode,
    uid: node.uid,
    gid: node.gid,
    size: node.kind === 'file' ? node.size : 0,
    mtime: node.mtime,
  };
  const from = node.origin as Origin | undefined;
  if (from !== undefined) Object.assign(header, from);
  if (node.kind === 'symlink') header.linkname = node.linkname;
  if (node.kind === 'char-device' || node.kind === 'block-device') {
    header.devmajor = node.devmajor;
    header.devminor = node.devminor;
  }
  if (node.xattrs !== undefined) header.xattrs = node.xattrs;
  return header;
}
