import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureDebianPackages, findCommand, freePort, startRegistry } from '../../helpers/registry/index.js';
import { http } from './util.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HELPERS = fileURLToPath(new URL('../../helpers/registry/index.ts', import.meta.url));

/** Running (a zombie waiting for init to reap it counts as dead). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('registry helper lifecycle', () => {
  it('freePort gives a bindable loopback port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  });

  it('ensureDebianPackages is a quick no-op when the commands are there', async () => {
    const t = Date.now();
    await ensureDebianPackages(['docker-registry', 'apache2-utils', 'skopeo']);
    expect(Date.now() - t).toBeLessThan(5000); // no apt-get run
    expect(findCommand('docker-registry')).toBeDefined();
    expect(findCommand('htpasswd')).toBeDefined();
  });

  it('a registry that fails to start reports its log tail', async () => {
    await expect(startRegistry({ extraConfig: { storage: { nosuchdriver: {} } } })).rejects.toThrow(/exited during startup[\s\S]*--- registry log ---[\s\S]*nosuchdriver/);
  });

  it('extraConfig is merged into the config (e.g. the log level)', async () => {
    const reg = await startRegistry({ extraConfig: { log: { level: 'debug' } } });
    try {
      await http(`${reg.url}/v2/`);
      expect(reg.logs()).toMatch(/level=debug/);
    } finally {
      await reg.stop();
    }
  });

  it('a process that exits without stop() leaves no registry and no temp dir behind', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-exit-'));
    try {
      const script = path.join(dir, 'leaky.ts');
      await writeFile(
        script,
        `import { startRegistry } from ${JSON.stringify(HELPERS)};\n` +
          `const reg = await startRegistry({ auth: 'token' });\n` +
          `console.log(JSON.stringify({ pid: reg.pid, storageDir: reg.storageDir }));\n` +
          `process.exit(0);\n`,
      );
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules/vite-node/vite-node.mjs'), script], {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`))));
      });
      const line = out.split('\n').find((l) => l.startsWith('{'));
      const { pid, storageDir } = JSON.parse(line!) as { pid: number; storageDir: string };
      expect(pid).toBeGreaterThan(0);
      // SIGKILL is delivered at exit; give the kernel a moment to reap.
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      expect(alive(pid)).toBe(false);
      expect(existsSync(storageDir)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
