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
  const reading = { layer: layers.length - 1 };
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
  const written = new Set<string>();
  const hidden: Hidden = { deleted: new Set(), opaque: new Set() };
  const heldLinks: TarHeader[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    reading.layer = i;
    const layerHidden: Hidden = { deleted: new Set(), opaque: new Set() };
    const source = await (layers[i] as OpenLayerTar)();
    for await (const entry of readTar(source)) {
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
      yield header.size > 0 ? { header, open: () => body } : { header };
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
