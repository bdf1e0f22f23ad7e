/**
 * The namespace runners' setup script, run by the host's sh with a stand-in
 * for mount(8) that logs its arguments, as a kernel with or without the
 * overlay option `volatile` (5.10+) would answer.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { overlayOp, SETUP_SCRIPT, setupArgs } from '../../../src/run/namespace-setup.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hoist-setup-script-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Kernel = 'volatile' | 'before-5.10' | 'refuses-all' | 'fails-after-marking';

/**
 * Runs the script with a fake mount standing for `kernel`: one that takes
 * volatile, one that refuses the option, one that refuses every mount, and
 * one whose volatile mount fails after leaving its mark in the work dir (as
 * overlayfs does when a later check fails), refusing any mount on that work
 * dir until the mark is gone. Returns each mount call's arguments, the exit
 * code and stderr.
 */
async function runSetup(kernel: Kernel): Promise<{ calls: string[]; code: number; stderr: string; work: string }> {
  const log = path.join(dir, `log-${kernel}`);
  const work = path.join(dir, `work-${kernel}`);
  mkdirSync(work);
  const fakeMount = path.join(dir, `mount-${kernel}`);
  writeFileSync(
    fakeMount,
    [
      '#!/bin/sh',
      `echo "$*" | sed "s|${work}|/s/work|g" >> ${log}`,
      kernel === 'refuses-all' ? 'echo "mount: bad option" >&2; exit 32' : '',
      kernel === 'before-5.10' ? 'case "$*" in *volatile*) echo "mount: bad option volatile" >&2; exit 32 ;; esac' : '',
      kernel === 'fails-after-marking'
        ? [
            `[ -e ${work}/work/incompat ] && { echo "overlay with incompat feature volatile cannot be mounted" >&2; exit 32; }`,
            `case "$*" in *volatile*) mkdir -p ${work}/work/incompat/volatile; echo "mount: too many levels" >&2; exit 32 ;; esac`,
          ].join('\n')
        : '',
      'exit 0',
    ].join('\n'),
  );
  chmodSync(fakeMount, 0o755);
  const op = overlayOp('/r/rootfs', { upper: '/s/upper', work }, false);
  const args = [...setupArgs(fakeMount, [op], { unshare: fakeUnshare(), sh: '/bin/sh', proc: '/r/rootfs/proc' }), 'true'];
  const run = promisify(execFile)('/bin/sh', ['-c', SETUP_SCRIPT, 'hoist-setup', ...args]);
  const result = await run.then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  return { calls, ...result, work };
}

/** Stands for `unshare --pid --`: runs the rest in this PID namespace (the tests here are about the mounts). */
function fakeUnshare(): string {
  const file = path.join(dir, 'unshare');
  writeFileSync(file, '#!/bin/sh\n[ "$1 $2" = "--pid --" ] || { echo "unexpected unshare $*" >&2; exit 99; }\nshift 2\nexec "$@"\n');
  chmodSync(file, 0o755);
  return file;
}

const PROC = '-t proc -o nosuid,nodev,noexec proc /r/rootfs/proc';

const base = 'lowerdir=/r/rootfs,upperdir=/s/upper,workdir=/s/work,index=off,metacopy=off,redirect_dir=off';

describe('the setup script mounts the step\'s overlay', () => {
  it('volatile where the kernel takes it: one mount', async () => {
    const { calls, code } = await runSetup('volatile');
    expect(code).toBe(0);
    expect(calls).toEqual([`-t overlay -o ${base},volatile hoist-overlay /r/rootfs`, PROC]);
  });

  it('without volatile where the kernel refuses it (before 5.10), saying nothing of the first try', async () => {
    const { calls, code, stderr } = await runSetup('before-5.10');
    expect(code).toBe(0);
    expect(calls).toEqual([`-t overlay -o ${base},volatile hoist-overlay /r/rootfs`, `-t overlay -o ${base} hoist-overlay /r/rootfs`, PROC]);
    expect(stderr).toBe('');
  });

  it('retries on a clean work dir when the volatile mount failed after leaving its mark there', async () => {
    const { calls, code, stderr, work } = await runSetup('fails-after-marking');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(calls).toHaveLength(3);
    expect(calls[2]).toBe(PROC);
    expect(existsSync(path.join(work, 'work'))).toBe(false);
  });

  it('fails the step with mount\'s own message when neither mounts', async () => {
    const { calls, code, stderr } = await runSetup('refuses-all');
    expect(calls).toHaveLength(2);
    expect(code).toBe(125);
    expect(stderr).toBe('mount: bad option\nhoist: cannot mount an overlay on /r/rootfs\n');
  });
});
