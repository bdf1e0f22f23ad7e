/**
 * A fault-injecting reverse proxy (plain HTTP on a loopback port) in front of
 * a registry. Everything is forwarded as is (method, path, query, headers
 * incl. Range and Authorization, the Host header too, so the registry builds
 * upload Locations that point at the proxy); absolute Locations that still
 * name the target origin are rewritten to the proxy's.
 *
 * Faults, per request, in this order:
 *  1. every matching 'delay' with tries left waits its ms (they add up);
 *  2. the first matching 'status' with tries left answers that status itself
 *     (after reading the request body) without asking the target;
 *  3. otherwise the request is forwarded; if the target's answer is 200/206
 *     with a body (not HEAD), the first matching 'reset-mid-body' or
 *     'corrupt-body' with tries left applies to it. Other answers pass
 *     through and use up no tries.
 * `match` is tested against the request's path + query (e.g.
 * `/v2/repo/blobs/sha256:...`). `times` omitted = every time.
 */
import http from 'node:http';
import https from 'node:https';
import { listenOnLoopback } from '../net.js';

export type Fault =
  | { kind: 'status'; status: number; times: number; match?: RegExp; method?: string; headers?: Record<string, string>; body?: string }
  | { kind: 'reset-mid-body'; match: RegExp; afterBytes: number; times: number; method?: string }
  | { kind: 'delay'; ms: number; match?: RegExp; times?: number; method?: string }
  | { kind: 'corrupt-body'; match: RegExp; times?: number; method?: string };

export interface ProxiedRequest {
  method: string;
  /** Path + query as received. */
  url: string;
  /** Status the proxy answered (0 if the connection was reset before headers). */
  status: number;
  /** The fault kinds applied to this request. */
  faults: Fault['kind'][];
}

export interface FaultProxy {
  /** 'http://127.0.0.1:PORT' */
  url: string;
  /** '127.0.0.1:PORT' */
  host: string;
  stop(): Promise<void>;
  /** Requests received so far. */
  hits(): number;
  /** Replace the fault list (tries counted afresh). */
  setFaults(f: Fault[]): void;
  // ---- extras ----
  /** Every request seen, oldest first. */
  requests(): ProxiedRequest[];
  /** Forget requests (hits() restarts at 0). */
  resetHits(): void;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

interface ArmedFault {
  fault: Fault;
  left: number;
}

function matches(f: Fault, method: string, url: string): boolean {
  if (f.method !== undefined && f.method.toUpperCase() !== method) return false;
  if (f.match !== undefined) {
    f.match.lastIndex = 0; // a /g regex keeps state between tests otherwise
    if (!f.match.test(url)) return false;
  }
  return true;
}

function take(a: ArmedFault): boolean {
  if (a.left <= 0) return false;
  a.left--;
  return true;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Flip bits so the body keeps its length but not its content: byte 0 and every 4096th after it. */
function corrupt(chunk: Buffer, offset: number): Buffer {
  const out = Buffer.from(chunk);
  const first = offset % 4096 === 0 ? 0 : 4096 - (offset % 4096);
  for (let i = first; i < out.length; i += 4096) out[i] = (out[i] ?? 0) ^ 0xff;
  return out;
}

export async function startFaultProxy(targetUrl: string, opts: { ca?: string } = {}): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const targetOrigin = target.origin;
  const useTls = target.protocol === 'https:';
  const agent = useTls ? new https.Agent({ keepAlive: true, ...(opts.ca ? { ca: opts.ca } : {}) }) : new http.Agent({ keepAlive: true });
  let armed: ArmedFault[] = [];
  const log: ProxiedRequest[] = [];
  let proxyOrigin = '';

  function rewriteLocation(loc: string): string {
    if (loc.startsWith(targetOrigin)) return proxyOrigin + loc.slice(targetOrigin.length);
    // The target builds absolute URLs from our Host header; with TLS it may say https://<proxy host>.
    const proxyHost = proxyOrigin.replace(/^http:\/\//, '');
    if (loc.startsWith(`https://${proxyHost}`)) return proxyOrigin + loc.slice(`https://${proxyHost}`.length);
    return loc;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, entry: ProxiedRequest): Promise<void> {
    const method = entry.method;
    const url = entry.url;

    for (const a of armed) {
      if (a.fault.kind === 'delay' && matches(a.fault, method, url) && take(a)) {
        entry.faults.push('delay');
        await sleep(a.fault.ms);
      }
    }

    const statusFault = armed.find((a) => a.fault.kind === 'status' && a.left > 0 && matches(a.fault, method, url));
    if (statusFault && statusFault.fault.kind === 'status') {
      take(statusFault);
      entry.faults.push('status');
      const f = statusFault.fault;
      req.resume();
      await new Promise<void>((resolve) => {
        if (req.readableEnded) resolve();
        else {
          req.on('end', resolve);
          req.on('error', () => resolve());
          req.on('close', () => resolve());
        }
      });
      const body = f.body ?? JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `fault proxy: injected ${f.status}`, detail: null }] });
      entry.status = f.status;
      res.writeHead(f.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'docker-distribution-api-version': 'registry/2.0',
        ...f.headers,
      });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }

    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = v;
    }
    headers['x-forwarded-proto'] = 'http';
    const upstreamReq = (useTls ? https : http).request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method,
      path: url,
      headers,
      agent,
    });

    const upstreamRes = await new Promise<http.IncomingMessage>((resolve, reject) => {
      upstreamReq.on('response', resolve);
      upstreamReq.on('error', reject);
      req.pipe(upstreamReq);
      res.on('close', () => {
        if (!res.writableFinished) upstreamReq.destroy();
      });
    });

    const status = upstreamRes.statusCode ?? 502;
    const outHeaders: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(upstreamRes.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      outHeaders[k] = k === 'location' && typeof v === 'string' ? rewriteLocation(v) : v;
    }

    const hasBody = method !== 'HEAD' && (status === 200 || status === 206);
    const bodyFault = hasBody
      ? armed.find(
          (a) => (a.fault.kind === 'reset-mid-body' || a.fault.kind === 'corrupt-body') && a.left > 0 && matches(a.fault, method, url),
        )
      : undefined;
    if (bodyFault) {
      take(bodyFault);
      entry.faults.push(bodyFault.fault.kind);
    }
    entry.status = status;
    res.writeHead(status, upstreamRes.statusMessage, outHeaders);

    if (bodyFault?.fault.kind === 'reset-mid-body') {
      const limit = bodyFault.fault.afterBytes;
      let sent = 0;
      let held: Buffer | undefined; // the last byte seen: withheld so a short body is still cut
      const cut = (): void => {
        upstreamRes.destroy();
        const sock = res.socket;
        if (sock && typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
        else res.destroy();
      };
      const write = (b: Buffer): Promise<void> => new Promise((resolve) => (b.length === 0 ? resolve() : res.write(b, () => resolve())));
      for await (const c of upstreamRes as AsyncIterable<Buffer>) {
        let chunk = held ? Buffer.concat([held, c]) : c;
        held = undefined;
        if (sent + chunk.length >= limit) {
          await write(chunk.subarray(0, Math.max(0, limit - sent)));
          sent = limit;
          cut();
          return;
        }
        held = chunk.subarray(chunk.length - 1);
        chunk = chunk.subarray(0, chunk.length - 1);
        await write(chunk);
        sent += chunk.length;
      }
      cut(); // the body ended before `afterBytes`: everything but its last byte went out
      return;
    }

    if (bodyFault?.fault.kind === 'corrupt-body') {
      let offset = 0;
      upstreamRes.on('data', (c: Buffer) => {
        const out = corrupt(c, offset);
        offset += c.length;
        if (!res.write(out)) {
          upstreamRes.pause();
          res.once('drain', () => upstreamRes.resume());
        }
      });
      upstreamRes.on('end', () => res.end());
      upstreamRes.on('error', () => res.destroy());
      return;
    }

    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  }

  const server = http.createServer((req, res) => {
    const entry: ProxiedRequest = { method: (req.method ?? 'GET').toUpperCase(), url: req.url ?? '/', status: 0, faults: [] };
    log.push(entry);
    handle(req, res, entry).catch((e: unknown) => {
      if (!res.headersSent) {
        const body = JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `fault proxy: upstream error: ${String(e)}` }] });
        entry.status = 502;
        res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  const host = await listenOnLoopback(server);
  proxyOrigin = `http://${host}`;

  let stopping: Promise<void> | undefined;
  return {
    url: proxyOrigin,
    host,
    hits: () => log.length,
    requests: () => log.map((e) => ({ ...e, faults: [...e.faults] })),
    resetHits: () => {
      log.length = 0;
    },
    setFaults: (faults) => {
      armed = faults.map((fault) => ({ fault, left: fault.times ?? Number.POSITIVE_INFINITY }));
    },
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      })),
  };
}
