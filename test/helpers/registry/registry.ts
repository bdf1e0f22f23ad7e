/**
 * A real CNCF distribution registry (Debian `docker-registry`, 2.8) on a free
 * loopback port with temp storage, optionally with TLS, htpasswd (basic)
 * auth, or token (bearer) auth backed by a token server of our own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { cachedRsaKeys, makeTestCa, makeTokenSigner } from './certs.js';
import { killAndRemoveSync, onProcessExit } from './cleanup.js';
import { ensureDebianPackages, findCommand } from '../packages.js';
import { freePort } from './ports.js';
import { startTokenServer, type TokenRequest, type TokenServer } from './token-server.js';

export type RegistryAuth = 'none' | 'htpasswd' | 'token';

export interface StartRegistryOptions {
  /** 'none' (default): no auth. 'htpasswd': basic auth, TLS by default. 'token': bearer tokens from our token server. */
  auth?: RegistryAuth;
  /** Serve HTTPS with a cert from a fresh test CA. Default: true for 'htpasswd', false otherwise. */
  tls?: boolean;
  /** The one user (auth setups). Default 'hoist-user'. */
  username?: string;
  /** Its password. Default: a fresh random string (so a leak is easy to grep for). */
  password?: string;
  /** Token setups: anonymous token requests get pull-only tokens. */
  allowAnonymousPull?: boolean;
  /** `http.relativeurls`: upload Locations become relative ('/v2/...'). Default false (absolute, built from the Host header). */
  relativeUrls?: boolean;
  /** Token lifetime in seconds (token setups). Default 300. */
  tokenTtlSeconds?: number;
  /** Deep-merged into the generated registry config (e.g. `{ validation: {...} }`, `{ log: { level: 'debug' } }`). */
  extraConfig?: Record<string, unknown>;
}

export interface RunningRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  /** 'http://127.0.0.1:PORT' or 'https://127.0.0.1:PORT' */
  url: string;
  storageDir: string;
  /** TLS setups: the CA that signed the server cert (and the token server's cert, when both). */
  caCertPem?: string;
  /** TLS setups: caCertPem written to DIR/ca.crt, where DIR holds nothing else (usable as a `--cert-dir`). */
  caCertFile?: string;
  username?: string;
  password?: string;
  /** Token setups: what the token server saw (a copy, oldest first). */
  tokenRequests?: () => TokenRequest[];
  /** Kills the process, stops the token server, removes temp dirs. Idempotent. */
  stop(): Promise<void>;

  // ---- extras beyond the agreed API ----
  auth: RegistryAuth;
  tls: boolean;
  /** An undici dispatcher that trusts caCertPem (a plain Agent without TLS). Closed by stop(). */
  dispatcher: Dispatcher;
  /** Token setups: realm URL, service and issuer strings. */
  tokenRealm?: string;
  tokenService?: string;
  tokenIssuer?: string;
  /** Token setups: forget the requests seen so far. */
  resetTokenRequests?: () => void;
  configFile: string;
  logFile: string;
  /** The registry's log so far (stderr + stdout). */
  logs(): string;
  /** The docker-registry process id. */
  pid: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (isPlainObject(cur) && isPlainObject(v)) deepMerge(cur, v);
    else into[k] = v;
  }
}

const READY_TIMEOUT_MS = 15_000;

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function runCapture(cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (status) =>
      resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

async function bcryptHtpasswd(username: string, password: string): Promise<string> {
  const bin = findCommand('htpasswd') ?? 'htpasswd';
  const r = await runCapture(bin, ['-Bbn', username, password]);
  if (r.status !== 0 || !r.stdout.startsWith(`${username}:$2`)) {
    throw new Error(`htpasswd -Bbn failed (exit ${r.status}): ${r.stderr}`);
  }
  return `${r.stdout.trim()}\n`;
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<number | null>;
  hasExited(): boolean;
}

function spawnRegistry(bin: string, configFile: string, logFile: string): Spawned {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, ['serve', configFile], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolve(code ?? (signal ? 128 : null));
    });
    child.on('error', () => {
      done = true;
      resolve(null);
    });
  });
  return { child, exited, hasExited: () => done };
}

async function waitReady(url: string, dispatcher: Dispatcher, spawned: Spawned): Promise<'ready' | 'exited'> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawned.hasExited()) return 'exited';
    try {
      const res = await request(`${url}/v2/`, { dispatcher, headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      if (res.statusCode === 200 || res.statusCode === 401) return 'ready';
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`registry at ${url} not ready within ${READY_TIMEOUT_MS} ms`);
}

async function stopChild(spawned: Spawned): Promise<void> {
  if (spawned.hasExited()) return;
  spawned.child.kill('SIGTERM');
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), 5000);
  await spawned.exited;
  clearTimeout(timer);
}

/** Start a registry; see StartRegistryOptions. Always call stop() (an exit hook kills it otherwise). */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RunningRegistry> {
  const auth: RegistryAuth = opts.auth ?? 'none';
  const tls = opts.tls ?? auth === 'htpasswd';
  await ensureDebianPackages(auth === 'htpasswd' ? ['docker-registry', 'apache2-utils'] : ['docker-registry']);
  const bin = findCommand('docker-registry') ?? '/usr/bin/docker-registry';

  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoist-registry-'));
  let unregisterExit = onProcessExit(() => killAndRemoveSync(undefined, dir));
  let tokenServer: TokenServer | undefined;
  let dispatcher: Dispatcher | undefined;
  let spawned: Spawned | undefined;

  const cleanup = async (): Promise<void> => {
    unregisterExit();
    if (spawned) await stopChild(spawned);
    if (tokenServer) await tokenServer.close();
    if (dispatcher) await dispatcher.destroy().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const storageDir = path.join(dir, 'storage');
    const logFile = path.join(dir, 'registry.log');
    const configFile = path.join(dir, 'config.yml');
    await mkdir(storageDir);

    const config: Record<string, any> = {
      version: '0.1',
      log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: storageDir },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: '', secret: randomBytes(16).toString('hex'), relativeurls: opts.relativeUrls ?? false },
    };

    // RSA keys are slow to make: use the on-disk test key cache (fresh certificates every time).
    const keys = await cachedRsaKeys((tls ? 2 : 0) + (auth === 'token' ? 1 : 0));

    let caCertPem: string | undefined;
    let caCertFile: string | undefined;
    let serverCert: { certPem: string; keyPem: string } | undefined;
    if (tls) {
      const ca = await makeTestCa({ keyPem: keys.pop()! });
      caCertPem = ca.certPem;
      serverCert = await ca.issueServerCert({ dnsNames: ['localhost'], ips: ['127.0.0.1'], keyPem: keys.pop()! });
      await mkdir(path.join(dir, 'ca'));
      caCertFile = path.join(dir, 'ca', 'ca.crt');
      await writeFile(caCertFile, caCertPem);
      await mkdir(path.join(dir, 'tls'), { mode: 0o700 });
      const certificate = path.join(dir, 'tls', 'server.crt');
      const key = path.join(dir, 'tls', 'server.key');
      await writeFile(certificate, serverCert.certPem);
      await writeFile(key, serverCert.keyPem, { mode: 0o600 });
      config.http.tls = { certificate, key };
    }
    dispatcher = caCertPem ? new Agent({ connect: { ca: caCertPem } }) : new Agent();

    let username: string | undefined;
    let password: string | undefined;
    if (auth !== 'none') {
      username = opts.username ?? 'hoist-user';
      password = opts.password ?? `pw-${randomBytes(12).toString('hex')}`;
    }

    const extras: Partial<RunningRegistry> = {};
    if (auth === 'htpasswd') {
      const htpasswdFile = path.join(dir, 'htpasswd');
      await writeFile(htpasswdFile, await bcryptHtpasswd(username!, password!));
      config.auth = { htpasswd: { realm: 'hoist-test-registry', path: htpasswdFile } };
    } else if (auth === 'token') {
      const signer = await makeTokenSigner({ keyPem: keys.pop()! });
      const signerFile = path.join(dir, 'token-signer.crt');
      await writeFile(signerFile, signer.certPem);
      const service = 'hoist-test-registry';
      const issuer = 'hoist-test-token-issuer';
      tokenServer = await startTokenServer({
        service,
        issuer,
        signer,
        username: username!,
        password: password!,
        allowAnonymousPull: opts.allowAnonymousPull ?? false,
        ...(serverCert ? { tls: serverCert } : {}),
        ...(opts.tokenTtlSeconds !== undefined ? { ttlSeconds: opts.tokenTtlSeconds } : {}),
      });
      config.auth = {
        token: { realm: tokenServer.realm, service, issuer, rootcertbundle: signerFile, autoredirect: false },
      };
      const ts = tokenServer;
      extras.tokenRealm = ts.realm;
      extras.tokenService = service;
      extras.tokenIssuer = issuer;
      extras.tokenRequests = () => ts.requests();
      extras.resetTokenRequests = () => ts.resetRequests();
    }

    if (opts.extraConfig) deepMerge(config, opts.extraConfig);

    // The port is chosen before the registry binds it: retry if someone else took it.
    let port = 0;
    let url = '';
    let pid = -1;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
      config.http.addr = `127.0.0.1:${port}`;
      await writeFile(configFile, JSON.stringify(config, null, 2)); // JSON is YAML
      const s = spawnRegistry(bin, configFile, logFile);
      spawned = s;
      pid = s.child.pid ?? -1;
      unregisterExit();
      unregisterExit = onProcessExit(() => killAndRemoveSync(s.child.pid, dir));
      let state: 'ready' | 'exited';
      try {
        state = await waitReady(url, dispatcher, s);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n--- registry log (${logFile}) ---\n${tail(logFile)}`);
      }
      if (state === 'ready') break;
      const log = tail(logFile);
      if (attempt < 4 && /address already in use/i.test(log)) continue;
      throw new Error(`docker-registry exited during startup (exit ${await s.exited})\n--- registry log ---\n${log}`);
    }

    let stopping: Promise<void> | undefined;
    const reg: RunningRegistry = {
      host: `127.0.0.1:${port}`,
      url,
      storageDir,
      auth,
      tls,
      dispatcher,
      configFile,
      logFile,
      logs: () => {
        try {
          return readFileSync(logFile, 'utf8');
        } catch {
          return '';
        }
      },
      pid,
      stop: () => (stopping ??= cleanup()),
      ...extras,
    };
    if (caCertPem !== undefined) reg.caCertPem = caCertPem;
    if (caCertFile !== undefined) reg.caCertFile = caCertFile;
    if (username !== undefined) reg.username = username;
    if (password !== undefined) reg.password = password;
    return reg;
  } catch (e) {
    await cleanup().catch(() => undefined);
    throw e;
  }
}
