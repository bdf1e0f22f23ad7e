import type { Command } from 'commander';
import { copyImage } from '../src/images/transfer.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import type { CliIo } from './io.js';
import { addProgressOption, showTransfers, type ProgressFlags } from './progress/index.js';

export function registerCopy(program: Command, io: CliIo): void {
  addProgressOption(addImageOptions(
    program
      .command('copy')
      .description('copy an image from any source to any destination (registry, oci-layout:, oci-archive:, docker-archive:)')
      .argument('<src>', 'source, e.g. docker://busybox:latest or oci-layout:dir:tag')
      .argument('<dst>', 'destination'),
  )).action(async (src: string, dst: string, flags: ImageFlags & ProgressFlags) => {
    await withImageAccess(flags, io, { cacheBlobs: false }, async (access) => {
      io.stdout(await showTransfers(io, flags, `copying ${src} to ${dst}`, (onProgress) => copyImage(src, dst, { ...access, onProgress }, { onePlatform: flags.platform !== undefined })));
    });
  });
}
