import { describe, expect, it } from 'vitest';
import { parseCacheSpec, registryCacheTargets } from '../../../cmd/cache-flags.js';
import { UsageError } from '../../../src/errors.js';

describe('registry cache flags', () => {
  it('reads buildx\'s type=registry,ref=REF and its shorthand', () => {
    expect(parseCacheSpec('--cache-to', 'type=registry,ref=r.example.com/app/cache:buildcache,mode=max')).toBe('r.example.com/app/cache');
    expect(parseCacheSpec('--cache-from', 'r.example.com/app/cache')).toBe('r.example.com/app/cache');
    expect(parseCacheSpec('--cache-from', 'ref=localhost:5000/c')).toBe('localhost:5000/c');
  });

  it('refuses other cache types, unknown options and a missing ref, as usage errors', () => {
    expect(() => parseCacheSpec('--cache-to', 'type=local,dest=/tmp/c')).toThrow(UsageError);
    expect(() => parseCacheSpec('--cache-to', 'type=gha')).toThrow(/hoist has no gha cache/);
    expect(() => parseCacheSpec('--cache-to', 'type=registry,ref=r/c,colour=blue')).toThrow(/unknown option "colour"/);
    expect(() => parseCacheSpec('--cache-to', 'type=registry')).toThrow(/ref= is missing/);
    expect(() => parseCacheSpec('--cache-to', 'type=registry,ref=a b!')).toThrow(UsageError);
  });

  it('--cache-repo is where steps are looked up and recorded, unless --cache-from / --cache-to say otherwise', () => {
    expect(registryCacheTargets({ cacheRepo: 'r/c', cacheFrom: [], cacheTo: [] })).toEqual({ from: 'docker.io/r/c', to: 'docker.io/r/c' });
    expect(registryCacheTargets({ cacheFrom: ['type=registry,ref=a.example.com/c'], cacheTo: [] })).toEqual({ from: 'a.example.com/c', to: undefined });
    expect(registryCacheTargets({ cacheRepo: 'a.example.com/c', cacheFrom: [], cacheTo: ['type=registry,ref=b.example.com/c'] })).toEqual({ from: 'a.example.com/c', to: 'b.example.com/c' });
    expect(registryCacheTargets({ cacheRepo: 'a.example.com/c', cacheFrom: [], cacheTo: [], pushCache: false })).toEqual({ from: 'a.example.com/c', to: undefined });
    expect(registryCacheTargets({ cacheFrom: [], cacheTo: [] })).toEqual({ from: undefined, to: undefined });
    expect(() => registryCacheTargets({ cacheFrom: ['a.example.com/c', 'b.example.com/c'], cacheTo: [] })).toThrow(/hoist uses one/);
  });
});
