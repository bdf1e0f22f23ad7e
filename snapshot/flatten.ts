/**
 * The filesystem an image's layers add up to, as one tar stream: what
 * `hoist export` writes. Layers are read top (last) to bottom, as
 * go-containerregistry's mutate.Extract does, so nothing is unpacked: an
 * entry is written unless a higher layer already wrote that path, deleted it
 * (`.wh.name`) or made a parent opaque (`.wh..wh..opq`). Whiteout markers
 * themselves are never written. A hard link whose target has not been
 * written yet (it lives in a lower layer) is held back and written at the end,
 * so that extractors find the target first.
 *
 * Members keep what their layer says (owner ids and names, mode, mtime in
 * whole seconds, xattrs, other PAX records); only names are normalised.
 * Content streams from the layer to the output: memory holds the set of
 * written paths, never a file.
 */
import { posix } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HoistError } from '../src/errors.js';
import { isTarError, readTar, tarChunks, type TarEntryHeader, type TarHeader, type TarMemberInput } from '../src/tar/index.js';
import { whiteoutMarker } from './layer-entry.js';
import { ancestorsOf } from './layer-path.js';

export type OpenLayerTar = () => Promise<Readable>;

function clean(name: string): string {
  const n = posix.normalize(`/${name}`).slice(1);
  return n.replace(/\/$/, '');
}

interface Hidden {
  deleted: Set<string>;
  opaque: Set<string>;
}

function isHidden(path: string, hidden: Hidden): boolean {
  if (hidden.deleted.has(path)) return true;
  for (const dir of ancestorsOf(path)) if (hidden.deleted.has(dir) || hidden.opaque.has(dir)) return true;
  return false;
}

/** Write the flattened filesystem of `layers` (bottom first, uncompressed tars) to `out`. */
export async function flattenLayers(layers: readonly OpenLayerTar[], out: Writable): Promise<void> {
  try {
    await pipeline(Readable.from(tarChunks(flattenedMembers(layers)), { objectMode: false, highWaterMark: 64 * 1024 }), out);
  } catch (err) {
    // What the reader finds is reported per layer below; this is a header the writer cannot re-encode.
    if (isTarError(err)) throw new HoistError('BAD_LAYER', `a layer member cannot be exported: ${err.message}`, { cause: err });
    throw err;
  }
}

async function* flattenedMembers(layers: readonly OpenLayerTar[]): AsyncGenerator<TarMemberInput, void, undefined> {
  const written = new Set<string>();
  const hidden: Hidden = { deleted: new Set(), opaque: new Set() };
  const heldLinks: TarHeader[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const badLayer = (err: unknown): unknown =>
      err instanceof HoistError
        ? err
        : new HoistError('BAD_LAYER', `layer ${i + 1} of ${layers.length} is not a readable tar: ${(err as Error).message}`, { cause: err });
    const layerHidden: Hidden = { deleted: new Set(), opaque: new Set() };
    const source = await (layers[i] as OpenLayerTar)();
    try {
      for await (const entry of readTar(guarded(source, badLayer))) {
        const name = clean(entry.header.name);
        const marker = whiteoutMarker(name);
        if (marker !== undefined) {
          (marker.kind === 'opaque' ? layerHidden.opaque : layerHidden.deleted).add(marker.path);
          continue;
        }
        if (name === '' || written.has(name) || isHidden(name, hidden)) continue;
        written.add(name);
        const header = outHeader(entry.header, name);
        if (header.type === 'link' && !written.has(header.linkname ?? '')) {
          heldLinks.push(header);
          continue;
        }
        const body = entry.body;
        yield header.size > 0 ? { header, open: () => guarded(body, badLayer) } : { header };
      }
    } catch (err) {
      throw badLayer(err);
    }
    for (const d of layerHidden.deleted) hidden.deleted.add(d);
    for (const o of layerHidden.opaque) hidden.opaque.add(o);
  }
  for (const header of heldLinks) yield { header };
}

/** The member as the layer has it, under its normalised name. */
function outHeader(h: TarEntryHeader, name: string): TarHeader {
  if (h.type === 'other') {
    throw new HoistError('UNSUPPORTED_LAYER_MEMBER', `${h.name}: a layer member of tar type ${JSON.stringify(h.typeflag)} cannot be exported`, {
      hint: 'the layer holds a member that is not a file, directory, link, device or fifo (e.g. a GNU sparse file); rebuild it without',
    });
  }
  const header: TarHeader = {
    name: h.type === 'dir' ? `${name}/` : name,
    type: h.type,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: Math.floor(h.mtime),
    uname: h.uname,
    gname: h.gname,
    pax: h.pax,
  };
  if (h.type === 'link') header.linkname = clean(h.linkname);
  else if (h.type === 'symlink') header.linkname = h.linkname;
  if (h.type === 'char-device' || h.type === 'block-device') {
    header.devmajor = h.devmajor;
    header.devminor = h.devminor;
  }
  if (h.xattrs !== undefined) header.xattrs = h.xattrs;
  return header;
}

/** `source`'s items, with its failures passed through `wrap`. */
async function* guarded<T>(source: AsyncIterable<T>, wrap: (err: unknown) => unknown): AsyncGenerator<T, void, undefined> {
  try {
    yield* source;
  } catch (err) {
    throw wrap(err);
  }
}
