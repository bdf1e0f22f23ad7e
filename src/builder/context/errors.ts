import { HoistError } from '../../errors.js';

/** The build context (its directory, its ignore file, a file in it) cannot be read. */
export class BuildContextError extends HoistError {}

/** Node's error code, when `err` is a system error. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** fsutil's isNotExist: the entry vanished or a parent stopped being a directory. */
export function isNotExist(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function isPermissionDenied(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'EACCES' || code === 'EPERM';
}

export function unreadableContext(err: unknown): BuildContextError {
  const detail = err instanceof Error ? err.message : String(err);
  return new BuildContextError('CONTEXT_UNREADABLE', `cannot read the build context: ${detail}`, {
    cause: err,
    hint: 'make the files readable, or exclude them in .dockerignore',
  });
}
