import type { Command } from 'commander';
import { parseImageLocation } from '../src/images/image-location.js';
import { readImage } from '../src/images/images.js';
import { exportImage } from '../src/images/export.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import type { CliIo } from './io.js';

export function registerExport(program: Command, io: CliIo): void {
  addImageOptions(
    program
      .command('export')
      .description("write an image's flattened filesystem (whiteouts applied) as a tar file; - for standard output")
      .argument('<ref>', 'image')
      .argument('<file>', 'tar file to write, or -'),
  ).action(async (ref: string, file: string, flags: ImageFlags) => {
    await withImageAccess(flags, io, {}, async (access) => {
      const image = await readImage(parseImageLocation(ref), access);
      await exportImage(image, file === '-' ? process.stdout : file);
    });
  });
}
