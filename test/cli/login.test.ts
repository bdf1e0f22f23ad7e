import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, runCli } from '../helpers/cli.js';
import { freePort, startRegistry, type RunningRegistry } from '../helpers/registry/index.js';

function home(): { env: Record<string, string>; config: string } {
  const dir = tempDir('hoist-home-');
  return { env: { DOCKER_CONFIG: path.join(dir, '.docker'), HOME: dir }, config: path.join(dir, '.docker', 'config.json') };
}

describe('hoist login checks the credentials before storing them', () => {
  let basic: RunningRegistry;
  let token: RunningRegistry;
  beforeAll(async () => {
    buildCli();
    [basic, token] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startRegistry({ auth: 'token' })]);
  });
  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop()]);
  });

  const login = (reg: RunningRegistry, password: string, env: Record<string, string>) =>
    runCli(['login', reg.host, '-u', reg.username as string, '--password-stdin', ...(reg.caCertFile ? ['--registry-ca', reg.caCertFile] : [])], {
      input: `${password}\n`,
      env,
    });

  for (const kind of ['htpasswd (basic auth over TLS)', 'token server (bearer)'] as const) {
    const reg = (): RunningRegistry => (kind.startsWith('htpasswd') ? basic : token);

    it(`${kind}: a wrong password is refused and nothing is stored`, async () => {
      const h = home();
      const r = await login(reg(), 'not-the-password', h.env);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`error: ${reg().host} refused the username or password`);
      expect(r.stderr).toContain('nothing was stored');
      expect(r.stderr).not.toContain('Login Succeeded');
      expect(r.stderr).not.toContain('not-the-password');
      expect(existsSync(h.config)).toBe(false);
    });

    it(`${kind}: the right password logs in and is stored as docker does`, async () => {
      const h = home();
      const r = await login(reg(), reg().password as string, h.env);
      expect(r.stderr).toContain('Login Succeeded');
      expect(r.status).toBe(0);
      const config = JSON.parse(readFileSync(h.config, 'utf8'));
      expect(config.auths[reg().host].auth).toBe(Buffer.from(`${reg().username}:${reg().password}`).toString('base64'));
      expect((await runCli(['logout', reg().host], { env: h.env })).status).toBe(0);
      expect(JSON.parse(readFileSync(h.config, 'utf8')).auths[reg().host]).toBeUndefined();
    });
  }

  it('a registry that is down: a clear error, nothing stored', async () => {
    const h = home();
    const host = `127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const r = await runCli(['login', host, '-u', 'me', '--password-stdin'], { input: 's3cret\n', env: h.env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot reach ${host}`);
    expect(r.stderr).not.toContain('Login Succeeded');
    expect(existsSync(h.config)).toBe(false);
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
