import type { VolumeInstr } from '../../dockerfile/instructions/types.js';
import { setMapEntry } from '../../oci/map-entry.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleVolume(ctx: StepContext, instr: VolumeInstr): Promise<void> {
  const volumes = (ctx.stage.config.Volumes ??= {});
  for (const path of instr.paths) setMapEntry(volumes, path, {});
  ctx.addHistory(`VOLUME [${instr.paths.join(' ')}]`);
}
