/** `--progress`: which renderer shows a build or a transfer, by buildx's names. */
import type { Command } from 'commander';
import { eventEmitter } from '../../src/builder/events.js';
import { UsageError } from '../../src/errors.js';
import { throttleTransfers, type TransferReporter } from '../../src/oci/progress.js';
import type { CliIo } from '../io.js';
import type { ProgressRenderer } from './format.js';
import { JsonRenderer } from './json.js';
import { PlainRenderer } from './plain.js';
import { QuietRenderer } from './quiet.js';
import { TtyRenderer } from './tty.js';

export type { ProgressRenderer } from './format.js';

export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'json', 'quiet'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export function parseProgressMode(value: string): ProgressMode {
  if ((PROGRESS_MODES as readonly string[]).includes(value)) return value as ProgressMode;
  throw new UsageError(`--progress ${JSON.stringify(value)}: not a progress mode`, { hint: `use one of ${PROGRESS_MODES.join(', ')}` });
}

/** `auto` is `tty` when stderr is a terminal that can move its cursor, `plain` otherwise (a pipe, a CI log, TERM=dumb). */
export function resolveProgressMode(mode: ProgressMode, io: CliIo): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return io.stderrScreen?.isTTY === true && io.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

/** NO_COLOR (https://no-color.org): any non-empty value turns colours off. */
export function wantsColor(env: NodeJS.ProcessEnv): boolean {
  return (env.NO_COLOR ?? '') === '';
}

/**
 * The renderer for `mode`. With `interruption` (the verb's Ctrl-C signal),
 * a live display steps aside at once when it fires, so that the CLI's
 * notice is not drawn over.
 */
export function createRenderer(mode: Exclude<ProgressMode, 'auto'>, io: CliIo, interruption?: AbortSignal): ProgressRenderer {
  switch (mode) {
    case 'tty': {
      const screen = io.stderrScreen ?? { isTTY: false, columns: 80, rows: 24, write: (chunk: string) => io.stderr(chunk.replace(/\n$/, '')) };
      const renderer = new TtyRenderer(screen, { color: wantsColor(io.env) });
      interruption?.addEventListener('abort', () => renderer.interrupt(), { once: true });
      return renderer;
    }
    case 'plain':
      return new PlainRenderer((line) => io.stderr(line));
    case 'json':
      return new JsonRenderer((line) => io.stderr(line));
    case 'quiet':
      return new QuietRenderer();
  }
}

export interface ProgressFlags {
  progress: ProgressMode;
  quiet?: boolean;
}

export function addProgressOption(cmd: Command): Command {
  return cmd
    .option('--progress <mode>', 'how to show progress on stderr: auto, tty, plain, json or quiet', parseProgressMode, 'auto' as ProgressMode)
    .option('-q, --quiet', 'print nothing but the image digest (and errors); same as --progress quiet');
}

/** `-q` wins over `--progress`; `auto` becomes what stderr can show. */
export function progressModeOf(flags: ProgressFlags, io: CliIo): Exclude<ProgressMode, 'auto'> {
  return flags.quiet === true ? 'quiet' : resolveProgressMode(flags.progress, io);
}

/**
 * Progress for a verb that moves one image (pull, push, copy): one line
 * saying what happens, the blobs under it. `fn` gets the reporter to hand
 * to the image access; the display is finished before this returns.
 */
export async function showTransfers<T>(io: CliIo, flags: ProgressFlags, description: string, fn: (onProgress: TransferReporter) => Promise<T>): Promise<T> {
  const renderer = createRenderer(progressModeOf(flags, io), io);
  return watched(renderer, async () => {
    const emit = eventEmitter(renderer.event.bind(renderer));
    const started = Date.now();
    emit({ type: 'output-start', output: 1, description });
    const result = await fn(throttleTransfers((p) => emit({ type: 'transfer', ...p })));
    emit({ type: 'output-done', output: 1, durationMs: Date.now() - started });
    return result;
  });
}

/** Run `work` and end the display with how it went, before the caller prints anything more. */
export async function watched<T>(renderer: ProgressRenderer, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work();
    renderer.end();
    return result;
  } catch (err) {
    renderer.end(true);
    throw err;
  }
}
