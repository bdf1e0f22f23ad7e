import type { Command } from 'commander';
import { parseImageLocation } from '../src/images/image-location.js';
import { readImage } from '../src/images/images.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import type { CliIo } from './io.js';

export function registerConfig(program: Command, io: CliIo): void {
  addImageOptions(program.command('config').description("print an image's config exactly as stored").argument('<ref>', 'image')).action(
    async (ref: string, flags: ImageFlags) => {
      await withImageAccess(flags, io, {}, async (access) => {
        io.stdout((await (await readImage(parseImageLocation(ref), access)).rawConfigFile()).toString('utf8'));
      });
    },
  );
}
