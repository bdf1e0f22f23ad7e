import { posix } from 'node:path';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import type { WorkdirInstr } from '../../dockerfile/instructions/types.js';
import { resolveOwner } from '../copy/owner.js';
import type { StepContext } from '../executor/step-context.js';

/**
 * WORKDIR sets the working directory (relative to the previous one) and, as
 * BuildKit does, creates it (0755, owned by USER) in a layer when it is
 * missing; an existing directory gives a metadata-only step.
 */
export async function handleWorkdir(ctx: StepContext, instr: WorkdirInstr): Promise<void> {
  const path = posix.resolve(ctx.stage.workdir(), instr.path);
  ctx.stage.config.WorkingDir = path;
  const createdBy = `WORKDIR ${path}`;
  const files = await ctx.stage.files();
  const resolved = files.resolve(path, { followFinal: true });
  if (resolved.node?.kind === 'dir') {
    ctx.addHistory(createdBy);
    return;
  }
  const owner = ctx.stage.config.User ? await resolveOwner(ctx.stage.config.User, files) : { uid: 0, gid: 0 };
  const entries: LayerEntry[] = [];
  const parts = resolved.path.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    const existing = files.lstat(dir);
    if (existing?.kind === 'dir') {
      entries.push({ kind: 'dir', path: dir, mode: existing.mode, uid: existing.uid, gid: existing.gid, mtime: existing.mtime });
    } else {
      entries.push({ kind: 'dir', path: dir, mode: 0o755, ...owner, mtime: ctx.createdMtime() });
    }
  }
  await ctx.addLayer(entries, createdBy);
}
