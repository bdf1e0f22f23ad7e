/**
 * An OCI image layout packed in a tar file, as `skopeo copy oci-archive:`
 * reads and writes it. Reading indexes the tar once and streams blobs
 * straight out of it; writing streams every blob into `FILE.tmp-XXXX` and
 * renames it over FILE only when complete, so a failure never leaves a
 * partial archive. Writing replaces the file (one image per archive write).
 */
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { writeTarToStream } from './archive-stream.js';
import { HoistError } from '../errors.js';
import { serializeIndex } from './canonical-json.js';
import type { Digest } from './digest.js';
import { imagePlatform, manifestDescriptor, verifiedBlob, type Image, type ImageSink, type ImageSource } from './image.js';
import { indexContents, indexDescriptor, type ImageIndex, type IndexContents, type IndexSink, type StoredImage, type StoredImageSource } from './image-index.js';
import { INDEX_FILE, indexEntries, layoutBlobPath, mergeIndex, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE } from './layout-index.js';
import { resolveLayoutImage, resolveLayoutStored, type LayoutFiles } from './layout-read.js';
import type { Reference } from './reference.js';
import { TarWriter } from '../tar/index.js';
import { writeStreamAtomic } from './atomic-file.js';
import { fillTar } from './archive-stream.js';
import { TarIndex } from './tar-index.js';
import type { Platform } from './types.js';

/** Open a tar file for random access, with hoist errors for the usual mistakes. */
export async function loadArchive(file: string, what: string): Promise<TarIndex> {
  const st = await stat(file).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new HoistError('ARCHIVE_NOT_FOUND', `${what} ${file} does not exist`, { cause: err });
    throw new HoistError('BAD_ARCHIVE', `${what} ${file} cannot be read (${code ?? String(err)})`, { cause: err, hint: 'check the path and its permissions' });
  });
  if (!st.isFile()) throw new HoistError('BAD_ARCHIVE', `${what} ${file} is not a regular file`);
  return TarIndex.load(file);
}

/**
 * Write a tar file whole or not at all: `fill` adds the members while the
 * bytes stream to a temp file that is renamed into place at the end. On any
 * failure the temp file is gone before the error is reported; the output's
 * error is the root cause (a fill failure is passed on to it).
 */
export async function writeTarAtomic<T>(file: string, fill: (tar: TarWriter) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const writer = new TarWriter();
  // An abort fails the output, which fails the fill's next write: both end, the temp file removed.
  const written = writeStreamAtomic(file, writer.output, undefined, { signal });
  const filled = fillTar(writer, fill);
  const [fillResult, output] = await Promise.allSettled([filled, written]);
  if (output.status === 'rejected') throw output.reason;
  if (fillResult.status === 'rejected') throw fillResult.reason;
  return fillResult.value;
}

export class OciArchive implements ImageSource, ImageSink, StoredImageSource, IndexSink {
  constructor(
    readonly file: string,
    /** `signal` stops a write; its temp file is removed before it rejects. */
    private readonly options: { signal?: AbortSignal | undefined } = {},
  ) {}

  private async files(): Promise<LayoutFiles> {
    const where = `OCI archive ${this.file}`;
    const tar = await loadArchive(this.file, 'OCI archive');
    if (tar.get(INDEX_FILE) === undefined) {
      throw new HoistError('NOT_A_LAYOUT', `${this.file} is not an OCI archive (no ${INDEX_FILE})`, {
        hint: 'for a `docker save` tarball use docker-archive:',
      });
    }
    return {
      readIndex: () => tar.readFile(INDEX_FILE),
      fetch: async (desc) => verifiedBlob(tar.open(layoutBlobPath(desc.digest)), desc, where),
      where,
    };
  }

  async image(ref?: Reference | string, platform?: Platform): Promise<Image> {
    return resolveLayoutImage(await this.files(), ref, platform);
  }

  /** The entry as stored: an index stays an index. */
  async stored(ref?: Reference | string): Promise<StoredImage> {
    return resolveLayoutStored(await this.files(), ref);
  }

  async write(img: Image, refs: readonly Reference[]): Promise<Digest> {
    return writeTarAtomic(this.file, (tar) => fillLayout(tar, img, refs), this.options.signal);
  }

  /** An index, every manifest it lists and their blobs, as one archive (replacing FILE). */
  async writeIndex(idx: ImageIndex, refs: readonly Reference[]): Promise<Digest> {
    const { blobs, manifests } = await indexContents(idx, `OCI archive ${this.file}`);
    return writeTarAtomic(this.file, (tar) => fillIndexLayout(tar, idx, blobs, manifests, refs), this.options.signal);
  }
}

/** An OCI archive written to a stream (standard output), not a file: a sink only. */
export class OciArchiveStream implements ImageSink, IndexSink {
  constructor(private readonly out: Writable) {}

  async write(img: Image, refs: readonly Reference[]): Promise<Digest> {
    return writeTarToStream(this.out, (tar) => fillLayout(tar, img, refs));
  }

  async writeIndex(idx: ImageIndex, refs: readonly Reference[]): Promise<Digest> {
    const { blobs, manifests } = await indexContents(idx, 'OCI archive on standard output');
    return writeTarToStream(this.out, (tar) => fillIndexLayout(tar, idx, blobs, manifests, refs));
  }
}

async function fillIndexLayout(
  tar: TarWriter,
  idx: ImageIndex,
  blobs: IndexContents['blobs'],
  manifests: IndexContents['manifests'],
  refs: readonly Reference[],
): Promise<Digest> {
  await startLayout(tar);
  for (const b of blobs) await tar.stream(layoutBlobPath(b.digest), b.size, await idx.blob(b));
  for (const m of manifests) await tar.file(layoutBlobPath(m.desc.digest), m.raw);
  const desc = await indexDescriptor(idx);
  await tar.file(layoutBlobPath(desc.digest), await idx.rawManifest());
  await tar.file(INDEX_FILE, serializeIndex(mergeIndex(undefined, indexEntries(desc, undefined, refs))));
  return desc.digest;
}

async function startLayout(tar: TarWriter): Promise<void> {
  await tar.file(OCI_LAYOUT_FILE, OCI_LAYOUT_CONTENT);
  await tar.directory('blobs');
  await tar.directory('blobs/sha256');
}

/** Write an OCI layout's members (oci-layout, blobs, index.json) into a tar. */
async function fillLayout(tar: TarWriter, img: Image, refs: readonly Reference[]): Promise<Digest> {
  const manifest = await img.manifest();
  const desc = await manifestDescriptor(img);
  await startLayout(tar);
  const seen = new Set<Digest>();
  for (const layer of await img.layers()) {
    const digest = await layer.digest();
    if (seen.has(digest)) continue;
    seen.add(digest);
    await tar.stream(layoutBlobPath(digest), await layer.size(), await layer.compressed());
  }
  if (!seen.has(manifest.config.digest)) await tar.file(layoutBlobPath(manifest.config.digest), await img.rawConfigFile());
  await tar.file(layoutBlobPath(desc.digest), await img.rawManifest());
  const index = mergeIndex(undefined, indexEntries(desc, await imagePlatform(img), refs));
  await tar.file(INDEX_FILE, serializeIndex(index));
  return desc.digest;
}
