/**
 * The base images the peer suite maps registry bases to (base-images.ts),
 * pushed to a loopback test registry that both builders pull from: busybox
 * made here with umoci (as debian-image.ts makes Debian, so hoist plays no
 * part in making the base it is compared on), and the cached Debian minbase.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { makeBusyboxRootfs } from '../busybox-rootfs.js';
import { debianMinbaseImage, pushDebianImage } from '../debian-image.js';
import { ensureDebianPackages } from '../packages.js';
import { startRegistry, type RunningRegistry } from '../registry/index.js';
import { rewriteBases, type TestBases } from './base-images.js';
import { execOk } from './exec.js';

/** Docker Hub's busybox /etc/passwd and /etc/group: cases name its users (USER daemon, --chown=www-data). */
const HUB_PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'bin:x:2:2:bin:/bin:/bin/false',
  'sys:x:3:3:sys:/dev:/bin/false',
  'sync:x:4:100:sync:/bin:/bin/sync',
  'mail:x:8:8:mail:/var/spool/mail:/bin/false',
  'www-data:x:33:33:www-data:/var/www:/bin/false',
  'operator:x:37:37:Operator:/var:/bin/false',
  'nobody:x:65534:65534:nobody:/home:/bin/false',
];
const HUB_GROUP = [
  'root:x:0:', 'daemon:x:1:', 'bin:x:2:', 'sys:x:3:', 'adm:x:4:', 'tty:x:5:', 'disk:x:6:', 'lp:x:7:', 'mail:x:8:', 'kmem:x:9:',
  'wheel:x:10:root', 'cdrom:x:11:', 'dialout:x:18:', 'floppy:x:19:', 'video:x:28:', 'audio:x:29:', 'tape:x:32:', 'www-data:x:33:',
  'operator:x:37:', 'utmp:x:43:', 'plugdev:x:46:', 'staff:x:50:', 'lock:x:54:', 'netdev:x:82:', 'users:x:100:', 'nogroup:x:65534:',
];

/** As Docker Hub's busybox and alpine images set it. */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface PeerBases {
  registry: RunningRegistry;
  bases: TestBases;
  /** How long making and pushing them took (ms). */
  setupMs: number;
  stop(): Promise<void>;
}

/** A busybox image (Cmd ["sh"], as Docker Hub's) pushed as HOST/busybox:latest; returns the reference. */
async function pushBusyboxImage(registryHost: string): Promise<string> {
  const work = await mkdtemp(path.join(tmpdir(), 'peer-busybox-'));
  try {
    const ref = `${path.join(work, 'layout')}:latest`;
    const bundle = path.join(work, 'bundle');
    await execOk('umoci', ['init', '--layout', path.join(work, 'layout')]);
    await execOk('umoci', ['new', '--image', ref]);
    await execOk('umoci', ['unpack', '--image', ref, bundle]);
    const rootfs = path.join(bundle, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    // The suite's rootfs has a user of its own (app); the stand-in for Docker Hub's busybox has Hub's users.
    await writeFile(path.join(rootfs, 'etc/passwd'), `${HUB_PASSWD.join('\n')}\n`);
    await writeFile(path.join(rootfs, 'etc/group'), `${HUB_GROUP.join('\n')}\n`);
    await rm(path.join(rootfs, 'home/app'), { recursive: true, force: true });
    await execOk('umoci', ['repack', '--image', ref, bundle]);
    await execOk('umoci', ['config', '--image', ref, '--config.env', `PATH=${IMAGE_PATH}`, '--config.cmd', 'sh']);
    await execOk('umoci', ['gc', '--layout', path.join(work, 'layout')]);
    const dest = `${registryHost}/busybox:latest`;
    await execOk('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${ref}`, `docker://${dest}`], { timeoutMs: 10 * 60_000 });
    return dest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Start a registry and push both bases to it (Debian's debootstrap is cached between runs). */
export async function startPeerBases(): Promise<PeerBases> {
  const started = Date.now();
  await ensureDebianPackages(['umoci', 'skopeo', 'docker-registry', 'busybox-static']);
  const registry = await startRegistry();
  try {
    const [busybox, debian] = await Promise.all([pushBusyboxImage(registry.host), debianMinbaseImage().then((img) => pushDebianImage(img, registry.host))]);
    return { registry, bases: { busybox, debian }, setupMs: Date.now() - started, stop: () => registry.stop() };
  } catch (err) {
    await registry.stop();
    throw err;
  }
}

export interface RewrittenInput {
  dockerfile: string;
  buildArgs: Record<string, string>;
  /** The directory holding the rewritten Dockerfile; the caller removes it. */
  temp: string;
}

/**
 * The case's Dockerfile with its bases pointed at the test registry, written
 * beside no context (the corpus is read-only and shared): a temp directory
 * holding it under its own name, with its own `<name>.dockerignore` if it has
 * one. Both builders are given this file and the unchanged context.
 */
export async function rewriteForTestBases(dockerfile: string, buildArgs: Record<string, string>, bases: TestBases): Promise<RewrittenInput> {
  const r = rewriteBases(await readFile(dockerfile, 'utf8'), buildArgs, bases);
  if (r.unmapped.length > 0) throw new Error(`${dockerfile}: images not mapped to the test bases: ${r.unmapped.join(', ')}`);
  const temp = await mkdtemp(path.join(tmpdir(), 'peer-df-'));
  const dest = path.join(temp, path.basename(dockerfile));
  await writeFile(dest, r.text, { mode: 0o644 });
  if (existsSync(`${dockerfile}.dockerignore`)) await copyFile(`${dockerfile}.dockerignore`, `${dest}.dockerignore`);
  return { dockerfile: dest, buildArgs: r.buildArgs, temp };
}
