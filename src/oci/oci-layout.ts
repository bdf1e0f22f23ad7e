/**
 * An OCI image layout directory (`oci-layout`, `index.json`,
 * `blobs/sha256/<hex>`), as both source and sink. Its blobs directory is a
 * BlobStore, so blobs are written atomically and verified on read. Writing
 * adds to an existing layout: entries with the same ref name are replaced,
 * others kept (see layout-index.ts for the naming choice).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HoistError } from '../errors.js';
import { writeFileAtomic } from './atomic-file.js';
import { errnoOf, fsError } from '../fs-errors.js';
import { BlobStore } from './blob-store.js';
import { withFileLock } from './file-lock.js';
import { serializeIndex } from './canonical-json.js';
import type { Digest } from './digest.js';
import { imagePlatform, manifestDescriptor, type Image, type ImageSink, type ImageSource } from './image.js';
import { indexContents, indexDescriptor, type ImageIndex, type IndexSink, type StoredImage, type StoredImageSource } from './image-index.js';
import { INDEX_FILE, indexEntries, mergeIndex, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE } from './layout-index.js';
import { resolveLayoutImage, resolveLayoutStored, type LayoutFiles } from './layout-read.js';
import { largestFirst, mapLimit } from './parallel.js';
import { parseIndex } from './parse.js';
import type { Reference } from './reference.js';
import type { Descriptor, Index, Platform } from './types.js';

export interface OciLayoutOptions {
  /** Layers copied at once when writing. Default 3. */
  concurrency?: number;
  /** Stops a write; its temp blobs are removed before it rejects. */
  signal?: AbortSignal | undefined;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export class OciLayout implements ImageSource, ImageSink, StoredImageSource, IndexSink {
  private readonly store: BlobStore;
  private readonly concurrency: number;
  private readonly signal: AbortSignal | undefined;

  constructor(
    readonly dir: string,
    options: OciLayoutOptions = {},
  ) {
    this.store = new BlobStore(dir, {
      missingHint: `the layout at ${dir} lists this blob but its file under blobs/ is gone (copied in part, or removed): write the image into the layout again`,
    });
    this.concurrency = options.concurrency ?? 3;
    this.signal = options.signal;
  }

  private get where(): string {
    return `OCI layout ${this.dir}`;
  }

  /** The parsed index.json; HoistError NOT_A_LAYOUT when there is none. */
  async index(): Promise<Index> {
    return parseIndex(await this.readIndexBytes());
  }

  private async readIndexBytes(): Promise<Buffer> {
    const file = join(this.dir, INDEX_FILE);
    try {
      return await readFile(file);
    } catch (err) {
      if (errnoOf(err) === 'ENOTDIR') {
        throw new HoistError('NOT_A_LAYOUT', `${this.dir} is not an OCI image layout (it is not a directory)`, {
          cause: err,
          hint: 'an OCI layout directory holds oci-layout, index.json and blobs/; for a tar file use oci-archive:',
        });
      }
      if (!isNotFound(err)) throw fsError(err, file, `read the index of ${this.where}:`);
      throw new HoistError('NOT_A_LAYOUT', `${this.dir} is not an OCI image layout (no ${INDEX_FILE})`, {
        cause: err,
        hint: 'an OCI layout directory holds oci-layout, index.json and blobs/',
      });
    }
  }

  private get files(): LayoutFiles {
    return {
      readIndex: () => this.readIndexBytes(),
      fetch: (desc) => this.store.open(desc.digest, desc.size),
      where: this.where,
    };
  }

  async image(ref?: Reference | string, platform?: Platform): Promise<Image> {
    return resolveLayoutImage(this.files, ref, platform);
  }

  /** The entry as stored: an index stays an index. */
  async stored(ref?: Reference | string): Promise<StoredImage> {
    return resolveLayoutStored(this.files, ref);
  }

  async write(img: Image, refs: readonly Reference[]): Promise<Digest> {
    await this.prepare();
    const manifest = await img.manifest();
    const layers = await img.layers();
    const bySize = largestFirst(
      layers.map((layer, i) => ({ layer, size: manifest.layers[i]?.size ?? 0 })),
      (x) => x.size,
    );
    await mapLimit(bySize, this.concurrency, async ({ layer }) => {
      const digest = await layer.digest();
      const size = await layer.size();
      if (await this.holds(digest, size)) return;
      await this.store.put(await layer.compressed(), { digest, size }, { signal: this.signal });
    });
    await this.putSmall(await img.rawConfigFile(), manifest.config.digest, manifest.config.size);
    const desc = await manifestDescriptor(img);
    await this.putSmall(await img.rawManifest(), desc.digest, desc.size);
    await this.addToIndex(indexEntries(desc, await imagePlatform(img), refs));
    return desc.digest;
  }

  /** A config or manifest, unless the layout holds it already (a rebuild that changed nothing writes and syncs no blob). */
  private async putSmall(data: Buffer, digest: Digest, size: number): Promise<void> {
    if (await this.holds(digest, size)) return;
    await this.store.putBytes(data, { digest, size });
  }

  /** An index, every manifest it lists and their blobs; index.json gets one entry for it per ref. */
  async writeIndex(idx: ImageIndex, refs: readonly Reference[]): Promise<Digest> {
    await this.prepare();
    const { blobs, manifests } = await indexContents(idx, this.where);
    await mapLimit(largestFirst(blobs, (b) => b.size), this.concurrency, async (b: Descriptor) => {
      if (await this.holds(b.digest, b.size)) return;
      await this.store.put(await idx.blob(b), { digest: b.digest, size: b.size }, { signal: this.signal });
    });
    for (const m of manifests) await this.putSmall(m.raw, m.desc.digest, m.desc.size);
    const desc = await indexDescriptor(idx);
    await this.putSmall(await idx.rawManifest(), desc.digest, desc.size);
    await this.addToIndex(indexEntries(desc, undefined, refs));
    return desc.digest;
  }

  /** Create the directory, remove temp blobs that killed writers left (as the blob cache does), check oci-layout. */
  private async prepare(): Promise<void> {
    this.signal?.throwIfAborted();
    await this.store.prepare('the OCI layout directory');
    await this.ensureLayoutFile();
  }

  private async holds(digest: Digest, size: number): Promise<boolean> {
    return (await this.store.has(digest)) && (await this.store.size(digest)) === size;
  }

  /** Read, merge and replace index.json under its lock, so that concurrent writers keep each other's entries. */
  private async addToIndex(entries: Descriptor[]): Promise<void> {
    this.signal?.throwIfAborted();
    const file = join(this.dir, INDEX_FILE);
    await withFileLock(`${file}.lock`, `the index of ${this.where}`, async () => {
      const bytes = await this.readIndexBytes().catch((err: unknown) => {
        if (err instanceof HoistError && err.code === 'NOT_A_LAYOUT') return undefined;
        throw err;
      });
      const merged = serializeIndex(mergeIndex(bytes === undefined ? undefined : parseIndex(bytes), entries));
      // The same entries again (a rebuild that changed nothing): the file stays as it is.
      if (bytes === undefined || !merged.equals(bytes)) await writeFileAtomic(file, merged);
    });
  }

  private async ensureLayoutFile(): Promise<void> {
    const file = join(this.dir, OCI_LAYOUT_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await writeFileAtomic(file, OCI_LAYOUT_CONTENT);
      return;
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      version = undefined;
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new HoistError('NOT_A_LAYOUT', `${file} does not declare a supported imageLayoutVersion`, {
        hint: 'write to an empty directory or an OCI layout with imageLayoutVersion 1.x',
      });
    }
  }
}
