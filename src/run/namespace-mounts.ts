import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DEVICES, type MountOp } from './namespace-setup.js';
import type { ProcessSpec } from './process-spec.js';
import { UnsafeMountpointError, type RootfsScaffold } from './scaffold.js';
import type { NetworkFiles } from './step-env.js';

/**
 * The mounts of a step run in a mount namespace: a tmpfs /dev with the
 * host's null, zero, full, random, urandom and tty bound in, /proc, the
 * network files, and the spec's bind mounts. Their mount points are made in
 * the rootfs through `scaffold` (and removed by its undo).
 */
export async function namespaceMounts(spec: ProcessSpec, scaffold: RootfsScaffold, net: NetworkFiles): Promise<MountOp[]> {
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
  const mounted: string[] = [];
  for (const m of spec.mounts) {
    const kind = m.kind === 'tmpfs' || (await stat(m.source)).isDirectory() ? 'dir' : 'file';
    const target = await scaffold.ensure(m.target, kind);
    // Inside an earlier mount the mount point is made there, once that one is mounted (BuildKit makes it in the source too).
    if (mounted.some((t) => target.startsWith(`${t}/`))) ops.push({ op: kind, target });
    mounted.push(target);
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
