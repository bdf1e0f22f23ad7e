import { DockerfileError } from './errors.js';
import type { Instruction } from './instructions/types.js';

/**
 * The most text the words of one Dockerfile may expand to, all together. One
 * word is capped at 1 MiB by the lexer; this stops a file of many such words
 * (`ARG b1=$big$big`, `ARG b2=$big$big`, ...) from holding gigabytes.
 */
export const MAX_EXPANDED_TOTAL = 64 * 1024 * 1024;

/** Counts expanded text against MAX_EXPANDED_TOTAL for one plan. */
export class ExpansionBudget {
  #left = MAX_EXPANDED_TOTAL;

  /** Records `length` more characters expanded for `instr`; throws once over the total. */
  charge(length: number, instr: Instruction): void {
    this.#left -= length;
    if (this.#left < 0) {
      throw new DockerfileError('EXPANSION_TOO_LARGE', `${instr.kind}: the expanded words of this Dockerfile exceed ${MAX_EXPANDED_TOTAL} characters in all`, instr.location, {
        hint: 'check for variables that grow line after line (ARG b=$a$a); the limit is 64 MiB of expanded text per build',
      });
    }
  }
}
