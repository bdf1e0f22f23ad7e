import { describe, expect, it } from 'vitest';
import { XattrCallWatch } from '../../../src/run/index.js';

/** faked-sysv 1.31's --debug lines around an attribute call, as it prints them. */
const SET = [
  'FAKEROOT: r=1088, received message type=1, message=9',
  'FAKEROOT: process setxattr key = security.capability',
  'FAKEROOT:    (previously unknown)',
  'FAKEROOT: insert_or_overwrite unknown stat:',
  'dev:ino=(fe00:4243586), mode=0100755, own=(0,0), nlink=1, rdev=0',
].join('\n');
const REMOVE = 'FAKEROOT: r=1088, received message type=1, message=10\nFAKEROOT: process removexattr key = user.note\nFAKEROOT: (previously known): \n';
const NOISE = 'FAKEROOT: process stat oldstate=dev:ino=(fe00:4243586), mode=0100755, own=(5,5), nlink=1, rdev=0\n'.repeat(50);

function watch(chunks: string[]): string[] {
  const w = new XattrCallWatch();
  for (const c of chunks) w.feed(Buffer.from(c, 'latin1'));
  return [...w.names].sort();
}

describe('XattrCallWatch: the attributes a step set, from faked --debug', () => {
  it('names each attribute set, once, and not those only removed (faked logs a removal of nothing too)', () => {
    expect(watch([`${NOISE}${SET}\n${NOISE}${REMOVE}${SET}\n`])).toEqual(['security.capability']);
    expect(watch([`${NOISE}${REMOVE}`])).toEqual([]);
  });

  it('finds a call whose line is cut between chunks, wherever the cut falls', () => {
    const text = `${NOISE}${SET}\n${REMOVE}${NOISE}`;
    for (let cut = 1; cut < text.length; cut += 7) {
      expect(watch([text.slice(0, cut), text.slice(cut)]), `cut at ${cut}`).toEqual(['security.capability']);
    }
  });

  it('sees nothing in a step without such calls, however much it printed', () => {
    expect(watch([NOISE, NOISE, 'FAKEROOT: process chown\n', 'FAKEROOT: process getxattr key = security.capability\n', 'FAKEROOT: process listxattr\n'])).toEqual([]);
  });
});
