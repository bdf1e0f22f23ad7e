import { chmod, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';
import { DEVICES, fstabText, type MountOp } from './namespace-setup.js';
import { kernelPath, type ProcessSpec } from './process-spec.js';
import { UnsafeMountpointError, type RootfsScaffold, type SourceScaffolds } from './scaffold.js';
import type { NetworkFiles } from './step-env.js';

/**
 * The mounts of a step run in a mount namespace: a tmpfs /dev with the
 * host's null, zero, full, random, urandom and tty bound in and a devpts of
 * its own (ptys: apt's term.log, script, expect), /proc, the
 * network files, and the spec's mounts. Their mount points are made in
 * the rootfs through `scaffold` (and removed by its undo); a mount point
 * inside a bind is made in that bind's source through `sources`.
 *
 * Each mount or file a setup script makes costs a process: /dev's files
 * come from a skeleton made here (one `cp`), and the binds every step gets
 * are made by one `mount -a`.
 */
export async function namespaceMounts(spec: ProcessSpec, scaffold: RootfsScaffold, net: NetworkFiles, sources: SourceScaffolds): Promise<{ ops: MountOp[]; proc: string }> {
  const ops: MountOp[] = [];
  const dev = await scaffold.ensure('dev', 'dir');
  ops.push({ op: 'tmpfs', target: dev, options: 'nosuid,mode=755' });
  ops.push({ op: 'populate', source: await devSkeleton(net.dir), target: dev });
  ops.push({ op: 'devpts', target: path.join(dev, 'pts') });
  const binds = DEVICES.map((d) => ({ source: `/dev/${d.name}`, target: path.join(dev, d.name), readonly: false }));
  for (const f of net.files) {
    try {
      binds.push({ source: f.copy, target: await scaffold.ensure(f.target, 'file'), readonly: false });
    } catch (err) {
      // An image whose resolv.conf is a symlink (to systemd-resolved's, say) keeps its own.
      if (!(err instanceof UnsafeMountpointError)) throw err;
    }
  }
  const fstab = path.join(net.dir, 'fstab');
  await writeFile(fstab, fstabText(binds));
  ops.push({ op: 'fstab', file: fstab });
  // Mounted last, from inside the step's own PID namespace (namespace-setup.ts says why).
  const proc = await scaffold.ensure('proc', 'dir');
  // /dev is this tmpfs: a mount below it (a heredoc script at /dev/pipes) gets its mount point there.
  const mounted: { target: string; source?: string }[] = [{ target: dev }];
  for (const m of spec.mounts) {
    refuseKernelTarget(m.target);
    const kind = m.kind === 'tmpfs' || (await stat(m.source)).isDirectory() ? 'dir' : 'file';
    const target = await scaffold.ensure(m.target, kind, { keepUsed: 'parents' });
    const outer = mounted.filter((o) => target.startsWith(`${o.target}/`)).at(-1);
    if (outer?.source !== undefined) {
      // Inside a bind the mount point is made in its source (which may be read-only for the step), never through a link there.
      await sources.of(outer.source).ensure(path.relative(outer.target, target), kind);
    } else if (outer !== undefined) {
      ops.push({ op: kind, target }); // inside a tmpfs, once it is mounted
    }
    mounted.push(m.kind === 'tmpfs' ? { target } : { target, source: m.source });
    if (m.kind === 'tmpfs') {
      // As BuildKit mounts a tmpfs: anyone may write, nothing runs setuid from it.
      const size = m.sizeBytes !== undefined ? `,size=${m.sizeBytes}` : '';
      ops.push({ op: 'tmpfs', target, options: `nosuid,nodev,mode=1777${size}` });
    } else {
      ops.push({ op: 'bind', source: m.source, target, readonly: m.readonly === true });
    }
  }
  return { ops, proc };
}

/**
 * A step's mount may not land on /proc or /sys or below them: mount(8)
 * follows the links there (/proc/1/root is a process's root), which lead
 * out of the rootfs; nor on / itself, which would hide the rootfs. The
 * builder refuses such targets at the RUN's line (step-mounts.ts); this is
 * the runner's own guard.
 */
function refuseKernelTarget(target: string): void {
  if (kernelPath(target)) {
    throw new HoistError('RUN_MOUNT_TARGET', `a RUN mount may not be made on / or under /proc or /sys: ${target}`);
  }
}

/**
 * What the step's /dev tmpfs starts with, in the step's scratch dir: an
 * empty file for each device bound over it, the fd links, pts with the
 * ptmx link into it (runc's), and shm (sticky and writable by all, as
 * Docker's).
 */
async function devSkeleton(scratch: string): Promise<string> {
  const dir = path.join(scratch, 'dev');
  // `cp -a` gives /dev the skeleton's modes too, set whatever hoist's umask: 0755, or a non-root USER could not reach /dev/null;
  // shm 1777 as Docker's tmpfs, for the POSIX semaphores and shared memory of a non-root USER (Python's multiprocessing).
  for (const [d, mode] of [[dir, 0o755], [path.join(dir, 'pts'), 0o755], [path.join(dir, 'shm'), 0o1777]] as const) {
    await mkdir(d);
    await chmod(d, mode);
  }
  for (const d of DEVICES) await writeFile(path.join(dir, d.name), '');
  await symlink('/proc/self/fd', path.join(dir, 'fd'));
  await symlink('pts/ptmx', path.join(dir, 'ptmx'));
  for (const [i, name] of ['stdin', 'stdout', 'stderr'].entries()) await symlink(`/proc/self/fd/${i}`, path.join(dir, name));
  return dir;
}
