/**
 * Build one Dockerfile with hoist (the library) and with buildah (the
 * peer), each into a builder-neutral ImageView.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from '../../../src/builder/executor/build.js';
import { DockerfileError } from '../../../src/dockerfile/errors.js';
import { HoistError } from '../../../src/errors.js';
import { BlobStore } from '../../../src/oci/index.js';
import { RegistryClient, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { readDockerArchive, readOciLayout } from '../oci-reader.js';
import { AMD64 } from '../plan.js';
import { exec, Limiter } from './exec.js';
import { imageView, type ImageView } from './image-model.js';

export interface BuildInput {
  contextDir: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  /** The Dockerfile names images in the loopback test registry (plain HTTP): hoist gets a registry source, buildah --tls-verify=false. */
  pullsFromTestRegistry?: boolean;
}

export type BuildOutcome =
  | { ok: true; view: ImageView; raw: { config: any; layerCount: number } }
  | { ok: false; code: string; message: string; line?: number };

/** hoist's build() into an OCI layout, read back with the independent reader. */
export async function buildWithHoist(input: BuildInput, opts: { timeoutMs?: number } = {}): Promise<BuildOutcome> {
  const work = await mkdtemp(path.join(tmpdir(), 'peer-hoist-'));
  const client = input.pullsFromTestRegistry ? new RegistryClient({ keychain: anonymousKeychain() }) : undefined;
  try {
    const store = new BlobStore(path.join(work, 'store'));
    const layout = path.join(work, 'layout');
    try {
      await build({
        contextDir: input.contextDir,
        dockerfile: input.dockerfile,
        buildArgs: new Map(Object.entries(input.buildArgs)),
        buildPlatform: AMD64,
        targetPlatform: AMD64,
        store,
        ...(client ? { images: new RegistrySource(client, { store, defaultPlatform: AMD64 }) } : {}),
        outputs: [{ type: 'oci-layout', dest: layout }],
        tags: ['localhost/peer:hoist'],
        signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
      });
    } catch (err) {
      const code = err instanceof HoistError ? err.code : `INTERNAL(${(err as Error).name})`;
      const line = err instanceof DockerfileError ? err.location?.line : undefined;
      return { ok: false, code, message: (err as Error).message, ...(line !== undefined ? { line } : {}) };
    }
    const image = await readOciLayout(layout);
    return { ok: true, view: imageView(image.layers, image.config), raw: { config: image.config, layerCount: image.layers.length } };
  } finally {
    await client?.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** buildah bud runs this many at once (each is a process doing mostly I/O). */
export const buildahLimiter = new Limiter(3);

/**
 * `buildah bud --format docker --layers` with private vfs storage, pushed to
 * a docker-archive. Docker format keeps Healthcheck, OnBuild and Shell,
 * which buildah drops from OCI-format images.
 */
export async function buildWithBuildah(input: BuildInput, opts: { timeoutMs?: number } = {}): Promise<BuildOutcome> {
  return buildahLimiter.run(async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'peer-buildah-'));
    try {
      const storage = ['--root', path.join(work, 'root'), '--runroot', path.join(work, 'runroot'), '--storage-driver', 'vfs'];
      const env = { TMPDIR: work, BUILDAH_ISOLATION: 'chroot', STORAGE_DRIVER: 'vfs' };
      const args = [...storage, 'bud', '--format', 'docker', '--isolation', 'chroot', '--layers', '-f', input.dockerfile];
      if (input.pullsFromTestRegistry) args.push('--tls-verify=false');
      // BuildKit reads <Dockerfile>.dockerignore before .dockerignore; buildah 1.28 needs to be told.
      const own = `${input.dockerfile}.dockerignore`;
      if (existsSync(own)) args.push('--ignorefile', own);
      for (const [k, v] of Object.entries(input.buildArgs)) args.push('--build-arg', `${k}=${v}`);
      args.push('-t', 'localhost/peer:buildah', input.contextDir);
      const bud = await exec('buildah', args, { env, timeoutMs: opts.timeoutMs ?? 120_000 });
      if (bud.status !== 0) return { ok: false, code: `exit ${bud.status ?? bud.signal}`, message: `${bud.stderr}\n${bud.stdout}`.trim() };
      const archive = path.join(work, 'image.tar');
      const push = await exec('buildah', [...storage, 'push', 'localhost/peer:buildah', `docker-archive:${archive}:localhost/peer:buildah`], { env });
      if (push.status !== 0) throw new Error(`buildah push failed: ${push.stderr}`);
      const image = await readDockerArchive(archive);
      return { ok: true, view: imageView(image.layers, image.config), raw: { config: image.config, layerCount: image.layers.length } };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}
