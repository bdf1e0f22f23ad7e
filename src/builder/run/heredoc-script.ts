/**
 * A RUN whose one heredoc starts with `#!` runs as a file, as BuildKit runs
 * it: the body is written (mode 0755) into a directory of the step's own,
 * which the runner mounts read-only at /dev/pipes (prepared with the step's
 * other mounts, and removed with them). /dev is the runner's, so
 * nothing of it reaches the layer.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DockerfileError } from '../../dockerfile/errors.js';
import type { RunInstr } from '../../dockerfile/instructions/types.js';
import type { StepMount } from '../../run/index.js';
import { HEREDOC_SCRIPT_DIR, heredocScript } from '../handlers/run-argv.js';

/** Write the RUN's heredoc script (if it runs as a file) into `dir`, not made yet, and give the mount that shows it at /dev/pipes. */
export async function heredocScriptMount(instr: RunInstr, dir: string): Promise<StepMount | undefined> {
  const script = heredocScript(instr);
  if (script === undefined) return undefined;
  // The terminator names the file: one path component, as BuildKit's path.Join would keep it inside /dev/pipes.
  if (script.name === '.' || script.name === '..' || script.name.includes('/') || script.name.includes('\0')) {
    throw new DockerfileError('RUN_HEREDOC_NAME', `the heredoc ${JSON.stringify(script.name)} starts with #!, so it is run as a file named after it, and that name is not a file name`, instr.location, {
      hint: 'end the heredoc with a plain word such as EOF',
    });
  }
  // Readable by any USER the step runs as; the umask may have taken bits off, and BuildKit's Mkfile gives 0755 whatever it is.
  await mkdir(dir, { mode: 0o755 });
  await chmod(dir, 0o755);
  const file = path.join(dir, script.name);
  await writeFile(file, script.content, { mode: 0o755, flag: 'wx' });
  await chmod(file, 0o755);
  return { source: dir, target: HEREDOC_SCRIPT_DIR, readonly: true };
}
