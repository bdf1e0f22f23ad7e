/**
 * Kaniko's executor flags on `hoist build` (issue 10, "Kaniko drop-in"):
 * both `--flag=value` and `--flag value`, booleans as `--flag`,
 * `--flag=true|false` (Go's ParseBool), and their translation into
 * hoist's own build flags.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addKanikoOptions, parseGoBool, translateKanikoFlags, type HoistBuildFlags, type KanikoFlags } from '../../../cmd/kaniko/flags.js';
import { collect } from '../../../cmd/common-options.js';
import { UsageError } from '../../../src/errors.js';

type Flags = HoistBuildFlags & KanikoFlags;

/** The options of `hoist build` that the Kaniko flags meet, then Kaniko's, parsed as the CLI parses them. */
function parse(args: string[]): { context: string; flags: Flags } {
  let got: { context: string; flags: Flags } | undefined;
  const program = new Command().exitOverride();
  const build = program
    .command('build')
    .exitOverride()
    .argument('[context]', '', '.')
    .option('-f, --file <path>')
    .option('-t, --tag <name>', '', collect, [])
    .option('--push')
    .option('-d, --destination <ref>', '', collect, [])
    .option('-o, --output <spec>', '', collect, [])
    .option('--platform <p>')
    .option('--insecure-registry <host>', '', collect, [])
    .option('--digest-file <path>');
  addKanikoOptions(build).action((context: string, flags: Flags) => {
    got = { context, flags };
  });
  program.parse(['node', 'hoist', 'build', ...args]);
  if (!got) throw new Error('no action');
  return got;
}

function translate(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { context, flags } = parse(args);
  return translateKanikoFlags(context, flags, env);
}

describe('Kaniko flags: parsing', () => {
  it("reads booleans as Go's ParseBool does", () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool('--x', t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseGoBool('--x', f)).toBe(false);
    expect(() => parseGoBool('--cache', 'yes')).toThrow(UsageError);
  });

  it('takes a boolean bare, with =true or =false', () => {
    expect(parse(['--cache']).flags.cache).toBe(true);
    expect(parse(['--cache=true']).flags.cache).toBe(true);
    expect(parse(['--cache=false']).flags.cache).toBe(false);
    expect(parse(['--reproducible=1', '--insecure=True']).flags).toMatchObject({ reproducible: true, insecure: true });
    expect(parse([]).flags.cache).toBeUndefined();
  });

  it('--no-push, --no-push=true, --no-push=false and --push mean what they say', () => {
    expect(parse(['--no-push']).flags.push).toBe(false);
    expect(parse(['--no-push=true']).flags.push).toBe(false);
    expect(parse(['--no-push=false']).flags.push).toBe(true);
    expect(parse(['--push']).flags.push).toBe(true);
    expect(parse([]).flags.push).toBeUndefined();
  });

  it('takes values as --flag=value and --flag value, and short -c, -f, -d, -v', () => {
    const a = parse(['--context=/ctx', '--dockerfile=/ctx/Dockerfile', '--destination=r/app:1', '--tar-path=/t.tar', '--verbosity=debug']).flags;
    const b = parse(['-c', '/ctx', '-f', '/ctx/Dockerfile', '-d', 'r/app:1', '--tar-path', '/t.tar', '-v', 'debug']).flags;
    expect(a).toMatchObject({ context: '/ctx', dockerfile: '/ctx/Dockerfile', destination: ['r/app:1'], tarPath: '/t.tar', verbosity: 'debug' });
    expect(b).toMatchObject({ context: '/ctx', file: '/ctx/Dockerfile', destination: ['r/app:1'], tarPath: '/t.tar', verbosity: 'debug' });
  });

  it('refuses a word after a boolean that is not true or false, saying where the context goes', () => {
    expect(() => parse(['--cache', 'somedir'])).toThrow(/--cache takes true or false.*/);
  });
});

describe('Kaniko flags: translation into hoist build', () => {
  it('a GitLab job: context, Dockerfile, destinations, build args and no-op flags with one note each', () => {
    const t = translate([
      '--context', '/builds/g/app',
      '--dockerfile', '/builds/g/app/Dockerfile',
      '--destination', 'registry.gitlab.com/g/app:1.0',
      '--cache=true', '--cache-ttl=24h', '--snapshot-mode=redo', '--single-snapshot', '--use-new-run', '--cleanup',
      '--compressed-caching=false', '--ignore-path=/x', '--skip-unused-stages', '--log-format=text', '--log-timestamp', '--push-retry=3', '--image-fs-extract-retry=2',
    ]);
    expect(t.context).toBe('/builds/g/app');
    expect(t.dockerfile).toBe('/builds/g/app/Dockerfile');
    expect(t.flags).toMatchObject({ destination: ['registry.gitlab.com/g/app:1.0'], tag: [], output: [] });
    expect(t.flags.push).toBeUndefined();
    const noted = t.notes.map((n) => /^note: (--[\w-]+)/.exec(n)?.[1]);
    expect(noted).toEqual(['--compressed-caching', '--single-snapshot', '--snapshot-mode', '--use-new-run', '--cleanup', '--ignore-path', '--skip-unused-stages', '--log-format', '--log-timestamp', '--push-retry', '--image-fs-extract-retry']);
    expect(translate(['-d', 'r/app:1']).notes).toEqual([]);
    // --cache=true with a destination: Kaniko's default cache repository.
    expect(t.flags.cacheRepo).toBe('registry.gitlab.com/g/app/cache');
    expect(translate(['-d', 'r/app:1', '--no-push-cache']).notes).toEqual([]);
    expect(translate(['-d', 'r/app:1', '--no-push-cache']).flags.pushCache).toBe(false);
  });

  it('--cache-repo and --cache-ttl are hoist\'s own; --cache names DESTINATION-REPO/cache only when no repository is given', () => {
    expect(translate(['-d', 'r.example.com/team/app:1', '--cache=true', '--cache-repo', 'c.example.com/shared']).flags.cacheRepo).toBe('c.example.com/shared');
    expect(translate(['-d', 'r.example.com:5000/team/app@sha256:' + 'a'.repeat(64), '--cache']).flags.cacheRepo).toBe('r.example.com:5000/team/app/cache');
    expect(translate(['-d', 'r.example.com/team/app:1']).flags.cacheRepo).toBeUndefined();
    expect(translate(['-d', 'r.example.com/team/app:1', '--cache=false']).flags.cacheRepo).toBeUndefined();
    expect(translate(['--cache', '--no-push']).notes).toEqual(['note: --cache without --cache-repo or --destination changes nothing: hoist caches steps under --cache-dir by default']);
    const t = translate(['-d', 'r/app:1', '--cache-ttl=24h', '--cache-repo=r/cache']);
    expect(t.notes).toEqual([]);
    expect(t.flags.cacheTtl).toBe('24h');
  });

  it('--no-push keeps the destinations as names only; --tar-path and --oci-layout-path become outputs', () => {
    const t = translate(['-d', 'r.example.com/app:1', '--no-push', '--tar-path', '/out/image.tar', '--oci-layout-path', '/out/layout']);
    expect(t.flags).toMatchObject({ push: false, destination: [], tag: ['r.example.com/app:1'], output: ['type=docker,dest=/out/image.tar', 'type=oci-layout,dest=/out/layout'] });
    expect(t.destinations).toEqual(['r.example.com/app:1']);
    expect(translate(['-d', 'r/app:1'], { KANIKO_NO_PUSH: 'true' }).flags.push).toBe(false);
    expect(translate(['-d', 'r/app:1', '--no-push=false'], { KANIKO_NO_PUSH: 'true' }).flags.push).toBe(true);
  });

  it('--insecure and --skip-tls-verify name the destination registries insecure; --skip-tls-verify-registry names one', () => {
    expect(translate(['-d', 'r.example.com:5000/app:1', '-d', 'other.example.com/x', '--insecure']).flags.insecureRegistry).toEqual(['r.example.com:5000', 'other.example.com']);
    expect(translate(['-d', 'r.example.com/app:1', '--skip-tls-verify']).flags.insecureRegistry).toEqual(['r.example.com']);
    expect(translate(['-d', 'r.example.com/app:1']).flags.insecureRegistry).toEqual([]);
    expect(translate(['-d', 'a/b', '--skip-tls-verify-registry', 'x.example.com', '--insecure-registry', 'y.example.com']).flags.insecureRegistry).toEqual(['y.example.com', 'x.example.com']);
    expect(translate(['-d', 'a/b', '--insecure-pull']).insecurePull).toBe(true);
    expect(translate(['-d', 'a/b', '--skip-tls-verify-pull=true']).insecurePull).toBe(true);
    expect(translate(['-d', 'a/b']).insecurePull).toBe(false);
  });

  it('--registry-certificate host=path, mirrors and maps (also from the environment)', () => {
    const t = translate(['-d', 'a/b', '--registry-certificate', 'R.example.com=/certs/r.crt', '--registry-certificate=r.example.com=/certs/r2.crt', '--registry-mirror', 'm1.example.com', '--registry-map', 'quay.io=q.example.com'], {
      KANIKO_REGISTRY_MIRROR: 'm2.example.com',
      KANIKO_REGISTRY_MAP: 'ghcr.io=g.example.com',
    });
    expect(t.hostCaFiles).toEqual({ 'r.example.com': ['/certs/r.crt', '/certs/r2.crt'] });
    expect(t.registryMirrors).toEqual(['m1.example.com', 'm2.example.com']);
    expect(t.registryMaps).toEqual(['quay.io=q.example.com', 'ghcr.io=g.example.com']);
    expect(() => translate(['-d', 'a/b', '--registry-certificate', 'r.example.com'])).toThrow(/expected key=value/);
  });

  it('labels, annotations, --custom-platform, --reproducible and the digest files', () => {
    const t = translate(['-d', 'a/b:1', '--label', 'a=1', '--label=b', '--annotation', 'x=y', '--annotation', 'manifest:z=w', '--custom-platform', 'linux/arm64', '--reproducible', '--iidfile', '/i', '--image-name-with-digest-file', '/n', '--image-name-tag-with-digest-file=/nt']);
    expect(t.labels).toEqual([['a', '1'], ['b', '']]);
    expect(t.annotations).toEqual([['x', 'y'], ['z', 'w']]);
    expect(t.flags.platform).toBe('linux/arm64');
    expect(t.sourceDateEpoch).toBe('0');
    expect(t.files).toEqual({ iidfile: '/i', imageNameWithDigest: '/n', imageNameTagWithDigest: '/nt' });
    expect(translate(['-d', 'a/b']).sourceDateEpoch).toBeUndefined();
  });

  it('refuses what would silently build something else, with a hint', () => {
    const refused = (args: string[]) => {
      try {
        translate(args);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        expect((err as UsageError).hint).toBeTruthy();
        return (err as Error).message;
      }
      throw new Error(`accepted: ${args.join(' ')}`);
    };
    expect(refused(['--annotation', 'index:a=b', '-d', 'a/b'])).toMatch(/index annotations do not apply/);
    expect(refused(['--registry-client-cert', 'r=/c,/k', '-d', 'a/b'])).toMatch(/mutual TLS/);
    expect(refused(['--image-name-with-digest-file', '/n'])).toMatch(/need --destination/);
    expect(refused(['ctx', '--context', 'other'])).toMatch(/two build contexts/);
    expect(refused(['-f', 'A', '--dockerfile', 'B'])).toMatch(/two Dockerfiles/);
    expect(refused(['--platform', 'linux/amd64', '--custom-platform', 'linux/arm64'])).toMatch(/two platforms/);
    expect(refused(['--git', 'depth=1', '-d', 'a/b'])).toMatch(/unknown option "depth"/);
  });

  it('--build-context NAME=docker-image://REF; a directory context is refused with a hint', () => {
    expect(translate(['-d', 'a/b', '--build-context', 'base=docker-image://registry.example.com/base:2']).imageContexts).toEqual([['base', 'registry.example.com/base:2']]);
    expect(() => translate(['-d', 'a/b', '--build-context', 'lib=../lib'])).toThrow(/only images \(docker-image:\/\/REF\)/);
    expect(() => translate(['-d', 'a/b', '--build-context', 'lib'])).toThrow(/expected NAME=docker-image:\/\/REF/);
  });

  it('--git branch=NAME and recurse-submodules', () => {
    expect(translate(['--git', 'branch=release,recurse-submodules=true', '-d', 'a/b']).git).toEqual({ branch: 'release', recurseSubmodules: true });
    expect(translate(['-d', 'a/b'], { GIT_PULL_METHOD: 'http' }).gitPullMethod).toBe('http');
  });
});
