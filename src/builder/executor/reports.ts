import { writeFileAtomic } from '../../oci/atomic-file.js';
import type { Image, Reference } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';

/** What `--metadata-file` holds. */
export interface BuildReport {
  digest: Digest;
  mediaType: string;
  tags: string[];
  config: { digest: Digest; size: number };
  layers: Array<{ digest: Digest; diffId: Digest; size: number; mediaType: string }>;
}

export async function buildReport(image: Image, refs: readonly Reference[]): Promise<BuildReport> {
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
  };
}

/** `--digest-file` and `--metadata-file`, each written whole or not at all. */
export async function writeReports(
  image: Image,
  refs: readonly Reference[],
  files: { digestFile?: string | undefined; metadataFile?: string | undefined },
): Promise<BuildReport> {
  const report = await buildReport(image, refs);
  if (files.digestFile) await writeFileAtomic(files.digestFile, Buffer.from(report.digest));
  if (files.metadataFile) await writeFileAtomic(files.metadataFile, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
  return report;
}
