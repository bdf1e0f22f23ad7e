/**
 * A Debian minbase base image, made as ../shared/TESTBED.md says: the
 * host's suite from the host's own apt mirror with `debootstrap
 * --variant=minbase`, packed by umoci (as root, so owners are kept: _apt's
 * directories, shadow's group) into an OCI layout. Its sources.list points at
 * that mirror, so `RUN apt-get update && apt-get install` works in a build.
 *
 * The layout is cached between runs outside the test run's TMPDIR, keyed by
 * suite and architecture: made in a temp directory beside it and renamed into
 * place, so a killed run leaves no half cache, under a lock file so that
 * concurrent test files do not both debootstrap.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { withFileLock } from '../../src/oci/file-lock.js';
import { ensureDebianPackages } from './packages.js';
import { execOk } from './peers/exec.js';

/** The tag of the image in the cached layout (and the name it is pushed under, with the suite as tag). */
export const DEBIAN_REPO = 'debian';

/** The version of makeImage's recipe, part of the cache key. */
const RECIPE = 2;

/**
 * apt settings of the official Debian images (debuerreotype's): no .deb files
 * or package caches kept after an install, no translations, compressed
 * indexes. A RUN apt-get layer then holds the packages and little else.
 */
const APT_CONF: Record<string, string> = {
  'docker-clean': [
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
    'Dir::Cache::pkgcache "";',
    'Dir::Cache::srcpkgcache "";',
    '',
  ].join('\n'),
  'docker-no-languages': 'Acquire::Languages "none";\n',
  'docker-gzip-indexes': 'Acquire::GzipIndexes "true";\n',
  'docker-autoremove-suggests': 'Apt::AutoRemove::SuggestsImportant "false";\n',
};

/** As the official Debian images set it. */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface DebianSource {
  /** e.g. http://deb.debian.org/debian */
  mirror: string;
  /** e.g. bookworm */
  suite: string;
  /** dpkg's architecture name, e.g. amd64 */
  arch: string;
}

export interface DebianImage extends DebianSource {
  /** The OCI layout holding the image under the tag `suite`. */
  layout: string;
  /** `oci:LAYOUT:SUITE`, as skopeo and umoci name it. */
  ociRef: string;
  /** How long making it took in this call: 0 when it came from the cache. */
  buildMs: number;
}

/** Where test caches that outlive a test run live: $HOIST_TEST_CACHE, or ~/.cache/hoist-test. */
export function testCacheDir(): string {
  return process.env.HOIST_TEST_CACHE ?? path.join(homedir(), '.cache', 'hoist-test');
}

/**
 * The mirror and suite this machine's apt uses: the first `deb` entry of
 * /etc/apt/sources.list.d/debian.sources (deb822) or /etc/apt/sources.list
 * whose suite is the release itself (not -updates or -security).
 */
export function hostDebianSource(): DebianSource {
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const codename = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
  const candidates: { mirror: string; suites: string[] }[] = [];
  const deb822 = '/etc/apt/sources.list.d/debian.sources';
  if (existsSync(deb822)) {
    for (const stanza of readFileSync(deb822, 'utf8').split(/\n\s*\n/)) {
      const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      if (!field('Types').includes('deb')) continue;
      for (const uri of field('URIs')) candidates.push({ mirror: uri, suites: field('Suites') });
    }
  }
  const list = '/etc/apt/sources.list';
  if (existsSync(list)) {
    for (const line of readFileSync(list, 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m) candidates.push({ mirror: m[1] as string, suites: [m[2] as string] });
    }
  }
  for (const c of candidates) {
    const suite = c.suites.find((s) => (codename === undefined ? !s.includes('-') : s === codename));
    if (suite !== undefined) return { mirror: c.mirror.replace(/\/+$/, ''), suite, arch };
  }
  throw new Error(`no Debian mirror for ${codename ?? 'this release'} in ${deb822} or ${list}: the Debian base image needs one`);
}

/** The cached Debian minbase image, made on first use (minutes: debootstrap downloads about 60 MB). */
export async function debianMinbaseImage(): Promise<DebianImage> {
  const source = hostDebianSource();
  // RECIPE names what makeImage does: a change to it makes a new cache entry instead of reusing an old image.
  const key = `debian-${source.suite}-${source.arch}-minbase-${RECIPE}`;
  const cache = testCacheDir();
  const layout = path.join(cache, key);
  const image = (buildMs: number): DebianImage => ({ ...source, layout, ociRef: `oci:${layout}:${source.suite}`, buildMs });
  if (existsSync(path.join(layout, 'index.json'))) return image(0);

  await ensureDebianPackages(['debootstrap', 'umoci']);
  await mkdir(cache, { recursive: true });
  // debootstrap takes a minute or two, more under load: wait long for another process that makes it.
  return withFileLock(
    path.join(cache, `${key}.lock`),
    `the test cache ${layout}`,
    async () => {
      if (existsSync(path.join(layout, 'index.json'))) return image(0);
      // Only the lock's holder makes this image: a temp directory left by a killed run is garbage, and so is an image of an older recipe.
      const family = key.replace(/-\d+$/, '-');
      for (const name of await readdir(cache)) {
        const older = name.startsWith(family) && name !== key && !name.endsWith('.lock');
        if (name.startsWith(`.${key}.`) || older) await rm(path.join(cache, name), { recursive: true, force: true });
      }
      const tmp = path.join(cache, `.${key}.${process.pid}`);
      const started = Date.now();
      try {
        await makeImage(source, tmp);
        await rename(path.join(tmp, 'layout'), layout);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return image(Date.now() - started);
    },
    { waitMs: 30 * 60_000 },
  );
}

async function makeImage(source: DebianSource, tmp: string): Promise<void> {
  const layout = path.join(tmp, 'layout');
  const bundle = path.join(tmp, 'bundle');
  const ref = `${layout}:${source.suite}`;
  await mkdir(tmp, { recursive: true });
  await execOk('umoci', ['init', '--layout', layout]);
  await execOk('umoci', ['new', '--image', ref]);
  await execOk('umoci', ['unpack', '--image', ref, bundle]);
  const rootfs = path.join(bundle, 'rootfs');
  await execOk('debootstrap', ['--variant=minbase', `--arch=${source.arch}`, source.suite, rootfs, source.mirror], {
    timeoutMs: 20 * 60_000,
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  // What a container image does not carry (as the official images): the host's
  // resolver and name (a runner or the container engine provides them), device
  // nodes, and apt's downloaded lists.
  await rm(path.join(rootfs, 'etc/resolv.conf'), { force: true });
  await writeFile(path.join(rootfs, 'etc/hostname'), 'localhost\n');
  for (const dir of ['dev', 'var/lib/apt/lists', 'var/cache/apt/archives']) {
    for (const name of await readdir(path.join(rootfs, dir))) {
      if (name !== 'partial' && name !== 'lock') await rm(path.join(rootfs, dir, name), { recursive: true, force: true });
    }
  }
  for (const name of await readdir(path.join(rootfs, 'var/cache/apt'))) if (name.endsWith('.bin')) await rm(path.join(rootfs, 'var/cache/apt', name));
  for (const [name, text] of Object.entries(APT_CONF)) await writeFile(path.join(rootfs, 'etc/apt/apt.conf.d', name), text);
  // debootstrap wrote `deb MIRROR SUITE main`; the check keeps that promise visible.
  const sources = readFileSync(path.join(rootfs, 'etc/apt/sources.list'), 'utf8');
  if (!sources.includes(`deb ${source.mirror} ${source.suite} main`)) throw new Error(`debootstrap wrote an unexpected sources.list:\n${sources}`);
  await execOk('umoci', ['repack', '--image', ref, bundle], { timeoutMs: 20 * 60_000 });
  await execOk('umoci', [
    'config', '--image', ref,
    '--config.env', `PATH=${IMAGE_PATH}`,
    '--config.cmd', 'bash',
  ]);
  await execOk('umoci', ['gc', '--layout', layout]);
}

/** Copy the cached image to `registryHost` (plain HTTP) as `debian:SUITE`; returns the reference. */
export async function pushDebianImage(image: DebianImage, registryHost: string): Promise<string> {
  await ensureDebianPackages(['skopeo']);
  const ref = `${registryHost}/${DEBIAN_REPO}:${image.suite}`;
  await execOk('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', image.ociRef, `docker://${ref}`], { timeoutMs: 10 * 60_000 });
  return ref;
}
