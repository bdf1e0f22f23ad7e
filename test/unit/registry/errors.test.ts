import { describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import {
  connectionFailure,
  parseOciErrors,
  redactText,
  redactUrl,
  scrubError,
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
  test('redactUrl masks userinfo (the one redactor, src/redact.ts)', () => {
    expect(redactUrl('https://user:pa55@reg.example/v2/?x=1')).toBe('https://xxxxx:xxxxx@reg.example/v2/?x=1');
    expect(redactUrl(new URL('http://tok@h:5000/a'))).toBe('http://xxxxx@h:5000/a');
    expect(redactUrl('https://reg.example/v2/')).toBe('https://reg.example/v2/');
  });

  test('redactText masks userinfo from URLs in free text', () => {
    expect(redactText('connect https://u:p@h/x failed, and http://a@b too')).toBe('connect https://xxxxx:xxxxx@h/x failed, and http://xxxxx@b too');
  });

  test('an error body that echoes the credential is scrubbed', () => {
    const basic = Buffer.from('alice:S3cretPass').toString('base64');
    const body = JSON.stringify({ errors: [{ code: 'DENIED', message: `no access for Authorization: Basic ${basic} (password S3cretPass)` }] });
    const e = scrubError(statusError('GET manifest h/app:1', 'h', 403, body), ['S3cretPass', basic]);
    expect(e.message).toContain('DENIED');
    expect(e.message).not.toContain('S3cretPass');
    expect(e.message).not.toContain(basic);
    expect(JSON.stringify(e.ociErrors)).not.toContain('S3cretPass');
  });

  test('a registry that echoes the Basic credential in its error body gets it scrubbed', async () => {
    const password = 'Pw-echoed-9f3a';
    const s = await startServer((req, res) => {
      if (req.headers.authorization === undefined) {
        return void res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      }
      const sent = req.headers.authorization;
      const decoded = Buffer.from(sent.slice('Basic '.length), 'base64').toString();
      const message = `user not allowed: you sent ${JSON.stringify(sent)} raw=${sent.slice('Basic '.length)} decoded=${decoded}`;
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message }] }));
    });
    const c = new RegistryClient({ keychain: staticKeychain({ [s.host]: { kind: 'basic', username: 'bob', password } }), retry: { maxAttempts: 1 } });
    try {
      const err = (await c.getManifest(parseReference(`${s.host}/app:1`)).catch((e: unknown) => e)) as RegistryError;
      expect(err).toBeInstanceOf(RegistryError);
      expect(err.status).toBe(403);
      expect(err.message).toContain('DENIED: user not allowed');
      const shown = `${err.message}\n${err.hint ?? ''}\n${JSON.stringify(err.ociErrors)}`;
      expect(shown).not.toContain(password);
      expect(shown).not.toContain(Buffer.from(`bob:${password}`).toString('base64'));
      expect(c.secrets()).toContain(password);
    } finally {
      await c.close();
      await s.close();
    }
  });

  test('a registry that echoes the identity token and the bearer token it was sent gets both scrubbed', async () => {
    const identity = 'IdentityTok-7c1e-refresh';
    const bearer = 'BearerTok-55aa-access';
    const s = await startServer((req, res, body) => {
      if (req.url?.startsWith('/token')) {
        // The OAuth2 refresh-token grant hoist uses for an identity token.
        const form = new URLSearchParams(body.toString());
        if (form.get('refresh_token') !== identity) return void res.writeHead(401).end();
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: bearer }));
      }
      if (req.headers.authorization === undefined) {
        return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="svc"` }).end();
      }
      const message = `denied: you sent ${JSON.stringify(req.headers.authorization)}, token ${bearer}, refresh token ${identity}`;
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message }] }));
    });
    const c = new RegistryClient({ keychain: staticKeychain({ [s.host]: { kind: 'identity-token', token: identity } }), retry: { maxAttempts: 1 } });
    try {
      const err = (await c.getManifest(parseReference(`${s.host}/app:1`)).catch((e: unknown) => e)) as RegistryError;
      expect(err).toBeInstanceOf(RegistryError);
      expect(err.status).toBe(403);
      expect(err.message).toContain('DENIED: denied: you sent');
      // The server did see both: the grant carried the identity token, the manifest request the bearer.
      expect(s.requests.some((r) => r.headers.authorization === `Bearer ${bearer}`)).toBe(true);
      const shown = `${err.message}\n${err.hint ?? ''}\n${JSON.stringify(err.ociErrors)}`;
      expect(shown).not.toContain(identity);
      expect(shown).not.toContain(bearer);
    } finally {
      await c.close();
      await s.close();
    }
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
