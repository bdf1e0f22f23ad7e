/**
 * Writing the `docker save` format, classic form, which `docker load`,
 * `podman load` and `skopeo copy docker-archive:` all read:
 *
 *   <config-hex>.json          the image config, byte for byte
 *   <id>/layer.tar             each layer UNCOMPRESSED (docker load checks diffIDs)
 *   <id>/VERSION, <id>/json    legacy v1 metadata (ignored when manifest.json exists)
 *   manifest.json              [{Config, RepoTags, Layers}]
 *   repositories               {familiar-name: {tag: top-layer-id}}
 *
 * `<id>` is a chain of hashes over the diffIDs, so a layer that appears twice
 * in one image still gets its own directory. A tar header needs the member
 * size first, so compressed layers are decompressed to a temp file beside
 * the output (streamed, verified against the diffID), then copied in.
 */
import { randomBytes, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HoistError } from '../errors.js';
import { fileHandleSink } from './atomic-file.js';
import { digestHex, type Digest } from './digest.js';
import type { Image } from './image.js';
import type { Layer } from './layer.js';
import { layerCompression } from './media-types.js';
import type { Reference } from './reference.js';
import type { TarWriter } from '../tar/index.js';

/** One entry of manifest.json. */
export interface DockerArchiveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** RepoTags for a set of references: familiar `name:tag`; digest-only references have none. */
export function repoTags(refs: readonly Reference[]): string[] {
  const tags = refs.filter((r) => r.tag !== undefined).map((r) => `${r.familiarName()}:${r.tag}`);
  return [...new Set(tags)];
}

function legacyIds(diffIds: readonly Digest[]): string[] {
  const ids: string[] = [];
  let parent = '';
  for (const d of diffIds) {
    parent = createHash('sha256').update(`${parent}\n${d}`).digest('hex');
    ids.push(parent);
  }
  return ids;
}

/** Put one layer's uncompressed tar into the archive as `member`. */
async function writeLayer(tar: TarWriter, member: string, layer: Layer, spoolDir: string): Promise<void> {
  if (layerCompression(layer.mediaType()) === 'none') {
    await tar.stream(member, await layer.size(), await layer.compressed());
    return;
  }
  const spool = join(spoolDir, `.hoist-layer-${randomBytes(6).toString('hex')}.tar`);
  const handle = await open(spool, 'wx', 0o600);
  try {
    // A scratch copy, deleted right after: no reason to push it to the disk early.
    await pipeline(await layer.uncompressed(), fileHandleSink(handle, { backgroundFlush: false }));
    const { size } = await handle.stat();
    await tar.stream(member, size, createReadStream(spool));
  } finally {
    await handle.close().catch(() => undefined);
    await unlink(spool).catch(() => undefined);
  }
}

/**
 * Write `img` into `tar` in docker save form. `spoolDir` holds the temporary
 * uncompressed copy of a compressed layer while it is copied in.
 */
export async function fillDockerArchive(
  tar: TarWriter,
  img: Image,
  refs: readonly Reference[],
  spoolDir: string,
): Promise<Digest> {
  const manifest = await img.manifest();
  const config = await img.configFile();
  const layers = await img.layers();
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layers.length) {
    throw new HoistError('BAD_IMAGE', `image has ${layers.length} layers but its config lists ${diffIds.length} diff_ids`);
  }
  const ids = legacyIds(diffIds);
  const created = config.created ?? '1970-01-01T00:00:00Z';
  for (const [i, layer] of layers.entries()) {
    const id = ids[i] as string;
    await tar.directory(id);
    await tar.file(`${id}/VERSION`, Buffer.from('1.0'));
    const v1: Record<string, unknown> = { id, created, container_config: {} };
    if (i > 0) v1.parent = ids[i - 1];
    if (i === layers.length - 1) Object.assign(v1, { os: config.os, architecture: config.architecture });
    await tar.file(`${id}/json`, Buffer.from(JSON.stringify(v1)));
    await writeLayer(tar, `${id}/layer.tar`, layer, spoolDir);
  }
  const configName = `${digestHex(manifest.config.digest)}.json`;
  await tar.file(configName, await img.rawConfigFile());

  const tags = repoTags(refs);
  const entry: DockerArchiveManifestEntry = { Config: configName, RepoTags: tags, Layers: ids.map((id) => `${id}/layer.tar`) };
  await tar.file('manifest.json', Buffer.from(JSON.stringify([entry])));

  const top = ids[ids.length - 1];
  if (top !== undefined && tags.length > 0) {
    const repositories: Record<string, Record<string, string>> = {};
    for (const r of refs) {
      if (r.tag === undefined) continue;
      (repositories[r.familiarName()] ??= {})[r.tag] = top;
    }
    await tar.file('repositories', Buffer.from(JSON.stringify(repositories)));
  }
  return img.digest();
}
