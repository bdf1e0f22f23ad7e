import type { AddressInfo, Server } from 'node:net';

/** Listen on a free loopback port; resolves with `127.0.0.1:PORT`, rejects if listening fails. */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}
