/**
 * How far a blob transfer has come: shared by the registry client (download,
 * upload), the layer writer (compress) and whoever shows progress. Reports
 * come as often as chunks move; `throttleTransfers` thins them out.
 */
import { Transform } from 'node:stream';

export interface TransferProgress {
  action: 'download' | 'upload' | 'compress';
  /** The blob's digest; for a layer being compressed, a name for it (its digest is known only at the end). */
  id: string;
  /** Bytes done so far. */
  current: number;
  /** Bytes in all, when known. */
  total?: number | undefined;
  /** `running` until the last report, which says how it ended: moved, already there, or mounted from another repository. */
  status: 'running' | 'done' | 'exists' | 'mounted';
}

export type TransferReporter = (progress: TransferProgress) => void;

/**
 * Passes bytes through unchanged and tells `onBytes` the running count after
 * each chunk. Used where a stream is handed to someone else to read.
 */
export function byteCounter(onBytes: (count: number) => void): Transform {
  let count = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      count += chunk.length;
      onBytes(count);
      cb(null, chunk);
    },
  });
}

/**
 * Forward at most one `running` report per transfer every `intervalMs`
 * (the first always passes), and every final report. A 500 MB layer moves
 * in thousands of chunks; a reader needs a few updates a second.
 */
export function throttleTransfers(report: TransferReporter, intervalMs = 100, now: () => number = Date.now): TransferReporter {
  const last = new Map<string, number>();
  return (p) => {
    const key = `${p.action} ${p.id}`;
    if (p.status !== 'running') {
      last.delete(key);
      report(p);
      return;
    }
    const t = now();
    const previous = last.get(key);
    if (previous !== undefined && t - previous < intervalMs) return;
    last.set(key, t);
    report(p);
  };
}
