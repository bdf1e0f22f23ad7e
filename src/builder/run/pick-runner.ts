import { mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { findHostTools, probeHost, selectRunner, selectSnapshot, type Isolation, type RunNeeds, type Runner, type SnapshotChoice, type SnapshotRequest } from '../../run/index.js';
import type { BuildPlan, PlannedStage } from '../plan/index.js';

export interface RunnerChoice {
  runner: Runner;
  /** `userns: user namespaces work (...)`, for the build output. */
  reason: string;
  notes: string[];
  /** The snapshotter RUN steps use with this runner (`--snapshot`). */
  snapshot: SnapshotChoice;
}

function isRoot(user: string | undefined): boolean {
  if (user === undefined || user === '') return true;
  const name = user.split(':')[0];
  return name === 'root' || name === '0';
}

/** What the build's RUN steps ask of a runner: a non-root USER somewhere, RUN --network=none somewhere. */
export function runNeeds(plan: BuildPlan, baseUser: (stage: PlannedStage) => string | undefined): RunNeeds {
  let switchIds = false;
  let networkNone = false;
  const needed = plan.stages.filter((s) => s.needed);
  if (!needed.some((s) => s.instructions.some((p) => p.instr.kind === 'RUN'))) return {};
  // A USER in any needed stage counts: a stage built FROM it inherits the user.
  for (const stage of needed) {
    if (!isRoot(baseUser(stage))) switchIds = true;
    for (const { instr } of stage.instructions) {
      if (instr.kind === 'USER' && !isRoot(instr.user)) switchIds = true;
      if (instr.kind === 'RUN' && instr.network === 'none') networkNone = true;
    }
  }
  return { switchIds, networkNone };
}

function invokingUser(euid: number): string {
  try {
    return userInfo().username;
  } catch {
    return String(euid); // a uid without a passwd entry
  }
}

/** Probe this machine once and pick the runner `isolation` asks for (throws a HoistError saying why none works). */
export async function pickRunner(opts: { isolation: Isolation; snapshot?: SnapshotRequest; needs: RunNeeds; toolPath: string | undefined; tmpDir: string }): Promise<RunnerChoice> {
  const tools = findHostTools(opts.toolPath);
  const scratch = path.join(opts.tmpDir, 'runner');
  await mkdir(scratch, { recursive: true });
  const euid = process.geteuid?.() ?? 0;
  const probe = await probeHost({ tools, tmpDir: scratch, euid, user: invokingUser(euid), ...(opts.isolation !== 'auto' ? { only: opts.isolation } : {}) });
  const selection = selectRunner(probe, opts.needs, opts.isolation, { tools, tmpDir: scratch });
  // As createRunner decides it for the chroot runner.
  const mountNamespace = probe.mountNamespace.ok && tools.mount !== undefined;
  return { ...selection, snapshot: selectSnapshot(opts.snapshot ?? 'auto', selection.runner.kind, probe, mountNamespace, opts.tmpDir) };
}
