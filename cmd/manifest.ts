import type { Command } from 'commander';
import { parseImageLocation } from '../src/images/image-location.js';
import { readManifest } from '../src/images/images.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import type { CliIo } from './io.js';

export function registerManifest(program: Command, io: CliIo): void {
  addImageOptions(
    program
      .command('manifest')
      .description("print an image's manifest exactly as stored (an index as is unless --platform is given)")
      .argument('<ref>', 'image'),
  ).action(async (ref: string, flags: ImageFlags) => {
    await withImageAccess(flags, io, {}, async (access) => {
      io.stdout((await readManifest(parseImageLocation(ref), access, flags.platform !== undefined)).raw.toString('utf8'));
    });
  });
}
