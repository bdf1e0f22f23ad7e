/**
 * A RUN whose one heredoc starts with `#!` runs as a file, as BuildKit runs
 * it: the body is written (mode 0755) into a directory of the step's own,
 * which the runner mounts read-only at /dev/pipes. /dev is the runner's, so
 * nothing of it reaches the layer.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DockerfileError } from '../../dockerfile/errors.js';
import type { RunInstr } from '../../dockerfile/instructions/types.js';
import type { StepMount } from '../../run/index.js';
import { HEREDOC_SCRIPT_DIR, heredocScript } from '../handlers/run-argv.js';

export interface HeredocScriptMount {
  mounts: StepMount[];
  release(): Promise<void>;
}

const NONE: HeredocScriptMount = { mounts: [], release: () => Promise.resolve() };

export async function prepareHeredocScript(instr: RunInstr, tmpDir: string): Promise<HeredocScriptMount> {
  const script = heredocScript(instr);
  if (script === undefined) return NONE;
  // The terminator names the file: one path component, as BuildKit's path.Join would keep it inside /dev/pipes.
  if (script.name === '.' || script.name === '..' || script.name.includes('/') || script.name.includes('\0')) {
    throw new DockerfileError('RUN_HEREDOC_NAME', `the heredoc ${JSON.stringify(script.name)} starts with #!, so it is run as a file named after it, and that name is not a file name`, instr.location, {
      hint: 'end the heredoc with a plain word such as EOF',
    });
  }
  const dir = await mkdtemp(path.join(tmpDir, 'heredoc-'));
  const release = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const file = path.join(dir, script.name);
    await writeFile(file, script.content, { mode: 0o755, flag: 'wx' });
    // The umask may have taken bits off: BuildKit's Mkfile gives 0755 whatever it is.
    await chmod(file, 0o755);
    await chmod(dir, 0o755);
  } catch (err) {
    await release();
    throw err;
  }
  return { mounts: [{ source: dir, target: HEREDOC_SCRIPT_DIR, readonly: true }], release };
}
