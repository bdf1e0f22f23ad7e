import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildImage, makeContext } from '../../helpers/build.js';

function setfattr(file: string, name: string, value: string): void {
  execFileSync('setfattr', ['-h', '-n', name, '-v', value, file]);
}

/** The value of one attribute as getfattr prints it in hex, as bytes. */
function getfattrBytes(file: string, name: string): Buffer {
  const out = execFileSync('getfattr', ['-h', '-e', 'hex', '--only-values', '-n', name, file]);
  return out;
}

describe('extended attributes of build-context files', () => {
  it('COPY keeps user.* attributes of files and directories as SCHILY.xattr records, and drops user.overlay.*', async () => {
    const ctx = makeContext({ 'f.txt': 'F', 'd/inner.txt': 'I', plain: 'P' });
    setfattr(path.join(ctx, 'f.txt'), 'user.a', 'test');
    setfattr(path.join(ctx, 'f.txt'), 'user.overlay.opaque', 'y');
    setfattr(path.join(ctx, 'd'), 'user.dir', 'yes');
    const { files } = await buildImage('FROM scratch\nCOPY . /app/\n', ctx);
    const f = files.get('app/f.txt');
    expect(f?.pax).toEqual({ 'SCHILY.xattr.user.a': 'test' });
    expect(files.get('app/d')?.pax).toEqual({ 'SCHILY.xattr.user.dir': 'yes' });
    expect(files.get('app/plain')?.pax ?? {}).toEqual({});
    expect(files.get('app/d/inner.txt')?.pax ?? {}).toEqual({});
  });

  it('COPY keeps a file capability set with setcap, byte for byte', async () => {
    const ctx = makeContext({ ping: 'binary' });
    const file = path.join(ctx, 'ping');
    execFileSync('setcap', ['cap_net_raw,cap_net_bind_service+ep', file]);
    const want = execFileSync('getfattr', ['-e', 'hex', '-n', 'security.capability', '--absolute-names', file], { encoding: 'utf8' });
    const hex = /security\.capability=0x([0-9a-f]+)/.exec(want)?.[1];
    expect(hex).toBeDefined();
    const { files } = await buildImage('FROM scratch\nCOPY ping /bin/ping\n', ctx);
    const value = files.get('bin/ping')?.pax['SCHILY.xattr.security.capability'];
    expect(value).toBeDefined();
    // tar-stream decodes PAX values as UTF-8; a capability's bytes are all below 0x80 here.
    expect(Buffer.from(value ?? '', 'latin1').toString('hex')).toBe(hex);
  });

  it('COPY --from another stage keeps the attributes the first stage copied', async () => {
    const ctx = makeContext({ 'x.txt': 'X' });
    setfattr(path.join(ctx, 'x.txt'), 'user.a', 'test');
    const { files } = await buildImage('FROM scratch AS one\nCOPY x.txt /x.txt\nFROM scratch\nCOPY --from=one /x.txt /copied.txt\n', ctx);
    expect(files.get('copied.txt')?.pax).toEqual({ 'SCHILY.xattr.user.a': 'test' });
  });

  it('ADD of a tar made by GNU tar --xattrs keeps the members\' attributes', async () => {
    const ctx = makeContext({});
    const src = path.join(ctx, 'src');
    mkdirSync(path.join(src, 'sub'), { recursive: true });
    writeFileSync(path.join(src, 'sub', 'xattr-file'), 'whatever');
    symlinkSync('xattr-file', path.join(src, 'sub', 'link'));
    setfattr(path.join(src, 'sub', 'xattr-file'), 'user.a', 'test');
    setfattr(path.join(src, 'sub'), 'user.d', 'dir');
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-C', src, '-cf', path.join(ctx, 'archive.tar'), 'sub']);
    expect(getfattrBytes(path.join(src, 'sub', 'xattr-file'), 'user.a').toString()).toBe('test');
    const { files } = await buildImage('FROM scratch\nADD archive.tar /out/\n', ctx);
    expect(files.get('out/sub/xattr-file')?.pax).toEqual({ 'SCHILY.xattr.user.a': 'test' });
    expect(files.get('out/sub')?.pax).toEqual({ 'SCHILY.xattr.user.d': 'dir' });
    expect(files.get('out/sub/link')?.pax ?? {}).toEqual({});
  });
});
