import { describe, expect, test } from 'vitest';
import { basicSecrets, hasUserinfo, MASK, redactText, redactUrl } from '../../src/redact.js';

describe('redactUrl (BuildKit urlutil.RedactCredentials)', () => {
  test.each([
    ['https://user:password@host.tld/this:that', 'https://xxxxx:xxxxx@host.tld/this:that'],
    ['https://user@host.tld/this:that', 'https://xxxxx@host.tld/this:that'],
    ['https://:password@host.tld/this:that', 'https://:xxxxx@host.tld/this:that'],
    ['https://host.tld/this:that', 'https://host.tld/this:that'],
  ])('%s', (input, want) => {
    expect(redactUrl(input)).toBe(want);
  });

  test('text that is not a URL still loses userinfo', () => {
    expect(redactUrl('https://u:S3cret@[bad/x')).toBe('https://xxxxx:xxxxx@[bad/x');
  });
});

describe('redactText', () => {
  test('URL userinfo anywhere in free text', () => {
    expect(redactText('connect https://u:S3cret@h/x failed, and http://tok3n@b too')).toBe(
      'connect https://xxxxx:xxxxx@h/x failed, and http://xxxxx@b too',
    );
  });

  test('reference-style userinfo without a scheme', () => {
    expect(redactText('invalid reference "user:S3cret@host:5000/x:1"')).toBe(`invalid reference "${MASK}:${MASK}@host:5000/x:1"`);
    expect(redactText('pull user:S3cret@reg.example/app')).toBe('pull xxxxx:xxxxx@reg.example/app');
  });

  test('references with a tag and a digest are left alone', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    for (const ref of [`busybox:latest@${digest}`, `host:5000/app:1@${digest}`, 'docker.io/library/busybox:latest', 'me@example.com']) {
      expect(redactText(`image ${ref} here`)).toBe(`image ${ref} here`);
    }
  });

  test('Authorization values, but not challenge parameters', () => {
    expect(redactText('sent Authorization: Basic dXNlcjpTM2NyZXQ= and "authorization":"Bearer eyJhbGci.eyJzdWIi.c2ln"')).toBe(
      'sent Authorization: Basic xxxxx and "authorization":"Bearer xxxxx"',
    );
    const challenge = 'Bearer realm="https://auth.example/token",service="reg"';
    expect(redactText(challenge)).toBe(challenge);
  });

  test('known secrets in any position, also base64 and URL-encoded', () => {
    const secrets = [...basicSecrets('alice', 'p@ss:w0rd/1'), 'identity-token-123'];
    const text = `denied: user alice password p@ss:w0rd/1 (${Buffer.from('alice:p@ss:w0rd/1').toString('base64')}) url-form ${encodeURIComponent('p@ss:w0rd/1')} id identity-token-123`;
    const out = redactText(text, secrets);
    expect(out).not.toContain('w0rd');
    expect(out).not.toContain('identity-token-123');
    expect(out).not.toContain(Buffer.from('alice:p@ss:w0rd/1').toString('base64'));
    expect(out).toContain('user alice password');
  });

  test('very short secrets are not searched for', () => {
    expect(redactText('a cat', ['a'])).toBe('a cat');
  });
});

describe('hasUserinfo', () => {
  test.each([
    ['user:S3cret@host/x:1', true],
    ['user@host/x', true],
    ['user:pw@host', true],
    ['host:5000/x:1', false],
    [`busybox@sha256:${'b'.repeat(64)}`, false],
    [`host/x@sha256:${'b'.repeat(64)}`, false],
    ['[fe80::1%@zone]:5000/repo', false],
  ])('%s -> %s', (ref, want) => {
    expect(hasUserinfo(ref)).toBe(want);
  });
});
