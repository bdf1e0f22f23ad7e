/**
 * Dockerfiles that are huge or hostile: deeply nested `${}`, a value that
 * doubles itself, tens of thousands of ARG, ENV and LABEL lines. Each runs the
 * CLI in a child process that is killed after a generous deadline, so that a
 * regression to quadratic work, a stack overflow or running out of memory
 * shows up as a failure instead of a hung or crashed test run.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, REPO_ROOT } from '../helpers/cli.js';
import { readOciLayout } from '../helpers/oci-reader.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));
/** Linear work finishes in seconds; this only catches hangs on a slow, shared machine. */
const DEADLINE_MS = 150_000;

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** The built CLI in a child that is killed at the deadline; async, so that the test worker stays responsive. */
function hoistWithDeadline(args: string[]): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

function contextWith(dockerfile: string): string {
  const dir = tempDir('hoist-large-');
  writeFileSync(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

function lines(count: number, line: (i: number) => string): string {
  return Array.from({ length: count }, (_, i) => `${line(i)}\n`).join('');
}

function nested(depth: number): string {
  return '${a:-'.repeat(depth) + 'z' + '}'.repeat(depth);
}

function labelsOfPlan(stdout: string): string[] {
  const plan = JSON.parse(stdout) as { stages: Array<{ instructions: Array<{ kind: string; args: string[] }> }> };
  return plan.stages.flatMap((s) => s.instructions.filter((i) => i.kind === 'LABEL').flatMap((i) => i.args));
}

async function buildToLayout(dockerfile: string): Promise<{ run: Run; layout: string }> {
  const dir = contextWith(dockerfile);
  const layout = path.join(tempDir('hoist-large-out-'), 'layout');
  const run = await hoistWithDeadline(['build', dir, '-t', 'large:1', '--output', `type=oci-layout,dest=${layout}`, '--cache-dir', path.join(dir, '.cache')]);
  return { run, layout };
}

describe('huge and hostile Dockerfiles end in bounded time', { timeout: DEADLINE_MS * 2 }, () => {
  beforeAll(buildCli);

  it('${} nested 1,400 deep is an error at its line, not a stack overflow', async () => {
    const r = await hoistWithDeadline(['plan', contextWith(`FROM scratch\nENV x=${nested(1_400)}\n`)]);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).toContain('Dockerfile:2: ENV: failed to process "${a:-${a:-');
    expect(r.stderr).toContain('${...} nested more than 256 levels deep');
    expect(r.status).toBe(1);

    const ok = await hoistWithDeadline(['plan', contextWith(`FROM scratch\nLABEL x=${nested(256)}\n`)]);
    expect(ok.stderr).toBe('');
    expect(labelsOfPlan(ok.stdout)).toEqual(['x=z']);
  });

  it('an ARG that doubles itself stops at the 1 MiB word limit, at the line that passed it', async () => {
    const r = await hoistWithDeadline(['plan', contextWith(`FROM scratch\nARG a=x\n${lines(30, () => 'ARG a=$a$a')}`)]);
    expect(r.signal).toBeNull();
    // 2^21 characters is the first value past 1 MiB: the 21st doubling, on line 2 + 21.
    expect(r.stderr).toContain('Dockerfile:23: ARG: failed to process "$a$a": expanded word is longer than 1048576 characters');
    expect(r.stderr).toContain('hint:');
    expect(r.status).toBe(1);
  });

  it('plans 100,000 ARG lines and 100,000 ENV lines', async () => {
    // Each value reads an earlier one, halfway back: v<i> = "i:" + v<i/2>.
    let expected = '';
    for (let i = 99_999; i > 0; i >>= 1) expected += `${i}:`;
    expected += '0:';
    for (const kind of ['ARG', 'ENV']) {
      const r = await hoistWithDeadline(['plan', contextWith(`FROM scratch\n${lines(100_000, (i) => `${kind} v${i}=${i}:$v${i >> 1}`)}LABEL last=$v99999\n`)]);
      expect(r.signal, `${kind} plan killed after ${r.seconds}s`).toBeNull();
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(labelsOfPlan(r.stdout)).toEqual([`last=${expected}`]);
    }
  });

  it('builds 100,000 ARG lines', async () => {
    const { run, layout } = await buildToLayout(`FROM scratch\n${lines(100_000, (i) => `ARG a${i}=${i}`)}LABEL sum=$a0-$a99999\n`);
    expect(run.signal, `build killed after ${run.seconds}s`).toBeNull();
    expect(run.stderr).not.toContain('error');
    expect(run.status).toBe(0);
    const image = await readOciLayout(layout);
    expect(image.config.config.Labels).toEqual({ sum: '0-99999' });
    expect(image.config.history).toHaveLength(100_001);
  });

  it('builds 20,000 LABEL, ENV, EXPOSE and VOLUME lines and ONBUILD triggers', async () => {
    const dockerfile =
      'FROM scratch\n' +
      lines(20_000, (i) => `LABEL l${i}=v${i}`) +
      lines(20_000, (i) => `ENV e${i}=\${l${i}}v${i}`) +
      lines(5_000, (i) => `EXPOSE ${10_000 + i}/tcp`) +
      lines(5_000, (i) => `VOLUME /v${i}`) +
      lines(2_000, (i) => `ONBUILD LABEL t${i}=x`);
    const { run, layout } = await buildToLayout(dockerfile);
    expect(run.signal, `build killed after ${run.seconds}s`).toBeNull();
    expect(run.stderr).not.toContain('error');
    expect(run.status).toBe(0);
    const { config } = (await readOciLayout(layout)).config;
    expect(Object.keys(config.Labels)).toHaveLength(20_000);
    expect(config.Labels.l19999).toBe('v19999');
    // A LABEL is no variable: $l<i> is empty.
    expect(config.Env).toHaveLength(20_001);
    expect(config.Env[0]).toMatch(/^PATH=/);
    expect(config.Env[20_000]).toBe('e19999=v19999');
    expect(Object.keys(config.ExposedPorts)).toHaveLength(5_000);
    expect(Object.keys(config.Volumes)).toHaveLength(5_000);
    expect(config.OnBuild).toHaveLength(2_000);
    expect(config.OnBuild[1_999]).toBe('LABEL t1999=x');
  });
});
