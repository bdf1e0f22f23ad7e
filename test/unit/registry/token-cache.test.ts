import { describe, expect, test } from 'vitest';
import { DEFAULT_TOKEN_LIFETIME_S, scopeElements, TokenCache } from '../../../registry/token-cache.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('TokenCache', () => {
  test('reuses a token until shortly before expires_in runs out', () => {
    const c = clock();
    const cache = new TokenCache(c.now);
    cache.put('r', ['repository:a:pull'], 'T1', { expiresIn: 300 });
    expect(cache.get('r', ['repository:a:pull'])).toBe('T1');
    c.advance(285_000);
    expect(cache.get('r', ['repository:a:pull'])).toBe('T1');
    c.advance(6_000); // 291 s: inside the 10 s safety margin
    expect(cache.get('r', ['repository:a:pull'])).toBeUndefined();
  });

  test('expires_in defaults to 60 s', () => {
    const c = clock();
    const cache = new TokenCache(c.now);
    cache.put('r', ['s'], 'T');
    expect(DEFAULT_TOKEN_LIFETIME_S).toBe(60);
    c.advance(53_000); // margin: a tenth of 60 s
    expect(cache.get('r', ['s'])).toBe('T');
    c.advance(2_000);
    expect(cache.get('r', ['s'])).toBeUndefined();
  });

  test('issued_at in the past shortens the life; in the future it is ignored', () => {
    const c = clock(Date.parse('2024-01-01T00:01:00Z'));
    const cache = new TokenCache(c.now);
    cache.put('r', ['past'], 'P', { expiresIn: 120, issuedAt: '2024-01-01T00:00:00Z' });
    cache.put('r', ['future'], 'F', { expiresIn: 120, issuedAt: '2024-01-01T01:00:00Z' });
    c.advance(55_000);
    expect(cache.get('r', ['past'])).toBeUndefined(); // issued 115 s ago with 120 s to live
    expect(cache.get('r', ['future'])).toBe('F');
  });

  test('scope sets: order-insensitive, and a superset token serves a subset', () => {
    const cache = new TokenCache(() => 0);
    cache.put('r', ['repository:a:push,pull', 'repository:b:pull'], 'BIG');
    expect(cache.get('r', ['repository:b:pull', 'repository:a:pull,push'])).toBe('BIG');
    expect(cache.get('r', ['repository:a:pull'])).toBe('BIG');
    expect(cache.get('r', ['repository:c:pull'])).toBeUndefined();
    cache.put('r', ['repository:a:pull'], 'SMALL');
    expect(cache.get('r', ['repository:a:pull'])).toBe('SMALL');
  });

  test('tokens are per registry, and invalidate forgets one', () => {
    const cache = new TokenCache(() => 0);
    cache.put('r1', ['s'], 'A');
    expect(cache.get('r2', ['s'])).toBeUndefined();
    cache.invalidate('r1', 'A');
    expect(cache.get('r1', ['s'])).toBeUndefined();
  });

  test('scopeElements splits actions', () => {
    expect([...scopeElements(['repository:a:pull,push', 'registry:catalog:*'])].sort()).toEqual([
      'registry:catalog:*',
      'repository:a:pull',
      'repository:a:push',
    ]);
  });
});
