import { describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import {
  connectionFailure,
  parseOciErrors,
  redactText,
  redactUrl,
  RegistryError,
  statusError,
} from '../../../registry/errors.js';
import { staticKeychain } from '../../../registry/keychain/index.js';
import { HoistError } from '../../../src/errors.js';
import { parseReference } from '../../../src/oci/index.js';
import { startServer } from './local-server.js';

describe('OCI error bodies', () => {
  test('parses codes, messages and details', () => {
    const body = JSON.stringify({
      errors: [
        { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } },
        { code: 'DENIED', message: 'requested access to the resource is denied' },
        { message: 'no code: skipped' },
      ],
    });
    expect(parseOciErrors(body)).toEqual([
      { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } },
      { code: 'DENIED', message: 'requested access to the resource is denied' },
    ]);
  });

  test.each(['', 'not json', '[]', '{"errors":"nope"}', '<html>502</html>'])('non-OCI body %j yields []', (body) => {
    expect(parseOciErrors(body)).toEqual([]);
  });

  test('statusError: message, code, hints by status', () => {
    const e = statusError('GET manifest r/app:1', 'r', 401, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    expect(e).toBeInstanceOf(RegistryError);
    expect(e).toBeInstanceOf(HoistError);
    expect(e.message).toBe('GET manifest r/app:1: UNAUTHORIZED: authentication required (HTTP 401)');
    expect(e.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(e.hint).toBe('run hoist login r or check credentials');
    expect(statusError('x', 'r', 404).hint).toBe('check the name and tag');
    expect(statusError('x', 'r', 404).message).toBe('x: HTTP 404');
    expect(statusError('x', 'r', 403).code).toBe('REGISTRY_DENIED');
    expect(statusError('x', 'r', 429).code).toBe('REGISTRY_TOO_MANY_REQUESTS');
    expect(statusError('x', 'r', 500).code).toBe('REGISTRY_ERROR');
  });
});

describe('credential redaction', () => {
  test('redactUrl drops userinfo', () => {
    expect(redactUrl('https://user:pa55@reg.example/v2/?x=1')).toBe('https://reg.example/v2/?x=1');
    expect(redactUrl(new URL('http://tok@h:5000/a'))).toBe('http://h:5000/a');
    expect(redactUrl('https://reg.example/v2/')).toBe('https://reg.example/v2/');
    expect(redactUrl('not a url //user:pw@host/x')).toBe('not a url //host/x');
  });

  test('redactText drops userinfo from URLs in free text', () => {
    expect(redactText('connect https://u:p@h/x failed, and http://a@b too')).toBe('connect https://h/x failed, and http://b too');
  });

  test('connection failures name the registry but no userinfo', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED for https://me:secret@h/v2/'), { code: 'ECONNREFUSED' });
    const e = connectionFailure('ping h', 'h', cause);
    expect(e.code).toBe('REGISTRY_UNREACHABLE');
    expect(e.message).not.toContain('secret');
    expect(e.message).toContain('cannot reach h');
  });

  test('a token realm with userinfo is never printed with it', async () => {
    const s = await startServer((req, res) => {
      if (req.url?.startsWith('/token')) return void res.writeHead(500).end();
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://leak:hunter2@${req.headers.host}/token",service="x"` }).end();
    });
    const c = new RegistryClient({
      keychain: staticKeychain({ [s.host]: { kind: 'basic', username: 'u', password: 'topsecret' } }),
      retry: { maxAttempts: 1 },
    });
    try {
      const err = (await c.listTags(parseReference(`${s.host}/app`)).catch((e: unknown) => e)) as RegistryError;
      expect(err).toBeInstanceOf(RegistryError);
      const shown = `${err.message} ${err.hint ?? ''}`;
      expect(shown).not.toMatch(/hunter2|topsecret|leak/);
      expect(shown).not.toContain(Buffer.from('u:topsecret').toString('base64'));
      expect(shown).toContain(`http://${s.host}/token`);
    } finally {
      await c.close();
      await s.close();
    }
  });
});
