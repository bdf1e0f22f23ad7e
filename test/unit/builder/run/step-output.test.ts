import { describe, expect, it } from 'vitest';
import type { EmitEvent } from '../../../../src/builder/events.js';
import { StepOutput } from '../../../../src/builder/run/step-output.js';

function collect(): { out: StepOutput; lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const emit: EmitEvent = (e) => {
    if (e.type === 'step-log') lines.push([e.stream, e.text]);
  };
  const out = new StepOutput(3, emit);
  return { out, lines };
}

describe('a step\'s output', () => {
  it('is one event per line and stream; a partial line waits for its end or the flush', () => {
    const { out, lines } = collect();
    out.io.stdout(Buffer.from('one\ntw'));
    out.io.stderr(Buffer.from('err'));
    expect(lines).toEqual([['stdout', 'one']]);
    out.io.stdout(Buffer.from('o\nthree'));
    out.flush();
    expect(lines).toEqual([['stdout', 'one'], ['stdout', 'two'], ['stdout', 'three'], ['stderr', 'err']]);
  });

  it('decodes a character whose bytes are split between two chunks as that character', () => {
    const { out, lines } = collect();
    const bytes = Buffer.from('größe €\n');
    for (let i = 0; i < bytes.length; i++) out.io.stdout(bytes.subarray(i, i + 1));
    expect(lines).toEqual([['stdout', 'größe €']]);
    expect(out.tail()).toBe('größe €');
  });
});
