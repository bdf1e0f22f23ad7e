import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DEVICES, type MountOp } from './namespace-setup.js';
import type { ProcessSpec } from './process-spec.js';
import { UnsafeMountpointError, type RootfsScaffold, type SourceScaffolds } from './scaffold.js';
import type { NetworkFiles } from './step-env.js';

/**
 * The mounts of a step run in a mount namespace: a tmpfs /dev with the
 * host's null, zero, full, random, urandom and tty bound in, /proc, the
 * network files, and the spec's mounts. Their mount points are made in
 * the rootfs through `scaffold` (and removed by its undo); a mount point
 * inside a bind is made in that bind's source through `sources`.
 */
export async function namespaceMounts(spec: ProcessSpec, scaffold: RootfsScaffold, net: NetworkFiles, sources: SourceScaffolds): Promise<MountOp[]> {
  const ops: MountOp[] = [];
  const dev = await scaffold.ensure('dev', 'dir');
  ops.push({ op: 'tmpfs', target: dev, options: 'nosuid,mode=755' });
  for (const d of DEVICES) ops.push({ op: 'device', source: `/dev/${d.name}`, target: path.join(dev, d.name) });
  ops.push({ op: 'link', value: '/proc/self/fd', target: path.join(dev, 'fd') });
  for (const [i, name] of ['stdin', 'stdout', 'stderr'].entries()) ops.push({ op: 'link', value: `/proc/self/fd/${i}`, target: path.join(dev, name) });
  ops.push({ op: 'dir', target: path.join(dev, 'pts') }, { op: 'dir', target: path.join(dev, 'shm') });
  ops.push({ op: 'proc', target: await scaffold.ensure('proc', 'dir') });
  for (const f of net.files) {
    try {
      ops.push({ op: 'bind', source: f.copy, target: await scaffold.ensure(f.target, 'file'), readonly: false });
    } catch (err) {
      // An image whose resolv.conf is a symlink (to systemd-resolved's, say) keeps its own.
      if (!(err instanceof UnsafeMountpointError)) throw err;
    }
  }
  // /dev is this tmpfs: a mount below it (a heredoc script at /dev/pipes) gets its mount point there.
  const mounted: { target: string; source?: string }[] = [{ target: dev }];
  for (const m of spec.mounts) {
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
  return ops;
}
