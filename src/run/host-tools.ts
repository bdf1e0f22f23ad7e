import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The host commands the runners and probes spawn, by absolute path; a missing one is undefined. */
export interface HostTools {
  sh?: string;
  env?: string;
  unshare?: string;
  nsenter?: string;
  setpriv?: string;
  mount?: string;
  touch?: string;
  mknod?: string;
  newuidmap?: string;
  newgidmap?: string;
  proot?: string;
  bwrap?: string;
  /** GNU cp: RUN mounts copied in and out where no mount can be made. */
  cp?: string;
}

const NAMES: readonly (keyof HostTools)[] = ['sh', 'env', 'unshare', 'nsenter', 'setpriv', 'mount', 'touch', 'mknod', 'newuidmap', 'newgidmap', 'proot', 'bwrap', 'cp'];

/** Directories searched after `searchPath`: a minimal PATH often lacks the sbin ones where mount lives. */
const FALLBACK_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The PATH the tools run with: they must not see the step's PATH or anything else of the step's environment. */
export const TOOL_PATH = FALLBACK_DIRS.join(':');

/** `name` in the usual system directories (TOOL_PATH), or undefined. */
export function findSystemTool(name: string): string | undefined {
  return findExecutable(name, FALLBACK_DIRS);
}

function findExecutable(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Look the tools up in `searchPath` (the caller's PATH) and then in the usual system directories. */
export function findHostTools(searchPath: string | undefined): HostTools {
  const dirs = [...(searchPath ?? '').split(path.delimiter).filter((d) => d !== ''), ...FALLBACK_DIRS];
  const tools: HostTools = {};
  for (const name of NAMES) {
    const found = findExecutable(name, dirs);
    if (found !== undefined) tools[name] = found;
  }
  return tools;
}
