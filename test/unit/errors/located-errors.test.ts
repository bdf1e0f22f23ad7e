import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../../registry/errors.js';
import { locate } from '../../../src/builder/executor/locate.js';
import { DockerfileError } from '../../../src/dockerfile/errors.js';
import { HoistError, locationOf, withLocation } from '../../../src/errors.js';
import { FileSystemError } from '../../../src/fs-errors.js';
import { planText } from '../../helpers/plan.js';

const AT = { file: '/ctx/Dockerfile', line: 7 };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('locate()', () => {
  it('keeps a RegistryError with its status and OCI codes, and names the line', () => {
    const original = new RegistryError('REGISTRY_NOT_FOUND', 'GET manifest localhost:5000/app:1: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)', {
      status: 404,
      ociErrors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }],
      hint: 'check the name and tag',
    });
    const located = locate(original, AT);
    expect(located).toBeInstanceOf(RegistryError);
    const e = located as RegistryError;
    expect(e.message).toBe(`/ctx/Dockerfile:7: ${original.message}`);
    expect(e.status).toBe(404);
    expect(e.ociErrors.map((o) => o.code)).toEqual(['MANIFEST_UNKNOWN']);
    expect(e.code).toBe('REGISTRY_NOT_FOUND');
    expect(e.hint).toBe('check the name and tag');
    expect(locationOf(e)).toEqual(AT);
    // Located once: a second location does not stack.
    expect((locate(e, { file: 'x', line: 1 }) as Error).message).toBe(e.message);
  });

  it('turns a plain HoistError into a DockerfileError and a raw file system error into the user error', () => {
    const plain = locate(new HoistError('COPY_FAILED', 'no source files were specified', { hint: 'h' }), AT);
    expect(plain).toBeInstanceOf(DockerfileError);
    expect((plain as DockerfileError).message).toBe('/ctx/Dockerfile:7: no source files were specified');
    const eacces = Object.assign(new Error("EACCES: permission denied, open '/ctx/secret'"), { code: 'EACCES', syscall: 'open', path: '/ctx/secret' });
    const fs = locate(eacces, AT);
    expect(fs).toBeInstanceOf(FileSystemError);
    expect((fs as FileSystemError).message).toBe('/ctx/Dockerfile:7: cannot access /ctx/secret: permission denied (EACCES)');
    const bug = new TypeError('boom');
    expect(locate(bug, AT)).toBe(bug);
  });

  it('withLocation can replace the hint and keeps the stack readable', () => {
    const e = withLocation(new RegistryError('REGISTRY_UNREACHABLE', 'cannot reach docker.io'), AT, { hint: 'try again' });
    expect(e).toBeInstanceOf(RegistryError);
    expect(e.hint).toBe('try again');
    expect(e.stack).toContain('/ctx/Dockerfile:7: cannot reach docker.io');
  });
});

describe('a --from that is one typo away from a stage', () => {
  it('is refused before any registry is asked', () => {
    const err = thrown(() => planText('FROM scratch AS builder\nCOPY a /a\nFROM scratch\nCOPY --from=bulder /a /b\n'));
    expect(err).toBeInstanceOf(DockerfileError);
    expect((err as DockerfileError).message).toBe('Dockerfile:4: no stage named bulder (did you mean builder?)');
    expect((err as DockerfileError).hint).toContain('--from=bulder:latest');
  });

  it('RUN --mount from= is checked the same way', () => {
    const err = thrown(() => planText('FROM scratch AS builder\nFROM scratch\nRUN --mount=type=bind,from=buidler,target=/s true\n'));
    expect((err as DockerfileError).message).toBe('Dockerfile:3: no stage named buidler (did you mean builder?)');
  });

  it('an image with a tag, a path or a registry is left alone', () => {
    for (const ref of ['bulder:latest', 'team/bulder', 'registry.example.com/bulder']) {
      const plan = planText(`FROM scratch AS builder\nFROM scratch\nCOPY --from=${ref} /a /b\n`);
      expect(plan.stages[1]?.dependsOn).toEqual([]);
    }
  });
});
