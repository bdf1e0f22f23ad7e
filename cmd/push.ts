import type { Command } from 'commander';
import { parseImageLocation } from '../src/images/image-location.js';
import { copyImage } from '../src/images/transfer.js';
import { UsageError } from '../src/errors.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import type { CliIo } from './io.js';
import { addProgressOption, showTransfers, type ProgressFlags } from './progress/index.js';

export function registerPush(program: Command, io: CliIo): void {
  addProgressOption(addImageOptions(
    program
      .command('push')
      .description('push a local image to a registry')
      .argument('<src>', 'oci-layout:DIR[:TAG], oci-archive:FILE or docker-archive:FILE')
      .argument('<ref>', 'registry reference, e.g. registry.example.com/app:1.0'),
  )).action(async (src: string, ref: string, flags: ImageFlags & ProgressFlags) => {
    const dst = parseImageLocation(ref);
    if (dst.kind !== 'registry') throw new UsageError(`push writes to a registry, not ${dst.kind}:`, { hint: 'use hoist copy for local destinations' });
    await withImageAccess(flags, io, { cacheBlobs: false }, async (access) => {
      io.stdout(await showTransfers(io, flags, `pushing ${src} to ${ref}`, (onProgress) => copyImage(src, dst, { ...access, onProgress }, { onePlatform: flags.platform !== undefined })));
    });
  });
}
