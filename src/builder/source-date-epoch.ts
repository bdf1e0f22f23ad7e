import { HoistError } from '../errors.js';

/** SOURCE_DATE_EPOCH as BuildKit reads it: whole seconds, decimal. */
export function parseSourceDateEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    throw new HoistError('BAD_SOURCE_DATE_EPOCH', `SOURCE_DATE_EPOCH=${JSON.stringify(value)} is not a number of seconds`, {
      hint: 'set it to a Unix time, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)',
    });
  }
  return Number(value);
}
