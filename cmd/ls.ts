import type { Command } from 'commander';
import { parseReference } from '../src/oci/index.js';
import { HoistError } from '../src/errors.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import type { CliIo } from './io.js';

export function registerLs(program: Command, io: CliIo): void {
  addImageOptions(program.command('ls').description("list a repository's tags, one per line").argument('<repo>', 'repository, e.g. registry.example.com/team/app')).action(
    async (repo: string, flags: ImageFlags) => {
      let ref;
      try {
        ref = parseReference(repo.replace(/^docker:\/\//, ''), { defaultTag: false });
      } catch (err) {
        throw new HoistError('BAD_REFERENCE', `invalid repository ${JSON.stringify(repo)}: ${(err as Error).message}`, {
          cause: err,
          hint: 'name a repository such as registry.example.com/team/app (no tag or digest)',
        });
      }
      await withImageAccess(flags, io, {}, async (access) => {
        for (const tag of await access.registry().listTags(ref)) io.stdout(tag);
      });
    },
  );
}
