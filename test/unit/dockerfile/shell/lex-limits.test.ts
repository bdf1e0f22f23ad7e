import { describe, expect, test } from 'vitest';
import { ShellExpansionError, ShellLex } from '../../../../src/dockerfile/shell/index.js';
import { MAX_NESTING, MAX_WORD_LENGTH } from '../../../../src/dockerfile/shell/limits.js';

/** `${a:-${a:-...z...}}`, `depth` levels deep. */
function nested(depth: number): string {
  return '${a:-'.repeat(depth) + 'z' + '}'.repeat(depth);
}

function failure(word: string, env: ReadonlyMap<string, string>): ShellExpansionError {
  try {
    new ShellLex().processWord(word, env);
  } catch (err) {
    if (err instanceof ShellExpansionError) return err;
    throw err;
  }
  throw new Error('the word expanded without error');
}

describe('nesting of ${...}', () => {
  test('is expanded up to the limit', () => {
    expect(new ShellLex().processWord(nested(MAX_NESTING), new Map())).toBe('z');
  });

  test.each([MAX_NESTING + 1, 1_400, 50_000])('%i levels are refused with an expansion error, not a stack overflow', (depth) => {
    const err = failure(nested(depth), new Map());
    expect(err.reason).toBe(`\${...} nested more than ${MAX_NESTING} levels deep`);
    expect(err.hint).toMatch(/nest/);
    // The error quotes a short prefix of the word, not all of it.
    expect(err.message.length).toBeLessThan(400);
  });
});

describe('length of an expanded word', () => {
  const half = 'x'.repeat(MAX_WORD_LENGTH / 2 + 1);

  test('a word at the limit is expanded', () => {
    const a = 'x'.repeat(MAX_WORD_LENGTH / 2);
    expect(new ShellLex().processWord('$a$a', new Map([['a', a]])).length).toBe(MAX_WORD_LENGTH);
  });

  test.each([
    ['two references', '$a$a'],
    ['inside double quotes', '"$a${a}"'],
    ['inside a default', '${unset:-$a$a}'],
    ['split into words', '$a $a'],
  ])('is capped: %s', (_name, word) => {
    const err = failure(word, new Map([['a', half]]));
    expect(err.reason).toBe(`expanded word is longer than ${MAX_WORD_LENGTH} characters`);
    expect(err.hint).toMatch(/limit/);
  });

  test('is capped in ${VAR//pattern/replacement}, which multiplies its input', () => {
    const env = new Map([
      ['many', 'x'.repeat(100_000)],
      ['big', 'y'.repeat(1_000)],
    ]);
    expect(failure('${many//x/$big}', env).reason).toMatch(/longer than/);
    // An escaped `$0` reaches Go's template expansion, where it is the match: each one repeats it.
    expect(failure(`\${many//x*/${'\\$0'.repeat(20)}}`, env).reason).toMatch(/longer than/);
    expect(new ShellLex().processWords('${many//x/y}', env)).toEqual(['y'.repeat(100_000)]);
  });
});
