/**
 * Checks that run before a build starts, so that a path mistake or a
 * registry that refuses the push is reported in seconds, not after the
 * whole build: every output destination can be written, and every push
 * target accepts a push with the credentials at hand.
 */
import { lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkWritableDirectory, errnoOf, fsError, FileSystemError } from '../fs-errors.js';
import type { OutputSpec } from '../images/outputs.js';
import type { Reference } from '../oci/index.js';
import { resolveWriteTarget } from '../oci/write-target.js';

export interface PreflightOptions {
  outputs: readonly OutputSpec[];
  digestFile?: string | undefined;
  metadataFile?: string | undefined;
  /** Registry repositories the image will be pushed to. */
  pushTargets?: readonly Reference[];
  /** Proves that `ref`'s repository accepts a push (reachable, credentials accepted); throws otherwise. */
  checkPush?: (ref: Reference) => Promise<void>;
}

type Stats = import('node:fs').Stats;

async function lstatOrUndefined(p: string, what: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    if (errnoOf(err) === 'ENOTDIR') {
      throw new FileSystemError('FS_NOT_A_DIRECTORY', `${what}: a part of ${p} is not a directory`, { path: p, errno: 'ENOTDIR', hint: `check each directory in ${p}; one of them is a file` });
    }
    throw fsError(err, p, `use ${what}`);
  }
}

/** The entry at `p` with symbolic links followed; a dangling link is an error. */
async function entryAt(p: string, what: string): Promise<Stats | undefined> {
  const link = await lstatOrUndefined(p, what);
  if (link === undefined || !link.isSymbolicLink()) return link;
  try {
    return await stat(p);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fsError(err, p, `use ${what}`);
    const target = await readlink(p).catch(() => '?');
    throw new FileSystemError('FS_DANGLING_SYMLINK', `${what}: ${p} is a symbolic link to ${target}, which does not exist`, {
      path: p,
      hint: `remove the link or create ${path.resolve(path.dirname(p), target)}`,
    });
  }
}

/**
 * A file hoist will write: a device or FIFO (written into, nothing to check
 * without opening it), or a regular file, reached through any symbolic
 * links, that is not a directory and whose directory takes new files.
 */
export async function checkFileDestination(file: string, what: string, example = 'image.tar'): Promise<void> {
  const target = await resolveWriteTarget(file, `use ${what} at`);
  if (target.kind === 'into') return;
  const abs = target.path;
  const existing = await entryAt(abs, what);
  if (existing?.isDirectory()) {
    throw new FileSystemError('FS_IS_A_DIRECTORY', `${what}: ${abs} is a directory, expected a file`, {
      path: abs,
      hint: `give a file name, e.g. ${path.join(abs, example)}`,
    });
  }
  await checkWritableDirectory(path.dirname(abs), what);
}

/** A directory hoist fills (an OCI layout): an existing writable directory, or one that can be created. */
export async function checkDirectoryDestination(dir: string, what: string): Promise<void> {
  const abs = path.resolve(dir);
  let p = abs;
  for (;;) {
    const st = await entryAt(p, what);
    if (st !== undefined) {
      if (!st.isDirectory()) {
        throw new FileSystemError('FS_NOT_A_DIRECTORY', `${what}: ${p} is not a directory`, {
          path: abs,
          hint: p === abs ? `${what} is a directory; remove the file ${p} or choose another path` : `${p} is a file; choose another path`,
        });
      }
      await checkWritableDirectory(p, what);
      return;
    }
    const parent = path.dirname(p);
    if (parent === p) return;
    p = parent;
  }
}

/** Every check, outputs first (no network), then push targets. Throws the first problem found. */
export async function preflightBuild(opts: PreflightOptions): Promise<void> {
  for (const output of opts.outputs) {
    // `-` is standard output: nothing to check on disk.
    if (typeof output.dest !== 'string' || output.dest === '-') continue;
    const what = `--output type=${output.type},dest=${output.dest}`;
    if (output.type === 'oci-layout') await checkDirectoryDestination(output.dest, what);
    else await checkFileDestination(output.dest, what);
  }
  if (opts.digestFile) await checkFileDestination(opts.digestFile, `--digest-file ${opts.digestFile}`, 'digest.txt');
  if (opts.metadataFile) await checkFileDestination(opts.metadataFile, `--metadata-file ${opts.metadataFile}`, 'metadata.json');
  const checkPush = opts.checkPush;
  if (checkPush === undefined) return;
  const seen = new Set<string>();
  for (const ref of opts.pushTargets ?? []) {
    const repo = `${ref.domain}/${ref.path}`;
    if (seen.has(repo)) continue;
    seen.add(repo);
    // The registry's own error (status, OCI codes, hint) is the clearest answer: it passes unchanged.
    await checkPush(ref);
  }
}
