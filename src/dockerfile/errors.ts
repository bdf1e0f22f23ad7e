import { HoistError, formatLocation, type SourceLocation } from '../errors.js';

/**
 * A problem in a Dockerfile (or a file read alongside it, like .dockerignore).
 * The message users see is `PATH:LINE: message`.
 */
export class DockerfileError extends HoistError {
  readonly location: SourceLocation | undefined;
  readonly detail: string;

  constructor(
    code: string,
    detail: string,
    location?: SourceLocation,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(code, location ? `${formatLocation(location)}: ${detail}` : detail, options);
    this.location = location;
    this.detail = detail;
  }
}
