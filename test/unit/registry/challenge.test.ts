import { describe, expect, test } from 'vitest';
import { parseChallenges, preferredChallenge } from '../../../registry/challenge.js';

describe('parseChallenges', () => {
  const cases: [string, string | string[], ReturnType<typeof parseChallenges>][] = [
    [
      'docker hub bearer',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
        },
      ],
    ],
    ['basic', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['scheme case and param case', 'BEARER Realm="r",SERVICE=s', [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }]],
    [
      'comma inside a quoted scope (two actions)',
      'Bearer realm="https://a/token",service="svc",scope="repository:x/y:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://a/token', service: 'svc', scope: 'repository:x/y:pull,push' } }],
    ],
    [
      'escapes in quoted strings',
      String.raw`Basic realm="say \"hi\", a\\b"`,
      [{ scheme: 'basic', params: { realm: String.raw`say "hi", a\b` } }],
    ],
    [
      'two challenges in one header',
      'Basic realm="simple", Bearer realm="https://t/token", service="s", error="insufficient_scope"',
      [
        { scheme: 'basic', params: { realm: 'simple' } },
        { scheme: 'bearer', params: { realm: 'https://t/token', service: 's', error: 'insufficient_scope' } },
      ],
    ],
    [
      'two header lines',
      ['Basic realm="a"', 'Bearer realm="b"'],
      [
        { scheme: 'basic', params: { realm: 'a' } },
        { scheme: 'bearer', params: { realm: 'b' } },
      ],
    ],
    ['spaces around = and empty list elements', 'Bearer  realm = "r" ,, service = s ,', [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }]],
    ['token68', 'Negotiate abc+/def==', [{ scheme: 'negotiate', params: {}, token68: 'abc+/def==' }]],
    ['scheme without params', 'Basic', [{ scheme: 'basic', params: {} }]],
    ['empty', '', []],
    ['unterminated quote is lenient', 'Bearer realm="https://x/token', [{ scheme: 'bearer', params: { realm: 'https://x/token' } }]],
    [
      'a challenge after a token68 one',
      'Negotiate abc==, Basic realm="x"',
      [
        { scheme: 'negotiate', params: {}, token68: 'abc==' },
        { scheme: 'basic', params: { realm: 'x' } },
      ],
    ],
  ];
  test.each(cases)('%s', (_name, header, want) => {
    expect(parseChallenges(header)).toEqual(want);
  });

  test('undefined header', () => {
    expect(parseChallenges(undefined)).toEqual([]);
  });

  test('preferredChallenge picks Bearer over Basic, ignores others', () => {
    expect(preferredChallenge(parseChallenges('Basic realm="a", Bearer realm="b"'))?.scheme).toBe('bearer');
    expect(preferredChallenge(parseChallenges('Negotiate x, Basic realm="a"'))?.scheme).toBe('basic');
    expect(preferredChallenge(parseChallenges('Negotiate x'))).toBeUndefined();
  });
});
