import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { preflightBuild } from '../../../src/builder/preflight.js';
import { FileSystemError } from '../../../src/fs-errors.js';
import { HoistError } from '../../../src/errors.js';
import { parseReference } from '../../../src/oci/index.js';
import { tempDir } from '../../helpers/build.js';

async function problem(opts: Parameters<typeof preflightBuild>[0]): Promise<FileSystemError> {
  const err = await preflightBuild(opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FileSystemError);
  return err as FileSystemError;
}

describe('preflightBuild', () => {
  it('accepts writable destinations and creates nothing', async () => {
    const root = tempDir('hoist-preflight-');
    await preflightBuild({
      outputs: [
        { type: 'oci', dest: path.join(root, 'image.tar') },
        { type: 'oci-layout', dest: path.join(root, 'new', 'layout') },
        { type: 'docker', dest: '-' },
      ],
      digestFile: path.join(root, 'digest'),
      metadataFile: path.join(root, 'meta.json'),
    });
    expect(readdirSync(root)).toEqual([]);
  });

  it('names each path mistake', async () => {
    const root = tempDir('hoist-preflight-');
    writeFileSync(path.join(root, 'file'), 'x');
    mkdirSync(path.join(root, 'dir'));
    symlinkSync(path.join(root, 'gone', 'digest'), path.join(root, 'dangling'));

    const missing = await problem({ outputs: [{ type: 'oci', dest: path.join(root, 'nodir', 'image.tar') }] });
    expect(missing.code).toBe('FS_NOT_FOUND');
    expect(missing.message).toBe(`--output type=oci,dest=${path.join(root, 'nodir', 'image.tar')}: the directory ${path.join(root, 'nodir')} does not exist`);

    const isDir = await problem({ outputs: [{ type: 'docker', dest: path.join(root, 'dir') }] });
    expect(isDir.code).toBe('FS_IS_A_DIRECTORY');

    const layoutOnFile = await problem({ outputs: [{ type: 'oci-layout', dest: path.join(root, 'file') }] });
    expect(layoutOnFile.code).toBe('FS_NOT_A_DIRECTORY');

    const metadataDir = await problem({ outputs: [], metadataFile: path.join(root, 'dir') });
    expect(metadataDir.message).toContain('--metadata-file');
    expect(metadataDir.hint).toContain('metadata.json');

    // A dangling link is written through (its target is created), so the target's directory must exist.
    const dangling = await problem({ outputs: [], digestFile: path.join(root, 'dangling') });
    expect(dangling.code).toBe('FS_NOT_FOUND');
    expect(dangling.message).toContain(`the directory ${path.join(root, 'gone')} does not exist`);

    const proc = await problem({ outputs: [{ type: 'oci-layout', dest: '/proc/hoist-layout' }] });
    expect(proc.code).toBe('FS_CANNOT_CREATE');
  });

  it('asks every push repository once, after the outputs', async () => {
    const root = tempDir('hoist-preflight-');
    const asked: string[] = [];
    await preflightBuild({
      outputs: [{ type: 'oci', dest: path.join(root, 'x.tar') }],
      pushTargets: ['localhost:5000/app:1', 'localhost:5000/app:2', 'localhost:5000/other:1'].map((t) => parseReference(t)),
      checkPush: async (ref) => {
        asked.push(`${ref.domain}/${ref.path}`);
      },
    });
    expect(asked).toEqual(['localhost:5000/app', 'localhost:5000/other']);
    const refused = new HoistError('REGISTRY_DENIED', 'push to localhost:5000/app: DENIED');
    await expect(
      preflightBuild({ outputs: [], pushTargets: [parseReference('localhost:5000/app:1')], checkPush: () => Promise.reject(refused) }),
    ).rejects.toBe(refused);
  });
});
