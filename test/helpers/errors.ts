import { HoistError } from '../../src/errors.js';

/** The HoistError code `fn` throws, undefined when it does not throw (anything else is named as such). */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HoistError ? err.code : `not a HoistError: ${String(err)}`;
  }
  return undefined;
}
