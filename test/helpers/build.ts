import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build, type BuildOptions, type BuildResult } from '../../src/builder/executor/build.js';
import type { BuildEvent } from '../../src/builder/events.js';
import type { OutputSpec } from '../../src/images/outputs.js';
import { BlobStore } from '../../src/oci/index.js';
import { flatten, readOciLayout, type ReadImage, type TarMember } from './oci-reader.js';
import { AMD64 } from './plan.js';

export type ContextFile = string | { content?: string; mode?: number; mtime?: number; symlink?: string; dir?: boolean };

export function tempDir(prefix = 'hoist-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A build context from a map of relative paths; parents are created. */
export function makeContext(files: Record<string, ContextFile>): string {
  const root = tempDir('hoist-ctx-');
  for (const [rel, spec] of Object.entries(files)) {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    const s = typeof spec === 'string' ? { content: spec } : spec;
    if (s.symlink !== undefined) {
      symlinkSync(s.symlink, abs);
      continue;
    }
    if (s.dir) mkdirSync(abs, { recursive: true });
    else writeFileSync(abs, s.content ?? '');
    if (s.mode !== undefined) chmodSync(abs, s.mode);
    if (s.mtime !== undefined) utimesSync(abs, s.mtime, s.mtime);
  }
  return root;
}

export interface Built {
  result: BuildResult;
  image: ReadImage;
  /** The flattened filesystem: path -> tar member. */
  files: Map<string, TarMember>;
  store: string;
}

/** Build `dockerfile` in `context` into an OCI layout and read it back independently. */
export async function buildImage(
  dockerfile: string,
  context: string,
  opts: { buildArgs?: Record<string, string>; target?: string; epoch?: number; tags?: string[]; outputs?: OutputSpec[]; store?: string; now?: Date } = {},
): Promise<Built> {
  const store = opts.store ?? tempDir('hoist-store-');
  const layout = path.join(tempDir('hoist-out-'), 'layout');
  const result = await build({
    contextDir: context,
    dockerfileText: dockerfile,
    dockerfile: path.join(context, 'Dockerfile'),
    buildArgs: new Map(Object.entries(opts.buildArgs ?? {})),
    target: opts.target,
    buildPlatform: AMD64,
    targetPlatform: AMD64,
    store: new BlobStore(store),
    outputs: [{ type: 'oci-layout', dest: layout }, ...(opts.outputs ?? [])],
    tags: opts.tags ?? ['test:latest'],
    epoch: opts.epoch,
    now: opts.now,
  });
  const image = await readOciLayout(layout);
  return { result, image, files: flatten(image.layers), store };
}

/** Writes files below `root` with their parents, a mode and a fixed mtime; returns each file's absolute path. */
export function fileWriter(root: string, mtime: number): (rel: string, content: string, mode?: number) => string {
  return (rel, content, mode = 0o644) => {
    const abs = path.join(root, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
    chmodSync(abs, mode);
    utimesSync(abs, mtime, mtime);
    return abs;
  };
}

/** A build of `dockerfileText` in `context` for linux/amd64, into `store`, with no output and no tag; `extra` overrides any option. */
export function buildOptions(context: string, dockerfileText: string, store: BlobStore, extra: Partial<BuildOptions> = {}): BuildOptions {
  return {
    contextDir: context,
    dockerfileText,
    dockerfile: path.join(context, 'Dockerfile'),
    buildArgs: new Map(),
    buildPlatform: AMD64,
    targetPlatform: AMD64,
    store,
    outputs: [],
    tags: [],
    ...extra,
  };
}

/** The busybox base most RUN tests start from: a stage of the rootfs under `rootfs/` in the context. */
export const BUSYBOX_BASE = ['FROM scratch AS base', 'COPY rootfs /'];

export interface ContextBuild {
  result: BuildResult;
  image: ReadImage;
  /** Every event of the build, in order. */
  events: BuildEvent[];
  /** The OCI layout written (tag `test:latest` unless `extra.tags`). */
  layout: string;
}

/**
 * Build the Dockerfile `lines` in `context` with a fresh store into a fresh
 * OCI layout, SOURCE_DATE_EPOCH 0, collecting the events (`onEvent` in
 * `extra` is told each one too); `extra` overrides any other option.
 */
export async function buildLines(context: string, lines: readonly string[], extra: Partial<BuildOptions> = {}): Promise<ContextBuild> {
  const layout = path.join(tempDir('hoist-out-'), 'layout');
  const events: BuildEvent[] = [];
  const { onEvent, ...rest } = extra;
  const result = await build(
    buildOptions(context, lines.join('\n'), new BlobStore(tempDir('hoist-store-')), {
      outputs: [{ type: 'oci-layout', dest: layout }],
      tags: ['test:latest'],
      epoch: 0,
      onEvent: (e) => {
        events.push(e);
        onEvent?.(e);
      },
      ...rest,
    }),
  );
  return { result, image: await readOciLayout(layout), events, layout };
}
