/**
 * A `docker save` tarball as source and sink. See docker-archive-write.ts
 * for the form written and docker-archive-read.ts for the forms read.
 * Writing goes to `FILE.tmp-XXXX`, renamed over FILE only when complete.
 */
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { writeTarToStream } from './archive-stream.js';
import type { Digest } from './digest.js';
import { readDockerArchiveImage, type LayerPresentation } from './docker-archive-read.js';
import { fillDockerArchive } from './docker-archive-write.js';
import type { Image, ImageSink, ImageSource } from './image.js';
import { loadArchive, writeTarAtomic } from './oci-archive.js';
import type { Reference } from './reference.js';
import type { Platform } from './types.js';
import { resolveWriteTarget } from './write-target.js';

export interface DockerArchiveOptions {
  /**
   * Reading: serve plain layer tars gzip-compressed in a Docker schema2
   * manifest ('gzip', the default, as crane does) or keep them as they are in
   * an OCI manifest ('as-is': no compression work, larger pushes).
   */
  layers?: LayerPresentation;
  /** Writing: where compressed layers are decompressed while being copied in. Default: FILE's directory (the temp directory for a device or FIFO). */
  spoolDir?: string;
  /** Writing: stops the write; its temp file is removed before it rejects. */
  signal?: AbortSignal | undefined;
}

export class DockerArchive implements ImageSource, ImageSink {
  constructor(
    readonly file: string,
    private readonly options: DockerArchiveOptions = {},
  ) {}

  async image(ref?: Reference | string, platform?: Platform): Promise<Image> {
    const tar = await loadArchive(this.file, 'docker archive');
    return readDockerArchiveImage(tar, ref, platform, this.options.layers ?? 'gzip');
  }

  /** Returns the image's manifest digest (the archive itself records the config digest, Docker's image ID). */
  async write(img: Image, refs: readonly Reference[]): Promise<Digest> {
    const spoolDir = this.options.spoolDir ?? (await this.defaultSpoolDir());
    return writeTarAtomic(this.file, (tar) => fillDockerArchive(tar, img, refs, spoolDir), this.options.signal);
  }

  private async defaultSpoolDir(): Promise<string> {
    const target = await resolveWriteTarget(this.file);
    return target.kind === 'replace' ? dirname(target.path) : tmpdir();
  }
}

/** A `docker save` tarball written to a stream (standard output), not a file: a sink only. */
export class DockerArchiveStream implements ImageSink {
  constructor(
    private readonly out: Writable,
    /** Where compressed layers are decompressed while being copied in. */
    private readonly spoolDir: string,
  ) {}

  async write(img: Image, refs: readonly Reference[]): Promise<Digest> {
    return writeTarToStream(this.out, (tar) => fillDockerArchive(tar, img, refs, this.spoolDir));
  }
}
