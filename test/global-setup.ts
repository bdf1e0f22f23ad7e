/**
 * Every temporary file of a test run goes below one directory, removed when
 * the run ends: TMPDIR is set before the test workers start, so os.tmpdir()
 * in the tests, and in the tools they start (skopeo, buildah, the registry),
 * points there. Without it each run left thousands of directories in /tmp.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'hoist-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
