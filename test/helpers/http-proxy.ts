/**
 * A small real HTTP proxy on loopback for tests: CONNECT tunnels (https
 * origins) and absolute-URI forwarding (plain http origins), as squid does.
 * Host names ending in `.hoist-proxy.test` exist only for it: it connects
 * them to 127.0.0.1 (same port), so a request that reaches such a host
 * cannot have bypassed the proxy. Every request is recorded.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { listenOnLoopback } from './net.js';

export const PROXY_ONLY_DOMAIN = 'hoist-proxy.test';

export interface ProxiedCall {
  kind: 'connect' | 'forward';
  /** `host:port` for CONNECT, the absolute URL for a forwarded request. */
  target: string;
  method: string;
}

export interface TestHttpProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  calls: ProxiedCall[];
  close(): Promise<void>;
}

function realHost(host: string): string {
  return host === PROXY_ONLY_DOMAIN || host.endsWith(`.${PROXY_ONLY_DOMAIN}`) ? '127.0.0.1' : host;
}

export async function startHttpProxy(): Promise<TestHttpProxy> {
  const calls: ProxiedCall[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      return void res.writeHead(400).end('absolute URI required');
    }
    calls.push({ kind: 'forward', target: target.href, method: req.method ?? '' });
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    const upstream = httpRequest(
      { host: realHost(target.hostname), port: target.port || 80, path: target.pathname + target.search, method: req.method, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end('upstream failed'));
    req.pipe(upstream);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    calls.push({ kind: 'connect', target, method: 'CONNECT' });
    const colon = target.lastIndexOf(':');
    const upstream = connect(Number(target.slice(colon + 1)), realHost(target.slice(0, colon)), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const host = await listenOnLoopback(server);
  return {
    url: `http://${host}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
