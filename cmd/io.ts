/** What a verb may touch of the process: given to it, so verbs stay testable. */
export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  env: NodeJS.ProcessEnv;
}
