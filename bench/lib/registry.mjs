// A throwaway docker-registry for benchmarks (the same recipe as
// bench/push-pull and test/helpers/registry): 2.8, filesystem driver, plain
// HTTP on a free loopback port.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function startRegistry(work) {
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing (apt-get install docker-registry)`);
  const dir = mkdtempSync(join(work, 'registry-'));
  const port = await freePort();
  const configFile = join(dir, 'config.yml');
  writeFileSync(
    configFile,
    ['version: 0.1', 'log:', '  level: warn', '  accesslog:', '    disabled: true', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'storage')}`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'),
  );
  const logFd = createWriteStream(join(dir, 'registry.log'));
  const child = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(logFd);
  child.stderr.pipe(logFd);
  let exited = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (exited !== null) throw new Error(`docker-registry exited (${exited}); see ${dir}/registry.log`);
    try {
      const res = await fetch(`http://${host}/v2/`);
      if (res.status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`docker-registry not ready on ${host}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    dir,
    pid: child.pid,
    async stop() {
      if (exited === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `cmd` under /usr/bin/time: wall seconds, peak RSS (KiB), user and sys CPU seconds. Rejects on a non-zero exit. */
export function timed(cmd, args, opts = {}) {
  const timeFile = join(opts.work ?? '/tmp', `time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%e %M %U %S', '-o', timeFile, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env ?? process.env,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', async (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const { readFileSync } = await import('node:fs');
      let fields = [];
      try {
        fields = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ');
      } catch {
        /* time did not write */
      }
      rmSync(timeFile, { force: true });
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${out.slice(-4000)}`));
      resolve({ wall, rssKiB: Number(fields[1]), user: Number(fields[2]), sys: Number(fields[3]), output: out });
    });
  });
}
