import type { Command } from 'commander';
import { parseImageLocation } from '../src/images/image-location.js';
import { copyImage } from '../src/images/transfer.js';
import { UsageError } from '../src/errors.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import type { CliIo } from './io.js';
import { addProgressOption, showTransfers, type ProgressFlags } from './progress/index.js';

export function registerPull(program: Command, io: CliIo): void {
  addProgressOption(addImageOptions(
    program
      .command('pull')
      .description('pull an image from a registry into a local destination')
      .argument('<ref>', 'registry reference, e.g. busybox:1.36')
      .argument('<dest>', 'oci-layout:DIR[:TAG], oci-archive:FILE or docker-archive:FILE'),
  )).action(async (ref: string, dest: string, flags: ImageFlags & ProgressFlags) => {
    const src = parseImageLocation(ref);
    if (src.kind !== 'registry') throw new UsageError(`pull reads from a registry, not ${src.kind}:`, { hint: 'use hoist copy for local sources' });
    await withImageAccess(flags, io, { cacheBlobs: false }, async (access) => {
      io.stdout(await showTransfers(io, flags, `pulling ${ref} to ${dest}`, (onProgress) => copyImage(src, dest, { ...access, onProgress }, { onePlatform: flags.platform !== undefined })));
    });
  });
}
