import type { Command } from 'commander';
import type { CliIo } from './io.js';

export type Register = (program: Command, io: CliIo) => void;

export interface Verb {
  /** What help shows after the name: commander's usage of the loaded verb. */
  usage: string;
  /** The verb's own description (test/cli/verbs.test.ts checks both against the module). */
  description: string;
  load: () => Promise<Register>;
}

/**
 * Every verb, loaded only when it runs (a push does not load the Dockerfile
 * frontend, a plan does not load undici): start-up is a large part of a
 * short command. Help, --version and unknown verbs load none of them: they
 * need only the names, usages and descriptions kept here.
 */
export const VERBS: Readonly<Record<string, Verb>> = {
  build: {
    usage: '[options] [context]',
    description: 'build an image from a Dockerfile and write it to the outputs',
    load: async () => (await import('./build.js')).registerBuild,
  },
  plan: {
    usage: '[options] [context]',
    description: 'parse and check a Dockerfile, and print the expanded build plan as JSON',
    load: async () => (await import('./plan.js')).registerPlan,
  },
  pull: {
    usage: '[options] <ref> <dest>',
    description: 'pull an image from a registry into a local destination',
    load: async () => (await import('./pull.js')).registerPull,
  },
  push: {
    usage: '[options] <src> <ref>',
    description: 'push a local image to a registry',
    load: async () => (await import('./push.js')).registerPush,
  },
  copy: {
    usage: '[options] <src> <dst>',
    description: 'copy an image from any source to any destination (registry, oci-layout:, oci-archive:, docker-archive:)',
    load: async () => (await import('./copy.js')).registerCopy,
  },
  digest: {
    usage: '[options] <ref>',
    description: "print an image's manifest digest (an index's own digest unless --platform is given)",
    load: async () => (await import('./digest.js')).registerDigest,
  },
  manifest: {
    usage: '[options] <ref>',
    description: "print an image's manifest exactly as stored (an index as is unless --platform is given)",
    load: async () => (await import('./manifest.js')).registerManifest,
  },
  config: {
    usage: '[options] <ref>',
    description: "print an image's config exactly as stored",
    load: async () => (await import('./config.js')).registerConfig,
  },
  ls: {
    usage: '[options] <repo>',
    description: "list a repository's tags, one per line",
    load: async () => (await import('./ls.js')).registerLs,
  },
  export: {
    usage: '[options] <ref> <file>',
    description: "write an image's flattened filesystem (whiteouts applied) as a tar file; - for standard output",
    load: async () => (await import('./export.js')).registerExport,
  },
  login: {
    usage: '[options] <registry>',
    description: 'check credentials with a registry and store them, as docker login does',
    load: async () => (await import('./login.js')).registerLogin,
  },
  doctor: {
    usage: '[options]',
    description: 'show which RUN isolation works on this machine, and why the rest does not',
    load: async () => (await import('./doctor.js')).registerDoctor,
  },
  cache: {
    usage: '[options] <du|prune>',
    description: "show or shrink hoist's cache directory (base images, built layers, step records)",
    load: async () => (await import('./cache.js')).registerCache,
  },
  logout: {
    usage: '<registry>',
    description: 'remove stored credentials for a registry',
    load: async () => (await import('./logout.js')).registerLogout,
  },
};

/** The verb `args` run: the first operand, or what `help VERB` asks about; undefined if none or unknown. */
export function verbToLoad(args: readonly string[]): string | undefined {
  const operands = args.filter((a) => !a.startsWith('-'));
  const verb = operands[0] === 'help' ? operands[1] : operands[0];
  return verb !== undefined && Object.hasOwn(VERBS, verb) ? verb : undefined;
}

/**
 * Add the verbs to `program`: the one `args` runs, loaded; otherwise every
 * verb as a name and description only, enough for help, --version and the
 * "unknown command" error with its suggestion.
 */
export async function addVerbs(program: Command, io: CliIo, args: readonly string[]): Promise<void> {
  const verb = verbToLoad(args);
  if (verb !== undefined) {
    (await (VERBS[verb] as Verb).load())(program, io);
    return;
  }
  for (const [name, v] of Object.entries(VERBS)) program.command(name).description(v.description).usage(v.usage);
  program.configureHelp({ subcommandTerm: (cmd) => `${cmd.name()} ${cmd.usage()}`.trimEnd() });
}
