import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';
import { expect, test } from 'vitest';

test('a test run keeps its temporary files below one directory, removed at the end (test/global-setup.ts)', () => {
  expect(basename(tmpdir())).toMatch(/^hoist-test-run-/);
  expect(dirname(tmpdir())).not.toMatch(/hoist-test-run-/);
});
