#!/usr/bin/env node
/**
 * The `hoist` command (package.json's bin, bundled to dist/bin/hoist.cjs):
 * runs the CLI bundle next to it (dist/bin/hoist-cli.cjs, cmd/hoist.ts) from
 * a V8 code cache. Parsing and compiling that ~1 MB file is a large part of
 * what any hoist command costs before it does anything (bench/noop-rebuild);
 * with the cache, V8 takes the bytecode of every function the run that made
 * it had compiled instead of parsing the source again.
 *
 * A run that finds no usable cache (none yet, made from other bundle content,
 * or refused by V8: another V8, other flags) makes one when it ends, written
 * through a temp file and a rename. Where the directory is read-only hoist
 * runs without one, as it would with no launcher. V8 itself checks only the
 * source's length, so the file starts with the SHA-256 of the bundle it was
 * made from.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Script } from 'node:vm';
import { setShortCommandV8Flags } from './v8-flags.js';

const CLI_BUNDLE = './hoist-cli.cjs';
const DIGEST_BYTES = 32;

/** Where the cache of `bundle` is kept: one per V8 and architecture, so that hosts sharing a directory do not overwrite each other's. */
function cachePath(bundle: string): string {
  return `${bundle}.${process.versions.v8}-${process.arch}.v8-cache`;
}

/** The V8 data of the cache file made from a bundle of this digest; undefined when there is none. */
function readCache(file: string, digest: Buffer): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  return data.length > DIGEST_BYTES && data.subarray(0, DIGEST_BYTES).equals(digest) ? data.subarray(DIGEST_BYTES) : undefined;
}

/** Best effort: a cache that cannot be written only costs the next run its compile. */
function writeCache(file: string, digest: Buffer, script: Script): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, Buffer.concat([digest, script.createCachedData()]));
    renameSync(temp, file);
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      // Never written.
    }
  }
}

function launch(): void {
  const requireHere = createRequire(import.meta.url);
  const bundle = requireHere.resolve(CLI_BUNDLE);
  const bytes = readFileSync(bundle);
  const digest = createHash('sha256').update(bytes).digest();
  const cacheFile = cachePath(bundle);
  const cached = readCache(cacheFile, digest);
  // A cache is accepted only under the flags it was made with: set the CLI's before compiling.
  setShortCommandV8Flags();
  // The bundle is ASCII (cmd/bundle.mjs checks), so latin1 decodes it exactly, without
  // UTF-8 decoding; its #! line becomes a comment of the same length.
  const source = bytes.toString('latin1').replace(/^#!/, '//');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    ...(cached !== undefined ? { cachedData: cached } : {}),
  });
  if (cached === undefined || script.cachedDataRejected === true) process.once('exit', () => writeCache(cacheFile, digest, script));
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
}

launch();
