import { describe, expect, it } from 'vitest';
import { parseGetfattrDump } from '../../../src/run/faked-xattrs.js';

describe('parseGetfattrDump: what getfattr --dump --encoding base64 prints', () => {
  it('gives each file its attributes as raw bytes, with getfattr\'s escapes in names undone and files without attributes left out', () => {
    // As getfattr 2.5 prints them: a backslash as \134, a newline as \012, `=` in an attribute's name as \075, UTF-8 bytes as they are (read as latin1).
    const name = Buffer.from('/r/a b\\134c\\012d é', 'utf8').toString('latin1');
    const text = [
      `# file: ${name}`,
      'security.capability=0sAQAAAgAgAAAAAAAAAAAAAAAAAAA=',
      'user.empty=0s',
      '',
      '# file: /r/plain',
      '',
      '# file: /r/..foo/f',
      'user.a\\075b c=0seA==',
      '',
    ].join('\n');
    const out = parseGetfattrDump(text);
    expect([...out.keys()]).toEqual(['/r/a b\\c\nd é', '/r/..foo/f']);
    expect(out.get('/r/a b\\c\nd é')).toEqual({ 'security.capability': Buffer.from('AQAAAgAgAAAAAAAAAAAAAAAAAAA=', 'base64'), 'user.empty': Buffer.alloc(0) });
    expect(out.get('/r/..foo/f')).toEqual({ 'user.a=b c': Buffer.from('x') });
  });
});
