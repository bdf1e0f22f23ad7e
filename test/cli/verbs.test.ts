/**
 * cmd/verbs.ts keeps each verb's usage and description so that help and
 * --version load no verb module; these must stay what the modules declare.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../cmd/io.js';
import { addVerbs, verbToLoad, VERBS } from '../../cmd/verbs.js';

const io: CliIo = { stdout: () => undefined, stderr: () => undefined, env: {} };

function program(): Command {
  return new Command('hoist').description('d').version('0.0.0');
}

describe('the verb table', () => {
  it('has the usage and description each verb module declares', async () => {
    for (const [name, verb] of Object.entries(VERBS)) {
      const p = program();
      (await verb.load())(p, io);
      expect(p.commands.map((c) => c.name()), name).toEqual([name]);
      const cmd = p.commands[0] as Command;
      expect(cmd.description(), name).toBe(verb.description);
      // As help shows it: commander writes [options] only for a verb with options besides --help.
      expect(p.createHelp().subcommandTerm(cmd), name).toBe(`${name} ${verb.usage}`);
    }
  });

  it('gives help without loading any verb the same text as with every verb loaded', async () => {
    const light = program();
    await addVerbs(light, io, ['--help']);
    expect(light.commands.every((c) => c.options.length === 0)).toBe(true);
    const full = program();
    for (const verb of Object.values(VERBS)) (await verb.load())(full, io);
    expect(light.helpInformation()).toBe(full.helpInformation());
    expect(light.helpInformation()).toContain("export [options] <ref> <file>  write an image's flattened filesystem");
  });

  it('loads only the verb that runs, or the one help is asked about', () => {
    expect(verbToLoad(['--version'])).toBeUndefined();
    expect(verbToLoad([])).toBeUndefined();
    expect(verbToLoad(['biuld', 'x'])).toBeUndefined();
    expect(verbToLoad(['digest', 'oci-archive:x.tar'])).toBe('digest');
    expect(verbToLoad(['help', 'push'])).toBe('push');
    expect(verbToLoad(['--help', 'build', '.'])).toBe('build');
  });
});
