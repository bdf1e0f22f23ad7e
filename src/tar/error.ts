/**
 * What the tar codec throws. src/tar imports nothing of the project, so it
 * cannot throw HoistError; each caller knows which file or layer it was
 * reading or writing and turns a TarError into a located HoistError.
 */
export type TarErrorKind =
  /** A header field cannot hold the value (negative id, device number too large). */
  | 'field-range'
  /** Member content had more or fewer bytes than its header announced. */
  | 'size-mismatch'
  /** The bytes are not a valid tar: bad checksum, bad number, bad PAX record. */
  | 'corrupt'
  /** The archive ends in the middle of a header or of member content. */
  | 'truncated';

export class TarError extends Error {
  override readonly name = 'TarError';

  constructor(
    readonly kind: TarErrorKind,
    message: string,
    /** Byte offset in the archive where the problem is, when reading. */
    readonly offset?: number,
  ) {
    super(message);
  }
}

export function isTarError(err: unknown): err is TarError {
  return err instanceof TarError;
}
