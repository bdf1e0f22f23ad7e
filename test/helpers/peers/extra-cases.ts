/**
 * Differential cases written for this suite: behaviour the three corpora do
 * not reach (metadata instructions together, COPY semantics with owners,
 * modes and links, ADD of local archives, existing directories). Contexts
 * are generated, because git cannot store the modes, owners and links they
 * need.
 */
import { chmodSync, chownSync, linkSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileWriter } from '../build.js';
import type { PeerCase } from './corpus.js';
import { settleTimes } from './tweaks.js';
import { writeTar } from './tarball.js';

const T = 1_500_000_000;

type Setup = (file: (rel: string, content: string, mode?: number) => string, ctx: string) => Promise<void> | void;

function extra(name: string, dockerfile: string, setup: Setup, buildArgs: Record<string, string> = {}): PeerCase {
  return {
    id: `extra/${name}`,
    corpus: 'extra',
    needsNetwork: false,
    shouldFail: false,
    buildArgs,
    fsSkip: [],
    untranscribedTweak: false,
    dockerfileText: () => dockerfile,
    async prepare() {
      const temp = await mkdtemp(path.join(tmpdir(), 'peer-extra-'));
      const ctx = path.join(temp, 'context');
      mkdirSync(ctx);
      const file = fileWriter(ctx, T);
      const since = Date.now() - 1000;
      writeFileSync(path.join(ctx, 'Dockerfile'), dockerfile);
      await setup(file, ctx);
      // Whatever the setup did not date explicitly gets T: nothing in the context may look built.
      await settleTimes(ctx, since, new Date(T * 1000));
      return { contextDir: ctx, dockerfile: path.join(ctx, 'Dockerfile'), temp };
    },
  };
}

function dir(ctx: string, rel: string, mode: number, mtime = T): void {
  const abs = path.join(ctx, rel);
  mkdirSync(abs, { recursive: true });
  chmodSync(abs, mode);
  utimesSync(abs, mtime, mtime);
}

export const EXTRA_CASES: PeerCase[] = [
  extra(
    'metadata-instructions',
    [
      'FROM scratch',
      'ARG V=7',
      'ENV A=1 B="x y" C=${A}-z',
      'LABEL a=$A "b c"=d v=${V} multi="one \\',
      'two"',
      'EXPOSE 80 443/tcp 53/udp 8000-8002',
      'VOLUME ["/v1", "/v2"]',
      'VOLUME /v3',
      'WORKDIR /w',
      'WORKDIR rel/$A',
      'USER app:grp',
      'STOPSIGNAL SIGINT',
      'HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=4 CMD curl -f http://localhost/ || exit 1',
      'ONBUILD COPY . /onbuild',
      'MAINTAINER someone <s@example.com>',
      'ENTRYPOINT ["/e", "$A"]',
      'CMD ["run", "$A"]',
      '',
    ].join('\n'),
    () => undefined,
  ),
  extra(
    'shell-form-entrypoint-cmd',
    ['FROM scratch', 'ENTRYPOINT exec /e --flag', 'CMD ["ignored"]', 'ENTRYPOINT /e2', 'CMD c1 c2', ''].join('\n'),
    () => undefined,
  ),
  extra(
    'shell-instruction-and-cmd',
    ['FROM scratch', 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]', 'CMD echo $HOME', ''].join('\n'),
    () => undefined,
  ),
  extra(
    'copy-owners-modes-links',
    [
      'FROM scratch AS base',
      'COPY etc/ /etc/',
      'COPY --chown=app:staff f.txt /owned/by-name',
      'COPY --chown=1234 f.txt /owned/by-uid',
      'COPY --chmod=0600 f.txt /modes/0600',
      'COPY exec.sh suid setgid /modes/',
      'COPY tree /tree',
      'COPY linked/ /linked/',
      'COPY top-link /via-link',
      'COPY f.txt /tree/sub/overwritten',
      'FROM base',
      'COPY --from=base /owned /from-stage/',
      'COPY --from=base --chown=9:9 /tree /from-stage-chowned',
      'COPY f?txt [a-f].* /globbed/',
      '',
    ].join('\n'),
    (file, ctx) => {
      file('etc/passwd', 'root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n');
      file('etc/group', 'root:x:0:\nstaff:x:50:\n');
      file('f.txt', 'content\n', 0o640);
      file('exec.sh', '#!/bin/sh\n', 0o755);
      file('suid', 'suid\n', 0o4755);
      file('setgid', 'sgid\n', 0o2711);
      file('tree/a', 'a\n', 0o600);
      file('tree/sub/b', 'b\n');
      file('tree/sub/overwritten', 'old\n');
      symlinkSync('sub/b', path.join(ctx, 'tree/rel-link'));
      symlinkSync('/abs/target', path.join(ctx, 'tree/abs-link'));
      symlinkSync('sub', path.join(ctx, 'tree/dir-link'));
      dir(ctx, 'tree/empty', 0o711);
      dir(ctx, 'tree/sub', 0o750);
      dir(ctx, 'tree', 0o755);
      const one = file('linked/one', 'shared inode\n');
      mkdirSync(path.join(ctx, 'linked/deeper'));
      linkSync(one, path.join(ctx, 'linked/deeper/two'));
      linkSync(one, path.join(ctx, 'linked/three'));
      symlinkSync('f.txt', path.join(ctx, 'top-link'));
      file('b.md', 'b\n');
      file('e.cfg', 'e\n');
    },
  ),
  extra(
    'copy-destination-directories',
    [
      'FROM scratch AS base',
      'COPY --chown=1001:50 f.txt /owned/by-name',
      'FROM scratch',
      'COPY . /app/',
      'COPY private/ /private-slash/',
      'COPY private /private-noslash',
      'COPY --from=base /owned /from-stage/',
      '',
    ].join('\n'),
    (file, ctx) => {
      file('f.txt', 'f\n');
      file('private/secret', 's\n', 0o600);
      dir(ctx, 'private', 0o700);
      chmodSync(ctx, 0o750);
    },
  ),
  extra(
    'existing-directories',
    ['FROM scratch', 'COPY a/ /x/', 'COPY b/ /x/', 'COPY a/sub /y', 'COPY b/sub /y', ''].join('\n'),
    (file, ctx) => {
      file('a/sub/f1', '1\n');
      file('b/sub/f2', '2\n');
      dir(ctx, 'a/sub', 0o700, 1_000_000_000);
      dir(ctx, 'b/sub', 0o750, 1_200_000_000);
      dir(ctx, 'a', 0o755);
      dir(ctx, 'b', 0o755);
    },
  ),
  extra(
    'add-local-archives',
    [
      'FROM scratch',
      'ADD plain.tar /plain/',
      'ADD gz.tar.gz /gz',
      'ADD xz.tar.xz /xz/',
      'ADD not-really.tar.gz /copied/',
      'ADD --chown=7:7 single.txt /single.txt',
      'ADD plain.tar /plain/',
      '',
    ].join('\n'),
    async (file, ctx) => {
      const entries = [
        { name: 'dir/', type: 'directory' as const, mode: 0o750, uid: 10, gid: 20 },
        { name: 'dir/file', mode: 0o640, uid: 10, gid: 20, content: 'in archive\n' },
        { name: 'dir/hard', type: 'link' as const, mode: 0o640, uid: 10, gid: 20, linkname: 'dir/file' },
        { name: 'dir/sym', type: 'symlink' as const, mode: 0o777, linkname: 'file' },
        { name: 'setuid', mode: 0o4755, content: 'x\n' },
      ];
      await writeTar(path.join(ctx, 'plain.tar'), entries);
      await writeTar(path.join(ctx, 'gz.tar'), entries);
      execFileSync('gzip', ['-n', path.join(ctx, 'gz.tar')]);
      await writeTar(path.join(ctx, 'xz.tar'), entries);
      execFileSync('xz', [path.join(ctx, 'xz.tar')]);
      for (const f of ['plain.tar', 'gz.tar.gz', 'xz.tar.xz']) utimesSync(path.join(ctx, f), T, T);
      file('not-really.tar.gz', 'just text, not gzip\n');
      file('single.txt', 'single\n', 0o600);
    },
  ),
  extra(
    'owned-context-files',
    ['FROM scratch', 'COPY . /ctx/', 'ADD . /added/', ''].join('\n'),
    (file) => {
      // Owners in the build context are not kept by COPY/ADD (everything is 0:0 unless --chown).
      const a = file('owned', 'owned by 1000\n', 0o640);
      chownSync(a, 1000, 1000);
      const b = file('sub/owned-dir-file', 'x\n');
      chownSync(path.dirname(b), 33, 33);
      chownSync(b, 33, 33);
    },
  ),
];
