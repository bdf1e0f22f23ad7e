import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, REPO_ROOT, runCli } from '../helpers/cli.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry/index.js';

/** A context whose build would fail at line 2 (no such file): a path check that runs first wins. */
function failingContext(): string {
  const ctx = tempDir('hoist-errctx-');
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY not-there /x\n');
  return ctx;
}

function okContext(): string {
  const ctx = tempDir('hoist-errctx-');
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a /a\n');
  writeFileSync(path.join(ctx, 'a'), 'A');
  return ctx;
}

describe('path mistakes are the user\'s errors, found before the build, and nothing hangs', () => {
  beforeAll(buildCli);

  it('outputs and report files: missing directory, a directory for a file, a file for a layout', async () => {
    const out = tempDir('hoist-errout-');
    const ctx = failingContext();
    writeFileSync(path.join(out, 'file'), 'x');
    const cache = ['--cache-dir', path.join(out, 'cache')];
    const cases: Array<[string[], string]> = [
      [['--output', `type=oci,dest=${path.join(out, 'nodir', 'i.tar')}`], `the directory ${path.join(out, 'nodir')} does not exist`],
      [['--output', `type=docker,dest=${out}`], `${out} is a directory, expected a file`],
      [['--output', `type=oci-layout,dest=${path.join(out, 'file')}`], `${path.join(out, 'file')} is not a directory`],
      [['--output', `type=oci,dest=${path.join(out, 'i.tar')}`, '--metadata-file', out], `--metadata-file ${out}: ${out} is a directory`],
      [['--output', 'type=oci-layout,dest=/proc/hoist-layout'], '/proc does not accept new files'],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['build', ctx, ...args, ...cache]);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toMatch(/\nhint: /);
      expect(r.stderr).not.toContain('not-there');
      expect(r.status).toBe(1);
    }
  });

  it('--cache-dir: a file, a dangling symbolic link, procfs (no spinning), a dangling ~/.cache', async () => {
    const out = tempDir('hoist-errcache-');
    const ctx = okContext();
    const dest = ['--output', `type=oci,dest=${path.join(out, 'i.tar')}`];
    writeFileSync(path.join(out, 'file'), 'x');
    symlinkSync(path.join(out, 'gone'), path.join(out, 'dangling'));
    const home = path.join(out, 'home');
    mkdirSync(home);
    symlinkSync(path.join(out, 'gone-cache'), path.join(home, '.cache'));
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['--cache-dir', path.join(out, 'file')], {}, `${path.join(out, 'file')} is not a directory`],
      [['--cache-dir', path.join(out, 'dangling', 'hoist')], {}, `${path.join(out, 'dangling')} is a symbolic link to ${path.join(out, 'gone')}, which does not exist`],
      [['--cache-dir', '/proc/hoist'], {}, '/proc does not accept new directories'],
      [[], { HOME: '/proc/nonexistent', HOIST_CACHE_DIR: '' }, 'cannot create the blob cache directory /proc/nonexistent/.cache/hoist'],
      [[], { HOME: home, HOIST_CACHE_DIR: '' }, `${path.join(home, '.cache')} is a symbolic link`],
    ];
    for (const [args, env, message] of cases) {
      const r = await runCli(['build', ctx, ...dest, ...args], { env });
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain('--cache-dir DIR or HOIST_CACHE_DIR=DIR');
      expect(r.status).toBe(1);
      expect(r.ms).toBeLessThan(60_000);
    }
  });

  it('a HOME nobody may write, as user nobody: exit 1 with the path, not an internal error', async () => {
    const out = tempDir('hoist-errnobody-');
    const ctx = okContext();
    chmodSync(out, 0o777);
    chmodSync(path.dirname(ctx), 0o755);
    chmodSync(ctx, 0o755);
    const home = path.join(out, 'home');
    mkdirSync(home, { mode: 0o555 });
    chmodSync(home, 0o555);
    const asNobody = process.getuid?.() === 0 ? 65534 : undefined;
    const r = await runCli(['build', ctx, '--output', `type=oci,dest=${path.join(out, 'i.tar')}`], {
      env: { HOME: home, HOIST_CACHE_DIR: '' },
      ...(asNobody === undefined ? {} : { uid: asNobody }),
      cwd: out,
    });
    expect(r.stderr).toContain(`cannot create the blob cache directory ${path.join(home, '.cache', 'hoist')} at ${path.join(home, '.cache')}: permission denied (EACCES)`);
    expect(r.stderr).not.toContain('internal error');
    expect(r.status).toBe(1);
  });

  it('-f names the absolute path it tried and what is there instead', async () => {
    const ctx = okContext();
    const r = await runCli(['build', ctx, '-f', path.join(ctx, 'Dockerfil'), '--output', `type=oci,dest=${path.join(ctx, 'x.tar')}`]);
    expect(r.stderr).toContain(`error: cannot read Dockerfile ${path.join(ctx, 'Dockerfil')}`);
    expect(r.stderr).toContain(`did you mean -f ${path.relative(REPO_ROOT, path.join(ctx, 'Dockerfile'))}?`);
    expect(r.stderr).toContain(`the context is ${ctx}`);
    expect(r.status).toBe(1);
  });

  it('a context that does not exist, and one that is a file, are told apart', async () => {
    const out = tempDir('hoist-errctxpath-');
    writeFileSync(path.join(out, 'file'), 'x');
    const dest = ['--output', `type=oci,dest=${path.join(out, 'i.tar')}`];
    for (const [context, problem] of [['missing', 'does not exist'], ['file', 'is not a directory']] as const) {
      const r = await runCli(['build', path.join(out, context), ...dest]);
      expect(r.stderr).toContain(`error: build context ${path.join(out, context)} ${problem}`);
      expect(r.stderr).toMatch(/\nhint: /);
      expect(r.status).toBe(1);
    }
  });
});

describe('registry problems are found before the build and name the Dockerfile line', () => {
  let plain: RunningRegistry;
  let locked: RunningRegistry;
  beforeAll(async () => {
    buildCli();
    [plain, locked] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd', tls: false })]);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), locked?.stop()]);
  });

  it('--push to a registry that refuses the credentials fails before any step runs', async () => {
    const out = tempDir('hoist-errpush-');
    const home = tempDir('hoist-errhome-');
    const r = await runCli(['build', failingContext(), '--push', '-t', `${locked.host}/app:1`, '--cache-dir', path.join(out, 'cache')], {
      env: { HOME: home, DOCKER_CONFIG: path.join(home, '.docker'), REGISTRY_AUTH_FILE: path.join(home, 'auth.json') },
    });
    expect(r.stderr).toContain(`push to ${locked.host}/app`);
    expect(r.stderr).toContain('401');
    expect(r.stderr).not.toContain('not-there');
    expect(r.status).toBe(1);
    // Nothing was built: no layer reached the cache.
    expect(existsSync(path.join(out, 'cache', 'blobs', 'sha256')) ? readdirSync(path.join(out, 'cache', 'blobs', 'sha256')) : []).toEqual([]);
  });

  it('FROM an image the registry does not have: the line, the status and the OCI code', async () => {
    const ctx = tempDir('hoist-errfrom-');
    writeFileSync(path.join(ctx, 'Dockerfile'), `FROM scratch AS builder\nFROM ${plain.host}/no/such:1\nCOPY --from=builder / /\n`);
    const out = tempDir('hoist-errfromout-');
    const r = await runCli(['build', ctx, '--output', `type=oci,dest=${path.join(out, 'i.tar')}`, '--cache-dir', path.join(out, 'cache')]);
    expect(r.stderr).toContain(`error: ${path.join(ctx, 'Dockerfile')}:2: `);
    expect(r.stderr).toMatch(/(MANIFEST_UNKNOWN|NAME_UNKNOWN)/);
    expect(r.stderr).toContain('HTTP 404');
    expect(r.status).toBe(1);
  });
});
