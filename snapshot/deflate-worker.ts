/**
 * A worker thread that deflates gzip blocks for DeflatePool, one at a time,
 * with zlib's sync API and Node's default output buffers (stored when
 * incompressible.ts says so): the bytes of parallel-gzip's reference format.
 *
 * The thread lowers its own scheduling priority first (workerData.nice), so
 * that a layer's compression in the background takes the cores only when
 * the build's critical path (the main thread, the rootfs unpack, a RUN's
 * processes) leaves them idle. On Linux a thread's id names the thread
 * alone to setpriority(2); a lower priority needs no privilege.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { deflateRawSync } from 'node:zlib';
import { jobBlock } from './deflate-pool.js';
import { blockOptions } from './incompressible.js';

export interface DeflateJob {
  id: number;
  /** The dictionary's bytes, then the block's, from the start; sent back with the reply, to be used again. */
  input: ArrayBuffer;
  dictionaryLength: number;
  inputLength: number;
  level: number;
  memLevel: number;
  finishFlush: number;
}

export type DeflateReply = { id: number; input: ArrayBuffer } & ({ output: ArrayBuffer } | { error: string });

export interface DeflateWorkerData {
  /** Added to the thread's nice value (0: unchanged), up to 19. */
  nice: number;
}

/** This thread's id, from /proc/thread-self ("PID/task/TID"); undefined without /proc. */
function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** Add `nice` to this thread's nice value (a hoist started with `nice -n 5` gets 15 here), up to 19. */
function lowerPriority(nice: number): void {
  const tid = threadId();
  if (nice <= 0 || tid === undefined) return;
  try {
    setPriority(tid, Math.min(19, getPriority(tid) + nice));
  } catch {
    // Only slower to yield: the blocks are deflated all the same.
  }
}

/** The output as an ArrayBuffer of its own, to transfer (a small Buffer may sit in Node's shared pool). */
function ownBuffer(out: Buffer): ArrayBuffer {
  const whole = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
  return (whole ? out.buffer : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength)) as ArrayBuffer;
}

lowerPriority((workerData as DeflateWorkerData | undefined)?.nice ?? 0);

/**
 * Young-generation garbage, about a third of a block's: zlib's output
 * buffers are external memory, which V8 collects on its own only after
 * 64 MB more of it, while this thread makes almost no JavaScript garbage.
 * Each block's output buffers (about twice its deflated size) piled up
 * that far in every thread: 60 MB more peak RSS for a 100 MB layer on 2
 * threads. With this array, a scavenge (which frees young array buffers)
 * comes every few blocks; it costs no measurable CPU.
 */
const SCAVENGE_NUDGE = 12_000;

function serve(port: MessagePort): void {
  // Replaced at each block, so that the last one is garbage (see SCAVENGE_NUDGE).
  const nursery = { garbage: [] as number[] };
  port.on('message', (job: DeflateJob) => {
    // The input goes back, to be used again for a later block.
    let reply: DeflateReply;
    try {
      const { data, options } = jobBlock(job);
      reply = { id: job.id, input: job.input, output: ownBuffer(deflateRawSync(data, blockOptions(data, options))) };
    } catch (err) {
      reply = { id: job.id, input: job.input, error: err instanceof Error ? err.message : String(err) };
    }
    nursery.garbage = new Array<number>(SCAVENGE_NUDGE).fill(0);
    port.postMessage(reply, 'output' in reply ? [reply.input, reply.output] : [reply.input]);
  });
}

if (parentPort !== null) serve(parentPort);
