import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { parseReference, Reference } from '../../../src/oci/reference.js';

// Cases transcribed from distribution/reference's normalize_test.go and
// reference_test.go (ParseNormalizedNamed behaviour).

const HEX64F = 'f'.repeat(64);

describe('parseReference: valid names (TestValidateReferenceName)', () => {
  it.each([
    'docker/docker',
    'library/debian',
    'debian',
    'docker.io/docker/docker',
    'docker.io/library/debian',
    'docker.io/debian',
    'index.docker.io/docker/docker',
    'index.docker.io/library/debian',
    'index.docker.io/debian',
    '127.0.0.1:5000/docker/docker',
    '127.0.0.1:5000/library/debian',
    '127.0.0.1:5000/debian',
    '192.168.0.1',
    '192.168.0.1:80',
    '192.168.0.1:8/debian',
    '192.168.0.2:25000/debian',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    '[fc00::1]:5000/docker',
    '[fc00::1]:5000/docker/docker',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    'docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
    'Docker/docker',
    'DOCKER/docker',
    'docker-rules/docker',
    'docker---rules/docker',
    'doc/docker',
    'd/docker',
    'jess/t',
    'dock__er/docker',
  ])('accepts %s', (input) => {
    expect(() => parseReference(input)).not.toThrow();
  });
});

describe('parseReference: invalid names', () => {
  it.each([
    'https://github.com/docker/docker',
    'docker/Docker',
    '-docker',
    '-docker/docker',
    '-docker.io/docker/docker',
    'docker///docker',
    'docker.io/docker/Docker',
    'docker.io/docker///docker',
    '[fc00::1]',
    '[fc00::1]:5000',
    'fc00::1:5000/debian',
    '[fe80::1%eth0]:5000/debian',
    '[2001:db8:3:4::192.0.2.33]:5000/debian',
    '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
    'docker-/docker',
    '-docker-/docker',
    '____/____',
    '_docker/_docker',
    'dock..er/docker',
    'dock_.er/docker',
    'dock-.er/docker',
    'docker/',
    `${'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_'.repeat(4)}/docker`,
    '',
    ':justtag',
    `@sha256:${HEX64F}`,
    'repo@sha256:ffffffffffffffffffffffffffffffffff',
    `validname@invaliddigest:${HEX64F}`,
    'Uppercase:tag',
    'test:5000/Uppercase/lowercase:tag',
    `${'a/'.repeat(128)}a:tag`,
    'aa/asdf$$^/aa',
    '[2001:db8::1]',
    '[2001:db8::1]:5000',
    '[2001:db8::1]:tag',
    '[fe80::1%@invalidzone]:5000/repo',
    'foo:-bar',
    `foo:${'a'.repeat(129)}`,
    `foo@sha256:${'F'.repeat(64)}`,
  ])('rejects %j with BAD_REFERENCE naming it', (input) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HoistError);
    expect((caught as HoistError).code).toBe('BAD_REFERENCE');
    if (input.length < 200) expect((caught as HoistError).message).toContain(JSON.stringify(input));
  });
});

describe('references with credentials', () => {
  it.each(['user:S3cretPw@host/x:1', 'user:S3cretPw@host:5000/x', 'S3cretPw@host/x'])('refuses %j without echoing the secret', (input) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HoistError);
    expect((caught as HoistError).code).toBe('BAD_REFERENCE');
    expect((caught as HoistError).message).toContain('cannot hold credentials');
    expect((caught as HoistError).message).not.toContain('S3cretPw');
    expect((caught as HoistError).hint).toContain('hoist login');
  });
});

describe('normalisation (TestParseRepositoryInfo)', () => {
  const cases: { remote: string; familiar: string; full: string; ambiguous?: string; domain: string }[] = [
    { remote: 'fooo/bar', familiar: 'fooo/bar', full: 'docker.io/fooo/bar', ambiguous: 'index.docker.io/fooo/bar', domain: 'docker.io' },
    { remote: 'library/ubuntu', familiar: 'ubuntu', full: 'docker.io/library/ubuntu', ambiguous: 'library/ubuntu', domain: 'docker.io' },
    { remote: 'nonlibrary/ubuntu', familiar: 'nonlibrary/ubuntu', full: 'docker.io/nonlibrary/ubuntu', domain: 'docker.io' },
    { remote: 'other/library', familiar: 'other/library', full: 'docker.io/other/library', domain: 'docker.io' },
    { remote: 'private/moonbase', familiar: '127.0.0.1:8000/private/moonbase', full: '127.0.0.1:8000/private/moonbase', domain: '127.0.0.1:8000' },
    { remote: 'privatebase', familiar: '127.0.0.1:8000/privatebase', full: '127.0.0.1:8000/privatebase', domain: '127.0.0.1:8000' },
    { remote: 'private/moonbase', familiar: 'example.com/private/moonbase', full: 'example.com/private/moonbase', domain: 'example.com' },
    { remote: 'privatebase', familiar: 'example.com/privatebase', full: 'example.com/privatebase', domain: 'example.com' },
    { remote: 'private/moonbase', familiar: 'example.com:8000/private/moonbase', full: 'example.com:8000/private/moonbase', domain: 'example.com:8000' },
    { remote: 'privatebasee', familiar: 'example.com:8000/privatebasee', full: 'example.com:8000/privatebasee', domain: 'example.com:8000' },
    {
      remote: 'library/ubuntu-12.04-base',
      familiar: 'ubuntu-12.04-base',
      full: 'docker.io/library/ubuntu-12.04-base',
      ambiguous: 'index.docker.io/library/ubuntu-12.04-base',
      domain: 'docker.io',
    },
    { remote: 'library/foo', familiar: 'foo', full: 'docker.io/library/foo', ambiguous: 'docker.io/foo', domain: 'docker.io' },
    { remote: 'library/foo/bar', familiar: 'library/foo/bar', full: 'docker.io/library/foo/bar', domain: 'docker.io' },
    { remote: 'store/foo/bar', familiar: 'store/foo/bar', full: 'docker.io/store/foo/bar', domain: 'docker.io' },
    { remote: 'bar', familiar: 'Foo/bar', full: 'Foo/bar', domain: 'Foo' },
    { remote: 'bar', familiar: 'FOO/bar', full: 'FOO/bar', domain: 'FOO' },
  ];
  for (const c of cases) {
    for (const input of [c.familiar, c.full, ...(c.ambiguous === undefined ? [] : [c.ambiguous])]) {
      it(`${input} -> ${c.full}`, () => {
        const ref = parseReference(input, { defaultTag: false });
        expect(ref.name).toBe(c.full);
        expect(ref.string()).toBe(c.full);
        expect(ref.familiarName()).toBe(c.familiar);
        expect(ref.domain).toBe(c.domain);
        expect(ref.path).toBe(c.remote);
      });
    }
  }
});

describe('domain split (TestNormalizedSplitHostname)', () => {
  it.each([
    ['test.com/foo', 'test.com', 'foo'],
    ['test_com/foo', 'docker.io', 'test_com/foo'],
    ['docker/migrator', 'docker.io', 'docker/migrator'],
    ['test.com:8080/foo', 'test.com:8080', 'foo'],
    ['test-com:8080/foo', 'test-com:8080', 'foo'],
    ['foo', 'docker.io', 'library/foo'],
    ['xn--n3h.com/foo', 'xn--n3h.com', 'foo'],
    ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo'],
    ['docker.io/foo', 'docker.io', 'library/foo'],
    ['docker.io/library/foo', 'docker.io', 'library/foo'],
    ['docker.io/library/foo/bar', 'docker.io', 'library/foo/bar'],
    ['localhost/foo', 'localhost', 'foo'],
    ['localhost:5000/foo/bar', 'localhost:5000', 'foo/bar'],
    ['[::1]:5000/repo', '[::1]:5000', 'repo'],
    ['[2001:db8::1]/repo', '[2001:db8::1]', 'repo'],
  ])('%s -> domain %s path %s', (input, domain, path) => {
    const ref = parseReference(input);
    expect(ref.domain).toBe(domain);
    expect(ref.path).toBe(path);
  });
});

describe('tags and digests', () => {
  const dgst = 'sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';

  it('keeps both tag and digest (TestParseReferenceWithTagAndDigest)', () => {
    const short = `busybox:latest@${dgst}`;
    const ref = parseReference(short);
    expect(ref.string()).toBe(`docker.io/library/${short}`);
    expect(ref.tag).toBe('latest');
    expect(ref.digest).toBe(dgst);
    expect(ref.familiarString()).toBe(short);
  });

  it.each([
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['redis:latest', 'docker.io/library/redis:latest', 'redis:latest'],
    ['dmcgowan/myapp', 'docker.io/dmcgowan/myapp:latest', 'dmcgowan/myapp:latest'],
    [`redis@${dgst}`, `docker.io/library/redis@${dgst}`, `redis@${dgst}`],
    ['127.0.0.1:5000/foo:tag', '127.0.0.1:5000/foo:tag', '127.0.0.1:5000/foo:tag'],
    ['localhost/foo', 'localhost/foo:latest', 'localhost/foo:latest'],
    ['lowercase:Uppercase', 'docker.io/library/lowercase:Uppercase', 'lowercase:Uppercase'],
    ['test.com:5000', 'docker.io/library/test.com:5000', 'test.com:5000'],
    ['192.168.1.1:5000/repo:5050', '192.168.1.1:5000/repo:5050', '192.168.1.1:5000/repo:5050'],
    ['b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io/test.example.com/my-app:test.example.com', 'b.gcr.io/test.example.com/my-app:test.example.com'],
    [`[2001:db8::1]:5000/repo:tag@sha256:${HEX64F}`, `[2001:db8::1]:5000/repo:tag@sha256:${HEX64F}`, `[2001:db8::1]:5000/repo:tag@sha256:${HEX64F}`],
  ])('%s -> %s (familiar %s)', (input, full, familiar) => {
    const ref = parseReference(input);
    expect(ref.string()).toBe(full);
    expect(String(ref)).toBe(full);
    expect(ref.familiarString()).toBe(familiar);
  });

  it('accepts sha512 digests', () => {
    const d = `sha512:${'f'.repeat(128)}`;
    const ref = parseReference(`xn--7o8h.com/myimage:xn--7o8h.com@${d}`);
    expect(ref.domain).toBe('xn--7o8h.com');
    expect(ref.tag).toBe('xn--7o8h.com');
    expect(ref.digest).toBe(d);
  });

  it('defaultTag: false leaves a bare name untagged', () => {
    const ref = parseReference('busybox', { defaultTag: false });
    expect(ref.tag).toBeUndefined();
    expect(ref.string()).toBe('docker.io/library/busybox');
    expect(ref.withDefaultTag().string()).toBe('docker.io/library/busybox:latest');
    expect(Reference.parseNormalized('busybox').equals(ref)).toBe(true);
  });

  it('does not add a tag to a digest reference', () => {
    expect(parseReference(`foo@${dgst}`).tag).toBeUndefined();
  });

  it('identifier() prefers digest, then tag', () => {
    expect(parseReference('foo:1').identifier()).toBe('1');
    expect(parseReference(`foo:1@${dgst}`).identifier()).toBe(dgst);
    expect(parseReference('foo', { defaultTag: false }).identifier()).toBe('latest');
  });

  it('withTag / withDigest / repository', () => {
    const ref = parseReference('example.com:8000/foo');
    expect(ref.withTag('TAG5').string()).toBe('example.com:8000/foo:TAG5');
    expect(ref.withDigest(dgst).string()).toBe(`example.com:8000/foo:latest@${dgst}`);
    expect(ref.repository().string()).toBe('example.com:8000/foo');
    expect(() => ref.withTag('-foo')).toThrow(HoistError);
    expect(() => ref.withDigest('foo' as never)).toThrow(HoistError);
  });

  it('allows a path of exactly 255 characters but not 256', () => {
    const path255 = `${'a/'.repeat(127)}a`;
    expect(path255.length).toBe(255);
    expect(parseReference(`example.com/${path255}:tag-puts-this-over-max`).path).toBe(path255);
    expect(() => parseReference(`example.com/${path255}b`)).toThrow(/more than 255/);
  });

  it('tags are at most 128 characters', () => {
    expect(parseReference(`foo:${'a'.repeat(128)}`).tag).toHaveLength(128);
  });

  it('like distribution, an invalid host in first position becomes part of the path', () => {
    const ref = parseReference('foo_bar.com/x:1');
    expect(ref.domain).toBe('');
    expect(ref.path).toBe('foo_bar.com/x');
    expect(ref.string()).toBe('foo_bar.com/x:1');
  });

  it('says why an uppercase name fails', () => {
    expect(() => parseReference('docker.io/Foo/bar')).toThrow(/must be lowercase/);
  });
});
