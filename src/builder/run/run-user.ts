import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../../errors.js';

/** Who a RUN step runs as: ids, supplementary groups, and the HOME Docker gives it. */
export interface RunUser {
  uid: number;
  gid: number;
  groups: number[];
  home: string;
}

/** A regular file of the rootfs as text; a symlink is not followed (it could point out of the rootfs). */
async function readRootfsText(rootfs: string, file: string): Promise<string | undefined> {
  const abs = path.join(rootfs, file);
  const st = await lstat(abs).catch(() => undefined);
  if (st === undefined || !st.isFile()) return undefined;
  return readFile(abs, 'utf8');
}

function rows(text: string | undefined): string[][] {
  return (text ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

const NUMERIC = /^\d+$/;

/**
 * USER as Docker resolves it for a process: `user[:group]`, names through the
 * rootfs's /etc/passwd and /etc/group. A user's group defaults to its
 * primary group in passwd (0 for a uid passwd does not list); supplementary
 * groups are the groups that list the user, unless a group was named.
 */
export async function resolveRunUser(spec: string | undefined, rootfs: string): Promise<RunUser> {
  if (spec === undefined || spec === '') {
    // No USER: root, with root's HOME and groups if passwd lists it, and without a passwd file too (FROM scratch).
    const listed = await resolveRunUser('0', rootfs);
    return { ...listed, gid: 0 };
  }
  const value = spec;
  const colon = value.indexOf(':');
  const user = colon < 0 ? value : value.slice(0, colon);
  const group = colon < 0 ? undefined : value.slice(colon + 1);
  const passwd = rows(await readRootfsText(rootfs, 'etc/passwd'));
  const groupRows = rows(await readRootfsText(rootfs, 'etc/group'));
  const entry = NUMERIC.test(user) ? passwd.find((r) => r[2] === user) : passwd.find((r) => r[0] === user);
  if (entry === undefined && !NUMERIC.test(user)) {
    throw new HoistError('UNKNOWN_USER', `unable to find user ${user}: no matching entries in passwd file`, {
      hint: `add ${user} to /etc/passwd in an earlier step, or use a numeric id (USER 1000:1000)`,
    });
  }
  const uid = Number(entry?.[2] ?? user);
  let gid = entry !== undefined && NUMERIC.test(entry[3] ?? '') ? Number(entry[3]) : 0;
  if (group !== undefined && group !== '') {
    const g = NUMERIC.test(group) ? undefined : groupRows.find((r) => r[0] === group);
    if (g === undefined && !NUMERIC.test(group)) {
      throw new HoistError('UNKNOWN_USER', `unable to find group ${group}: no matching entries in group file`, {
        hint: `add ${group} to /etc/group in an earlier step, or use a numeric id`,
      });
    }
    gid = Number(g?.[2] ?? group);
  }
  const name = entry?.[0];
  const groups =
    group !== undefined || name === undefined
      ? []
      : groupRows.filter((r) => (r[3] ?? '').split(',').includes(name) && NUMERIC.test(r[2] ?? '')).map((r) => Number(r[2])).filter((g) => g !== gid);
  return { uid, gid, groups: [...new Set(groups)], home: entry?.[5] || (uid === 0 ? '/root' : '/') };
}
