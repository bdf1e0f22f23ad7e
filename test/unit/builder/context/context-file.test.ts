/** Files of the build context are read as BuildKit sends them: symlinks resolved inside the context root. */
import { symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { pathInContext, readContextFile, resolveContextFile } from '../../../../src/builder/context/index.js';
import { excerpt } from '../../../../src/dockerfile/parser/index.js';
import { makeContext, tempDir } from '../../../helpers/build.js';

describe('resolveContextFile', () => {
  test('absolute targets start again at the context root; ".." stops there', async () => {
    const context = makeContext({ 'etc/real': 'inside\n', abs: { symlink: '/etc/real' }, up: { symlink: '../../../../etc/real' }, dir: { symlink: '/etc' } });
    expect(await resolveContextFile(context, 'abs')).toBe(path.join(context, 'etc/real'));
    expect(await resolveContextFile(context, 'up')).toBe(path.join(context, 'etc/real'));
    expect(await resolveContextFile(context, 'dir/real')).toBe(path.join(context, 'etc/real'));
    expect(await readContextFile(context, path.join(context, 'abs'))).toBe('inside\n');
  });

  test('a link to a host file is not found', async () => {
    const host = path.join(tempDir('hoist-host-'), 'secret');
    writeFileSync(host, 'secret\n');
    const context = makeContext({ Dockerfile: { symlink: host } });
    await expect(readContextFile(context, path.join(context, 'Dockerfile'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('a symlink cycle is a SYMLINK_LOOP error', async () => {
    const context = makeContext({ a: { symlink: 'b' }, b: { symlink: 'a' } });
    await expect(resolveContextFile(context, 'a')).rejects.toMatchObject({ code: 'SYMLINK_LOOP' });
  });

  test('a file outside the context, named by the user, is read as it is', async () => {
    const outside = path.join(tempDir('hoist-df-'), 'Dockerfile');
    writeFileSync(outside, 'FROM scratch\n');
    const context = makeContext({});
    symlinkSync(outside, path.join(context, 'unused'));
    expect(pathInContext(context, outside)).toBeNull();
    expect(pathInContext(context, path.join(context, 'a/b'))).toBe('a/b');
    expect(pathInContext(context, `${context}-sibling/x`)).toBeNull();
    expect(await readContextFile(context, outside)).toBe('FROM scratch\n');
  });
});

describe('excerpt', () => {
  test('keeps short printable text as it is', () => {
    expect(excerpt('FORM')).toBe('FORM');
  });
  test('cuts at 40 characters and escapes what a terminal would act on', () => {
    expect(excerpt('x'.repeat(100))).toBe(`${'x'.repeat(40)}…`);
    expect(excerpt('\u001b[31mred\u0007')).toBe('\\x1b[31mred\\a');
  });
});
