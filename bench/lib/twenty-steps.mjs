// The 20-step Dockerfile of bench/noop-rebuild (after FROM scratch: 7 COPY,
// 7 RUN, WORKDIR, ENV, ARG, LABEL, USER, CMD) over a small seeded context: a
// static busybox and five directories of 200 small files. Used by
// bench/noop-rebuild and bench/cache-change.
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from './seeded-data.mjs';

export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));

/** The steps with a cache key (COPY, RUN, WORKDIR): 15 of the 20. */
export const KEYED_STEPS = 15;

/** busybox as /bin/sh, five directories of 200 small files each; seeded. 20 steps after FROM. */
export function makeTwentyStepContext(ctx) {
  if (existsSync(join(ctx, '.complete'))) return;
  rmSync(ctx, { recursive: true, force: true });
  const next = rng(0x0905);
  mkdirSync(join(ctx, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(ctx, 'bin/busybox'));
  symlinkSync('busybox', join(ctx, 'bin/sh'));
  mkdirSync(join(ctx, 'etc'), { recursive: true });
  writeFileSync(join(ctx, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(ctx, 'etc/group'), 'root:x:0:\n');
  for (const d of ['a', 'b', 'c', 'd', 'e']) {
    mkdirSync(join(ctx, 'src', d), { recursive: true });
    for (let f = 0; f < 200; f++) writeFileSync(join(ctx, 'src', d, `f${f}.txt`), `${d}${f} `.repeat(1 + (next() % 200)));
  }
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM scratch',
      'COPY bin/ /bin/',
      'COPY etc/ /etc/',
      'ENV APP=/app',
      'WORKDIR /app',
      'COPY src/a/ /app/a/',
      'RUN /bin/busybox mkdir -p /out && /bin/busybox echo a > /out/a',
      'COPY src/b/ /app/b/',
      'RUN /bin/busybox cat /app/b/* > /out/b',
      'ARG V=1',
      'RUN /bin/busybox echo $V > /out/v',
      'COPY src/c/ /app/c/',
      'RUN /bin/busybox ls -R /app > /out/ls',
      'LABEL bench=noop-rebuild',
      'COPY src/d/ /app/d/',
      'RUN /bin/busybox wc -c /app/d/f1.txt > /out/d',
      'USER 0',
      'RUN /bin/busybox echo done > /out/done',
      'COPY src/e/ /app/e/',
      'RUN /bin/busybox find /app -type f | /bin/busybox wc -l > /out/count',
      'CMD ["/bin/sh"]',
      '',
    ].join('\n'),
  );
  writeFileSync(join(ctx, '.dockerignore'), '.complete\n');
  writeFileSync(join(ctx, '.complete'), '');
}

