import { HoistError } from '../../errors.js';
import type { StageFiles } from '../../../snapshot/stage-files.js';

export interface Owner {
  uid: number;
  gid: number;
}

function parseIdFile(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  return undefined;
}

async function readOptional(view: StageFiles, file: string): Promise<string | undefined> {
  const node = view.stat(file);
  if (node?.kind !== 'file') return undefined;
  return (await view.readFile(file)).toString('utf8');
}

async function lookup(view: StageFiles, name: string, file: '/etc/passwd' | '/etc/group'): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const text = await readOptional(view, file);
  const id = text === undefined ? undefined : parseIdFile(text, name);
  if (id === undefined) {
    const what = file === '/etc/passwd' ? 'user' : 'group';
    throw new HoistError('UNKNOWN_USER', `unable to find ${what} ${name}: no matching entries in ${what === 'user' ? 'passwd' : 'group'} file`, {
      hint: text === undefined ? `the stage has no ${file}; use a numeric id instead` : `add ${name} to ${file} in an earlier step, or use a numeric id`,
    });
  }
  return id;
}

/**
 * `user[:group]` with names looked up in the stage's /etc/passwd and
 * /etc/group. As Docker documents, a user without a group uses the user's
 * numeric id as the group id.
 */
export async function resolveOwner(spec: string, view: StageFiles): Promise<Owner> {
  const colon = spec.indexOf(':');
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? undefined : spec.slice(colon + 1);
  if (user === '') throw new HoistError('BAD_CHOWN', `invalid user ${JSON.stringify(spec)}`, { hint: 'write user[:group], e.g. 1000:1000 or app:app' });
  const uid = await lookup(view, user, '/etc/passwd');
  const gid = group === undefined || group === '' ? uid : await lookup(view, group, '/etc/group');
  return { uid, gid };
}
