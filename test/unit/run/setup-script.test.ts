/**
 * The namespace runners' setup script, run by the host's sh with a stand-in
 * for mount(8) that logs its arguments, as a kernel with or without the
 * overlay option `volatile` (5.10+) would answer.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { overlayOp, SETUP_SCRIPT, setupArgs } from '../../../src/run/namespace-setup.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hoist-setup-script-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the script with a fake mount that refuses `-o ...volatile` when `refuseVolatile`; returns each mount call's arguments and the exit code. */
async function runSetup(refuseVolatile: boolean, failAll = false): Promise<{ calls: string[]; code: number; stderr: string }> {
  const log = path.join(dir, `log-${refuseVolatile}-${failAll}`);
  const fakeMount = path.join(dir, `mount-${refuseVolatile}-${failAll}`);
  writeFileSync(
    fakeMount,
    [
      '#!/bin/sh',
      `echo "$*" >> ${log}`,
      failAll ? 'echo "mount: bad option" >&2; exit 32' : '',
      refuseVolatile ? 'case "$*" in *volatile*) echo "mount: bad option volatile" >&2; exit 32 ;; esac' : '',
      'exit 0',
    ].join('\n'),
  );
  chmodSync(fakeMount, 0o755);
  const op = overlayOp('/r/rootfs', { upper: '/s/upper', work: '/s/work' }, false);
  const args = [...setupArgs(fakeMount, [op]), 'true'];
  const run = promisify(execFile)('/bin/sh', ['-c', SETUP_SCRIPT, 'hoist-setup', ...args]);
  const result = await run.then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  return { calls, ...result };
}

const base = 'lowerdir=/r/rootfs,upperdir=/s/upper,workdir=/s/work,index=off,metacopy=off,redirect_dir=off';

describe('the setup script mounts the step\'s overlay', () => {
  it('volatile where the kernel takes it: one mount', async () => {
    const { calls, code } = await runSetup(false);
    expect(code).toBe(0);
    expect(calls).toEqual([`-t overlay -o ${base},volatile hoist-overlay /r/rootfs`]);
  });

  it('without volatile where the kernel refuses it (before 5.10), saying nothing of the first try', async () => {
    const { calls, code, stderr } = await runSetup(true);
    expect(code).toBe(0);
    expect(calls).toEqual([`-t overlay -o ${base},volatile hoist-overlay /r/rootfs`, `-t overlay -o ${base} hoist-overlay /r/rootfs`]);
    expect(stderr).toBe('');
  });

  it('fails the step with mount\'s own message when neither mounts', async () => {
    const { calls, code, stderr } = await runSetup(false, true);
    expect(calls).toHaveLength(2);
    expect(code).toBe(125);
    expect(stderr).toBe('mount: bad option\nhoist: cannot mount an overlay on /r/rootfs\n');
  });
});
