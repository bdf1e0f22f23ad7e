import { writeFileAtomic } from '../../oci/atomic-file.js';
import type { Image, Reference } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import type { StepRecord } from './step-tracker.js';

/** What `--metadata-file` holds. */
export interface BuildReport {
  digest: Digest;
  mediaType: string;
  tags: string[];
  config: { digest: Digest; size: number };
  layers: Array<{ digest: Digest; diffId: Digest; size: number; mediaType: string }>;
  /** Every step that ran, in order, with its time and the layer it added. */
  steps: StepRecord[];
  /** buildx's key for the manifest digest (the same as `digest`), for scripts written against `docker buildx build --metadata-file`. */
  'containerimage.digest': Digest;
  /** buildx's key: the image's names, comma-separated (absent without a name). */
  'image.name'?: string;
}

export async function buildReport(image: Image, refs: readonly Reference[], steps: readonly StepRecord[] = []): Promise<BuildReport> {
  const manifest = await image.manifest();
  const layers = await image.layers();
  return {
    digest: await image.digest(),
    mediaType: await image.mediaType(),
    tags: refs.map((r) => r.string()),
    config: { digest: manifest.config.digest, size: manifest.config.size },
    layers: await Promise.all(
      layers.map(async (l) => ({ digest: await l.digest(), diffId: await l.diffId(), size: await l.size(), mediaType: l.mediaType() })),
    ),
    steps: [...steps],
    'containerimage.digest': await image.digest(),
    ...(refs.length > 0 ? { 'image.name': refs.map((r) => r.string()).join(',') } : {}),
  };
}

/** `--digest-file` and `--metadata-file`, each written whole or not at all. */
export async function writeReports(
  image: Image,
  refs: readonly Reference[],
  files: { digestFile?: string | undefined; metadataFile?: string | undefined },
  steps: readonly StepRecord[] = [],
): Promise<BuildReport> {
  const report = await buildReport(image, refs, steps);
  if (files.digestFile) await writeFileAtomic(files.digestFile, Buffer.from(report.digest));
  if (files.metadataFile) await writeFileAtomic(files.metadataFile, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
  return report;
}
