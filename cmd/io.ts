/** What a verb may touch of the process: given to it, so verbs stay testable. */
export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
  /**
   * A verb that can stop cleanly calls this and passes the signal to the
   * library: on SIGINT/SIGTERM it aborts, and the process exits once the
   * verb has returned (its temp files removed). A verb that never calls it
   * is ended at once by a signal.
   */
  interruption?: () => AbortSignal;
  /** stderr for live progress: raw writes, whether it is a terminal, and its size. */
  stderrScreen?: Screen | undefined;
}

export interface Screen {
  readonly isTTY: boolean;
  readonly columns: number;
  readonly rows: number;
  write(chunk: string): void;
}
