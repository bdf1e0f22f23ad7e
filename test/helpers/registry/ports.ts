/** Free loopback ports for processes that must be told their port up front. */
import net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
 * Another process may take it before the caller binds it: callers that start
 * a server on it should retry on "address already in use".
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no address'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
