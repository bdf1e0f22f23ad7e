/**
 * --label and --annotation (Kaniko's and buildx's flags, issue 10): labels
 * go into the final image's config over the Dockerfile's own, as BuildKit
 * does; annotations go into its manifest.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { build } from '../../../src/builder/executor/build.js';
import { BlobStore } from '../../../src/oci/index.js';
import { makeContext, tempDir } from '../../helpers/build.js';
import { readOciLayout } from '../../helpers/oci-reader.js';
import { AMD64 } from '../../helpers/plan.js';

async function buildWith(dockerfile: string, opts: { labels?: Array<[string, string]>; annotations?: Array<[string, string]>; target?: string }) {
  const context = makeContext({ 'a.txt': 'a' });
  const layout = path.join(tempDir('hoist-labels-out-'), 'layout');
  const result = await build({
    contextDir: context,
    dockerfileText: dockerfile,
    dockerfile: path.join(context, 'Dockerfile'),
    buildArgs: new Map(),
    target: opts.target,
    buildPlatform: AMD64,
    targetPlatform: AMD64,
    store: new BlobStore(tempDir('hoist-labels-store-')),
    outputs: [{ type: 'oci-layout', dest: layout }],
    tags: ['test:latest'],
    labels: opts.labels,
    annotations: opts.annotations,
  });
  return { result, image: await readOciLayout(layout) };
}

describe('--label and --annotation', () => {
  it('adds labels over the Dockerfile\'s, keeps a __proto__ key, and annotates the manifest', async () => {
    const { image, result } = await buildWith('FROM scratch AS base\nLABEL keep=1 over=dockerfile\nFROM base\nCOPY a.txt /\n', {
      labels: [['over', 'flag'], ['new', ''], ['__proto__', 'x']],
      annotations: [['org.opencontainers.image.revision', 'abc']],
    });
    const labels = image.config.config.Labels;
    expect(Object.entries(labels)).toEqual(
      expect.arrayContaining([['keep', '1'], ['over', 'flag'], ['new', ''], ['__proto__', 'x']]),
    );
    expect(Object.keys(labels)).toHaveLength(4);
    expect(image.manifest.annotations).toEqual({ 'org.opencontainers.image.revision': 'abc' });
    expect(result.digest).toBe(image.manifestDigest);
  });

  it('without them, the image is exactly what the Dockerfile says', async () => {
    const { image } = await buildWith('FROM scratch\nLABEL a=b\n', {});
    expect(image.config.config.Labels).toEqual({ a: 'b' });
    expect(image.manifest.annotations).toBeUndefined();
  });
});
