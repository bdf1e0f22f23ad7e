import { describe, expect, it } from 'vitest';
import type { RunInstr } from '../../../../src/dockerfile/instructions/types.js';
import { heredocScript, heredocScriptIdentity, runArgv } from '../../../../src/builder/handlers/run-argv.js';
import { planText } from '../../../helpers/plan.js';

function runs(lines: string[]): RunInstr[] {
  const plan = planText(['FROM scratch', ...lines].join('\n'));
  return (plan.stages[0]?.instructions ?? []).map((p) => p.instr).filter((i): i is RunInstr => i.kind === 'RUN');
}

describe('RUN heredocs (BuildKit dockerfile2llb)', () => {
  it('runs a lone heredoc that starts with #! as a file under /dev/pipes, through SHELL', () => {
    const [run] = runs(['RUN <<EOF', '#!/bin/sh', 'echo hi', 'EOF']);
    expect(runArgv(run as RunInstr, undefined)).toEqual(['/bin/sh', '-c', '/dev/pipes/EOF']);
    expect(runArgv(run as RunInstr, ['/bin/bash', '-ec'])).toEqual(['/bin/bash', '-ec', '/dev/pipes/EOF']);
    expect(heredocScript(run as RunInstr)).toEqual({ name: 'EOF', content: '#!/bin/sh\necho hi\n' });
  });

  it('strips <<- tabs from the body it runs, and decides on #! before stripping them', () => {
    const [script, shell] = runs(['RUN <<-EOT', '#!/bin/sh', '\techo a', '\tEOT', 'RUN <<-EOT', '\t#!/bin/sh', '\techo b', '\tEOT']);
    expect(heredocScript(script as RunInstr)).toEqual({ name: 'EOT', content: '#!/bin/sh\necho a\n' });
    // A tab before #!: not a script for BuildKit; the shell gets the body without its tabs.
    expect(heredocScript(shell as RunInstr)).toBeUndefined();
    expect(runArgv(shell as RunInstr, undefined)).toEqual(['/bin/sh', '-c', '#!/bin/sh\necho b\n']);
  });

  it('keeps other heredocs with the shell: no script, no key mount', () => {
    const [lone, reading] = runs(['RUN <<EOF', 'echo hi', 'EOF', 'RUN cat <<EOF > /x', '#!/bin/sh', 'EOF']);
    for (const run of [lone, reading] as RunInstr[]) {
      expect(heredocScript(run)).toBeUndefined();
      expect(heredocScriptIdentity(run)).toEqual([]);
    }
  });

  it('gives the cache key the script body: a changed body is a different key, the same body the same', () => {
    const [a, b, c] = runs(['RUN <<EOF', '#!/bin/sh', 'echo one', 'EOF', 'RUN <<EOF', '#!/bin/sh', 'echo two', 'EOF', 'RUN <<EOF', '#!/bin/sh', 'echo one', 'EOF']);
    const [idA, idB, idC] = [a, b, c].map((r) => heredocScriptIdentity(r as RunInstr));
    expect(idA).toEqual([{ type: 'bind', target: '/dev/pipes', source: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), readonly: true }]);
    expect(idB).not.toEqual(idA);
    expect(idC).toEqual(idA);
    // The argv alone would not tell them apart.
    expect(runArgv(a as RunInstr, undefined)).toEqual(runArgv(b as RunInstr, undefined));
  });
});
