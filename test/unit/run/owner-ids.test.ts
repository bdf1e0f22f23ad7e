/**
 * The pure parts of owner recording: how ids on disk read in the image
 * (id maps), which maps leave the kernel unable to store other owners, and
 * fakeroot's save file turned into the owners a step set.
 */
import { describe, expect, it } from 'vitest';
import { imageId, isIdentity, mapsRootOnly, parseSaved, rootOnly, type IdMap } from '../../../src/run/index.js';
import { imageOwnerOf } from '../../../src/builder/run/step-owners.js';

describe('id maps', () => {
  const ranged: IdMap = {
    uid: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
    gid: [{ inside: 0, outside: 1001, count: 1 }, { inside: 1, outside: 100000, count: 65536 }],
  };

  it('turns ids on disk back into the ids the step had, and leaves unmapped ids alone', () => {
    expect([1001, 100000, 100999, 165535, 165536, 0, 42].map((id) => imageId(ranged.uid, id))).toEqual([0, 1, 1000, 65536, 165536, 0, 42]);
    expect(imageOwnerOf(ranged)?.(100999, 1001)).toEqual({ uid: 1000, gid: 0 });
    expect(imageOwnerOf(undefined)).toBeUndefined();
  });

  it('knows when only root is mapped, to an id that is not root on disk', () => {
    expect(mapsRootOnly(rootOnly({ uid: 65534, gid: 65534 }))).toBe(true);
    expect(mapsRootOnly(rootOnly({ uid: 0, gid: 0 }))).toBe(false);
    expect(mapsRootOnly(ranged)).toBe(false);
    expect(mapsRootOnly(undefined)).toBe(false);
    expect(isIdentity(rootOnly({ uid: 0, gid: 0 }))).toBe(true);
    expect(isIdentity(rootOnly({ uid: 0, gid: 5 }))).toBe(false);
  });
});

describe("faked's save file", () => {
  const saved = [
    'dev=fe00,ino=4260394,mode=100644,uid=7,gid=8,nlink=1,rdev=0',
    'dev=fe00,ino=4260633,mode=40755,uid=1000,gid=1000,nlink=3,rdev=0',
    'dev=10300,ino=12,mode=40000,uid=0,gid=0,nlink=2,rdev=0',
    '',
  ].join('\n');

  it('gives the owners and modes by decimal device and inode, without what was loaded unchanged', () => {
    const loaded = new Map([['65024:4260633', `${0o40755}:1000:1000`]]);
    expect([...parseSaved(saved, loaded)]).toEqual([
      ['65024:4260394', { uid: 7, gid: 8, mode: 0o644 }],
      ['66304:12', { uid: 0, gid: 0, mode: 0 }],
    ]);
  });

  it('keeps a loaded record the step changed', () => {
    const loaded = new Map([['65024:4260633', `${0o40755}:0:0`]]);
    expect(parseSaved(saved, loaded).get('65024:4260633')).toEqual({ uid: 1000, gid: 1000, mode: 0o755 });
  });
});
