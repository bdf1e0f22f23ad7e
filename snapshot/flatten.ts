/**
 * The filesystem an image's layers add up to, as one tar stream: what
 * `hoist export` writes. Layers are read top (last) to bottom, as
 * go-containerregistry's mutate.Extract does, so nothing is unpacked: an
 * entry is written unless a higher layer already wrote that path, deleted it
 * (`.wh.name`) or made a parent opaque (`.wh..wh..opq`). Whiteout markers
 * themselves are never written. A hard link whose target has not been
 * written yet (it lives in a lower layer) is held back and written at the end,
 * so that extractors find the target first.
 */
import { posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { HoistError } from '../src/errors.js';
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
  const pack = tar.pack();
  const done = pipeline(pack, out);
  const written = new Set<string>();
  const hidden: Hidden = { deleted: new Set(), opaque: new Set() };
  const heldLinks: tar.Header[] = [];
  try {
    for (let i = layers.length - 1; i >= 0; i--) {
      const layerHidden: Hidden = { deleted: new Set(), opaque: new Set() };
      const extract = tar.extract();
      const source = await (layers[i] as OpenLayerTar)();
      const badLayer = (err: unknown): HoistError =>
        err instanceof HoistError
          ? err
          : new HoistError('BAD_LAYER', `layer ${i + 1} of ${layers.length} is not a readable tar: ${(err as Error).message}`, { cause: err });
      const reading = pipeline(source, extract).catch((err: unknown) => {
        throw badLayer(err);
      });
      reading.catch(() => undefined);
      try {
        for await (const entry of extract) {
          const header = entry.header;
          const name = clean(header.name);
          const marker = whiteoutMarker(name);
          if (marker !== undefined) {
            (marker.kind === 'opaque' ? layerHidden.opaque : layerHidden.deleted).add(marker.path);
            entry.resume();
            continue;
          }
          if (name === '' || written.has(name) || isHidden(name, hidden)) {
            entry.resume();
            continue;
          }
          written.add(name);
          const outHeader: tar.Header = { ...header, name: header.type === 'directory' ? `${name}/` : name };
          if (header.type === 'link') {
            const target = clean(header.linkname ?? '');
            if (!written.has(target)) {
              heldLinks.push({ ...outHeader, linkname: target });
              entry.resume();
              continue;
            }
            outHeader.linkname = target;
          }
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry(outHeader, (err) => (err ? reject(err) : resolve()));
            entry.pipe(sink);
          });
        }
      } catch (err) {
        throw badLayer(err);
      }
      await reading;
      for (const d of layerHidden.deleted) hidden.deleted.add(d);
      for (const o of layerHidden.opaque) hidden.opaque.add(o);
    }
    for (const link of heldLinks) {
      await new Promise<void>((resolve, reject) => {
        pack.entry(link, (err) => (err ? reject(err) : resolve()));
      });
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
}
