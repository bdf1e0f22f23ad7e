import { DockerfileError } from '../../dockerfile/errors.js';
import type { RunInstr } from '../../dockerfile/instructions/types.js';
import { HoistError } from '../../errors.js';
import type { NetworkMode, RunResult } from '../../run/index.js';
import type { StepContext } from '../executor/step-context.js';
import { resolveRunUser } from '../run/run-user.js';
import { StepOutput } from '../run/step-output.js';
import { explainUnreadable, imageOwnerOf, startOwnerRecording, type OwnerRecording } from '../run/step-owners.js';
import { runArgv } from './run-argv.js';
import { prepareStepMounts } from '../run/mounts/step-mounts.js';
import { makeWorkdir, missingWorkdir } from '../run/missing-workdir.js';

function hoistIds(): { uid: number; gid: number } {
  return { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
}

/** The command as `docker history` shows it. */
function describeRun(argv: readonly string[]): string {
  return `RUN ${argv.join(' ')} # buildkit`;
}

/**
 * RUN: the stage's files on disk (unpacked at its first RUN), the command
 * run there by the build's runner as USER in WORKDIR with the image's
 * environment and the ARGs in scope, and what it changed as a new layer.
 */
export async function handleRun(ctx: StepContext, instr: RunInstr): Promise<void> {
  if (instr.security === 'insecure') {
    throw new DockerfileError('RUN_INSECURE', 'RUN --security=insecure is not allowed: hoist never runs a step with the host\'s privileges', instr.location, {
      hint: 'drop --security=insecure; a step that needs devices or mounts of the host cannot be built by hoist',
    });
  }
  const { env, stage } = ctx;
  // Both at once: the runner probe and the unpack of the stage's layers.
  const [runner, rootfs] = await Promise.all([env.runner(), ctx.ownRootfs()]);
  const argv = runArgv(instr, stage.config.Shell);
  const user = await resolveRunUser(stage.config.User, rootfs.dir).catch((err: unknown) => {
    throw err instanceof HoistError ? new DockerfileError(err.code, err.message, instr.location, err.hint !== undefined ? { hint: err.hint } : {}) : err;
  });
  const cwd = stage.workdir();
  const missing = await missingWorkdir(rootfs.dir, cwd, instr.location);
  const stepEnv: Record<string, string> = Object.fromEntries([...ctx.planned.env, ...env.proxyEnv]);
  stepEnv.HOME ??= user.home;
  const imageOwner = imageOwnerOf(runner.idMap);
  // Mounts are ready before the snapshot's "before" (nothing of them is in the rootfs), and undone after the step.
  const mounts = await prepareStepMounts(ctx, instr, cwd, rootfs.files);
  let recording: OwnerRecording;
  let overlay: Awaited<ReturnType<typeof rootfs.beforeStep>>;
  try {
    overlay = await rootfs.beforeStep(imageOwner);
    if (overlay !== undefined && missing.length > 0) refuseMountInMissingWorkdir(missing[0] as string, mounts.mounts, instr);
    await rootfs.storeOwners(runner);
    if (overlay === undefined) {
      await makeWorkdir(rootfs.dir, missing);
      // proot fakes ids: what hoist made belongs to the image's root, not to the step's USER (changes' `created`).
      if (runner.kind === 'proot') for (const dir of missing) rootfs.recordOwner(dir.slice(1), { uid: 0, gid: 0 });
    }
    recording = await startOwnerRecording({ runner, uid: user.uid, gid: user.gid, rootfs, tmpDir: env.tmpDir, argv, path: stepEnv.PATH, cwd, location: instr.location });
  } catch (err) {
    await mounts.release();
    throw err;
  }
  const output = new StepOutput(ctx.step, env.emit);
  let recorded: Awaited<ReturnType<OwnerRecording['finish']>>;
  const startedAt = Date.now();
  try {
    const result = await runner.run(
      {
        argv,
        env: { ...stepEnv, ...recording.env },
        privateEnv: mounts.env,
        cwd,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups,
        rootfs: rootfs.dir,
        mounts: [...recording.mounts, ...mounts.mounts],
        network: (instr.network ?? 'default') as NetworkMode,
        ...(overlay ? { overlay, ...(missing.length > 0 ? { makeDirs: missing } : {}) } : {}),
      },
      output.io,
      env.signal,
    );
    output.flush();
    if (result.exitCode !== 0) throw runFailed(instr, result, output);
    recorded = await recording.finish();
  } catch (err) {
    await recording.discard();
    throw err;
  } finally {
    await mounts.release();
  }
  await rootfs.afterStep(runner, startedAt);
  // proot only fakes the step's ids: every file it makes belongs to hoist on disk.
  const created = runner.kind === 'proot' ? { onDisk: hoistIds(), owner: { uid: user.uid, gid: user.gid } } : undefined;
  const inodeOwners = recorded?.owners;
  // Attributes set through fakeroot (setcap) are on no disk: held by the rootfs, and their files written.
  const rewritten = recorded?.xattrs !== undefined ? await rootfs.keepStepXattrs(recorded.xattrs) : undefined;
  const changes = await rootfs.changes({ ...(created ? { created } : {}), ...(inodeOwners ? { inodeOwners } : {}), ...(imageOwner ? { imageOwner } : {}), ...(rewritten ? { rewritten } : {}) }).catch((err: unknown) => {
    throw explainUnreadable(err, runner, rootfs.dir, instr.location);
  });
  await ctx.addLayer(changes, describeRun(argv), { fromRootfs: true }).catch((err: unknown) => {
    throw explainUnreadable(err, runner, rootfs.dir, instr.location);
  });
}

/**
 * On an overlay the runner makes a missing working directory on the mount,
 * so that it lands in the step's layer; a RUN mount inside it would have
 * its mount point made in the rootfs below first, and the directory would
 * be missing from the layer. Rare (a step removed the directory, or the
 * base image lacks its WorkingDir): said plainly instead.
 */
function refuseMountInMissingWorkdir(top: string, mounts: readonly { target: string }[], instr: RunInstr): void {
  const inside = mounts.find((m) => m.target === top || m.target.startsWith(`${top}/`));
  if (inside === undefined) return;
  throw new DockerfileError('RUN_WORKDIR_MOUNT', `the working directory ${top} is missing, and the step's mount at ${inside.target} is inside it: with --snapshot overlay hoist cannot make the directory in the step's layer`, instr.location, {
    hint: `make the directory in an earlier step (RUN mkdir -p ${top}, or WORKDIR), or build with --snapshot walk`,
  });
}

function runFailed(instr: RunInstr, result: RunResult, output: StepOutput): DockerfileError {
  const command = instr.command.form === 'exec' ? JSON.stringify(instr.command.argv) : instr.command.command;
  const how = result.signal !== undefined ? `was killed by ${result.signal}` : `failed with exit code ${result.exitCode}`;
  const tail = output.tail();
  return new DockerfileError('RUN_FAILED', `RUN ${command} ${how}${tail === '' ? '' : `\n${tail}`}`, instr.location, {
    hint: tail === '' ? 'the step printed nothing; fix the command or what it depends on' : 'the output above is what the step printed; fix the command or what it depends on',
  });
}
