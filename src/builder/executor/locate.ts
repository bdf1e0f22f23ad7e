import { DockerfileError } from '../../dockerfile/errors.js';
import { HoistError, withLocation, type SourceLocation } from '../../errors.js';
import { fsError, isFileSystemErrno } from '../../fs-errors.js';

const PLAIN_ERROR_KEYS = new Set(['name', 'code', 'hint']);

/**
 * Errors from deep inside a step are the user's: give them the instruction's
 * location. An error that carries data of its own (a RegistryError's status
 * and OCI codes, a FileSystemError's path) keeps its class; a plain one
 * becomes a DockerfileError. A file system error becomes the user's, about
 * the step. Anything else is a fault in hoist and passes unchanged.
 */
export function locate(err: unknown, location: SourceLocation): unknown {
  if (err instanceof DockerfileError && err.location !== undefined) return err;
  if (!(err instanceof HoistError)) {
    const mapped = isFileSystemErrno(err) ? fsError(err, (err as NodeJS.ErrnoException).path ?? location.file, 'access') : err;
    return mapped instanceof HoistError ? withLocation(mapped, location) : err;
  }
  if (Object.keys(err).every((k) => PLAIN_ERROR_KEYS.has(k))) {
    return new DockerfileError(err.code, err.message, location, { ...(err.hint ? { hint: err.hint } : {}), cause: err });
  }
  return withLocation(err, location);
}
