/** A problem inside one instruction; the caller turns it into a located DockerfileError. */
export class InstructionError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}
