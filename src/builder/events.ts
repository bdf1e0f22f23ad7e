/**
 * What a build tells whoever watches it, as data: the library emits these
 * through `BuildOptions.onEvent` and never prints; `cmd/progress/` turns
 * them into terminal redraws, CI log lines or JSON.
 *
 * Steps are numbered across the whole build (1, 2, ...), in the order they
 * start; `index`/`total` place a step in its stage as BuildKit's `[2/5]` does
 * (the stage's FROM is its step 1).
 */
import type { SourceLocation } from '../errors.js';
import type { TransferProgress } from '../oci/progress.js';

interface Timed {
  /** When it happened: milliseconds since the epoch. */
  time: number;
}

export interface StageStart extends Timed {
  type: 'stage-start';
  stage: number;
  /** The stage's name, or `stage-N` for an unnamed one when the build has several; undefined for a lone unnamed stage. */
  label: string | undefined;
  /** What the stage is built on: `scratch`, an image reference, or an earlier stage's name. */
  base: string;
  /** Steps in the stage, counting its FROM. */
  steps: number;
}

/**
 * A registry image a stage is built on, being opened (manifest and config)
 * before any step runs: BuildKit's `load metadata for`. `base` numbers them
 * from 1 in the order they are opened.
 */
export interface BaseStart extends Timed {
  type: 'base-start';
  base: number;
  ref: string;
}

export interface BaseDone extends Timed {
  type: 'base-done';
  base: number;
  durationMs: number;
}

export interface StepStart extends Timed {
  type: 'step-start';
  step: number;
  stage: number;
  /** The stage label, as in StageStart. */
  label: string | undefined;
  /** 1-based position in the stage; FROM is 1. */
  index: number;
  total: number;
  /** The instruction as written (continuations joined). */
  instruction: string;
  location: SourceLocation;
}

/** The step's result came from the build cache: nothing ran. Emitted instead of StepDone. */
export interface StepCached extends Timed {
  type: 'step-cached';
  step: number;
}

/** A line a step's process wrote (RUN). */
export interface StepLog extends Timed {
  type: 'step-log';
  step: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface StepDone extends Timed {
  type: 'step-done';
  step: number;
  durationMs: number;
  /** The layer the step added, if it added one. */
  layer?: { digest: string; size: number } | undefined;
}

export interface StepError extends Timed {
  type: 'step-error';
  step: number;
  durationMs: number;
  message: string;
  /** The step did not fail: it was stopped because a step of another stage built at the same time failed (BuildKit's CANCELED). */
  canceled?: true | undefined;
}

/** Bytes moving: a base layer downloaded, a new layer compressed, a blob pushed. */
export interface Transfer extends Timed, TransferProgress {
  type: 'transfer';
  /** The step the transfer belongs to, when the builder knows it (compression does). */
  step?: number | undefined;
}

/** The image being written to one destination: an archive, a layout, a registry. */
export interface OutputStart extends Timed {
  type: 'output-start';
  output: number;
  /** What is happening, as a phrase: `exporting to oci /tmp/app.tar`, `pushing registry.example.com/app:1`. */
  description: string;
}

export interface OutputDone extends Timed {
  type: 'output-done';
  output: number;
  durationMs: number;
}

export interface BuildWarning extends Timed {
  type: 'warning';
  code: string;
  message: string;
  location?: SourceLocation | undefined;
}

/** Something worth knowing about how the build runs that is not a problem (which runner RUN steps use, and why). */
export interface BuildNote extends Timed {
  type: 'note';
  code: string;
  message: string;
}

/**
 * A stage's files were put on disk (for a RUN, or a change to files the
 * stage shares with the stage it is built FROM): `unpack` (its layers were
 * extracted), `copy` (the rootfs of the stage it is built FROM, still read
 * by another, was copied) or `inherit` (that rootfs was taken over as it
 * is: nothing was unpacked or copied). Progress renderers other than json
 * do not show it.
 */
export interface RootfsReady extends Timed {
  type: 'rootfs';
  /** The step that needed the files (`unpack`, `copy`). */
  step?: number | undefined;
  /** The stage that took them over (`inherit`, which happens at the stage's FROM). */
  stage?: number | undefined;
  how: 'unpack' | 'copy' | 'inherit';
}

export type BuildEvent = RootfsReady | BaseStart | BaseDone | StageStart | StepStart | StepCached | StepLog | StepDone | StepError | Transfer | OutputStart | OutputDone | BuildWarning | BuildNote;

type Untimed<E> = E extends Timed ? Omit<E, 'time'> : never;

/** An event before it is stamped with its time. */
export type BuildEventInput = Untimed<BuildEvent>;

export type EmitEvent = (event: BuildEventInput) => void;

/** Stamps events with `now()` and hands them to `onEvent`; a no-op without a listener. */
export function eventEmitter(onEvent: ((event: BuildEvent) => void) | undefined, now: () => number = Date.now): EmitEvent {
  if (onEvent === undefined) return () => undefined;
  return (event) => onEvent({ ...event, time: now() } as BuildEvent);
}
