/**
 * The dispatcher for downloads that are not registry API calls (ADD <url>):
 * one keep-alive Agent for direct connections and one ProxyAgent per proxy,
 * chosen per origin (redirects may change it) by the proxy settings, all
 * with the same timeouts as registries. Default TLS (Node's roots and
 * NODE_EXTRA_CA_CERTS).
 */
import { Agent, Dispatcher } from 'undici';
import { DEFAULT_TIMEOUT_MS } from './deadline.js';
import { ProxyResolver, type ProxySettings } from './proxy.js';
import { proxyAgent } from './tls.js';

export interface UrlDispatcherOptions {
  proxy?: ProxySettings;
  /** Connect, response headers and body silence. Default 30 s. */
  timeoutMs?: number;
}

class RoutingDispatcher extends Dispatcher {
  private readonly direct: Agent;
  private readonly viaProxy = new Map<string, Dispatcher>();
  private readonly pool: { keepAliveTimeout: number; connections: number; headersTimeout: number; bodyTimeout: number };

  constructor(
    private readonly resolver: ProxyResolver,
    private readonly timeoutMs: number,
  ) {
    super();
    this.pool = { keepAliveTimeout: 30_000, connections: 8, headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
    this.direct = new Agent({ ...this.pool, connect: { timeout: timeoutMs } });
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = new URL(String(options.origin));
    const proxy = this.resolver.proxyFor(origin);
    if (proxy === undefined) return this.direct.dispatch(options, handler);
    const plain = origin.protocol === 'http:';
    const key = `${proxy.href}|${plain}`;
    let agent = this.viaProxy.get(key);
    if (agent === undefined) {
      agent = proxyAgent(proxy, plain, this.pool, { timeout: this.timeoutMs });
      this.viaProxy.set(key, agent);
    }
    return agent.dispatch(options, handler);
  }

  override async close(): Promise<void> {
    await Promise.all([this.direct.close(), ...[...this.viaProxy.values()].map((d) => d.close())]);
  }

  override async destroy(): Promise<void> {
    await Promise.all([this.direct.destroy(), ...[...this.viaProxy.values()].map((d) => d.destroy())]);
  }
}

/** A dispatcher for URL downloads that honours the proxy settings; close it when done. */
export function urlDispatcher(options: UrlDispatcherOptions = {}): Dispatcher {
  return new RoutingDispatcher(new ProxyResolver(options.proxy), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}
