/**
 * The programs a step's text would run to set owners, found in the image
 * before the step runs, and which of them fakeroot cannot see: a statically
 * linked program (busybox from busybox-static, a Go binary) makes its chown
 * calls itself, and a program linked against another libc (musl) does not
 * read glibc's /etc/ld.so.preload.
 *
 * What is looked at: each owner-setting command the text names, through the
 * step's PATH in the rootfs (as the shell would find it) or by the path
 * written; `busybox chown ...`; and the step's shell, since a static busybox
 * shell runs its chown applet itself, whatever PATH says. Links are followed
 * inside the rootfs, never out of it. A program the step itself installs or
 * links, or one that sets owners without its name in the text, is not seen.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { elfLinkage, findProgramInside } from '../../run/index.js';
import { DEFAULT_PATH } from '../plan/index.js';

/** Commands that set owners other than the caller's, as busybox applets are named too. */
export const OWNER_COMMANDS: ReadonlySet<string> = new Set(['chown', 'chgrp', 'adduser', 'useradd']);

export interface UnrecordableProgram {
  /** As the step names it: `chown`, `/bin/busybox`, or the shell `/bin/sh`. */
  named: string;
  /** The path it is run by: `named` itself, or where PATH finds it, e.g. /usr/local/bin/chown. */
  at: string;
  /** The file it is in the image once links are followed, e.g. /bin/busybox. */
  file: string;
  /** `static`: statically linked; `shell`: the step's shell is a static busybox; `other-libc`: dynamically linked by `interpreter`, not glibc's. */
  why: 'static' | 'shell' | 'other-libc';
  interpreter?: string;
}

export interface StepPrograms {
  rootfs: string;
  /** The command as run: the shell and its `-c` text, or the exec form's argv. */
  argv: readonly string[];
  /** The step's PATH; the shell's default where the step has none. */
  path?: string | undefined;
  /** The step's working directory in the image. */
  cwd?: string | undefined;
}

/** Loaders that are not glibc's: what they load ignores /etc/ld.so.preload. */
const OTHER_LIBC_LOADER = /\/ld-(musl|uClibc)[-.]/;
/** A static binary this large is no busybox: its bytes are not searched. */
const MAX_BUSYBOX_BYTES = 32 << 20;

/** Words of the step's text, split where the shell would split commands and arguments (quotes and redirections included). */
function words(argv: readonly string[]): string[] {
  return argv.join(' ').split(/[\s;&|()`'"<>]+/).filter((w) => w !== '');
}

async function isBusybox(rootfs: string, file: string): Promise<boolean> {
  if (path.posix.basename(file) === 'busybox') return true;
  const abs = path.join(rootfs, file);
  const st = await stat(abs);
  if (st.size > MAX_BUSYBOX_BYTES) return false;
  return (await readFile(abs)).includes('BusyBox v');
}

/**
 * The programs the step would run to set owners that fakeroot cannot see,
 * each once. Call only for a step whose text names an owner-setting command.
 */
export async function unrecordablePrograms(step: StepPrograms): Promise<UnrecordableProgram[]> {
  const searchPath = step.path ?? DEFAULT_PATH;
  const cwd = step.cwd ?? '/';
  const out: UnrecordableProgram[] = [];
  const seen = new Set<string>();
  const w = words(step.argv);
  const names = new Set<string>();
  w.forEach((word, i) => {
    const base = path.posix.basename(word);
    if (OWNER_COMMANDS.has(base)) names.add(word);
    else if (base === 'busybox' && OWNER_COMMANDS.has(w[i + 1] ?? '')) names.add(word);
  });
  for (const name of names) {
    const found = await findProgramInside(step.rootfs, name, searchPath, cwd);
    if (found === undefined || seen.has(found.file)) continue;
    seen.add(found.file);
    const linkage = await elfLinkage(path.join(step.rootfs, found.file));
    if (linkage.kind === 'static') out.push({ named: name, ...found, why: 'static' });
    else if (linkage.kind === 'dynamic' && OTHER_LIBC_LOADER.test(linkage.interpreter)) out.push({ named: name, ...found, why: 'other-libc', interpreter: linkage.interpreter });
  }
  const shell = step.argv[0];
  if (shell !== undefined) {
    const found = await findProgramInside(step.rootfs, shell, searchPath, cwd);
    if (found !== undefined && !seen.has(found.file) && (await elfLinkage(path.join(step.rootfs, found.file))).kind === 'static' && (await isBusybox(step.rootfs, found.file))) {
      out.push({ named: shell, ...found, why: 'shell' });
    }
  }
  return out;
}
