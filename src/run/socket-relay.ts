/**
 * A unix socket of hoist's own whose every connection is piped to another
 * socket (an SSH agent's): it can be given the owner and mode a step needs
 * (RUN --mount=type=ssh,uid=,gid=,mode=) without touching the agent's own,
 * and it can be put where the agent's cannot be bound (a rootfs without a
 * mount namespace).
 */
import { chmod } from 'node:fs/promises';
import net from 'node:net';

export interface SocketRelay {
  /** Stop listening and end the connections in flight; the socket file is removed. */
  close(): Promise<void>;
}

/** Listen at `at` (which must not exist) with `mode`, relaying to `to`. */
export async function relaySocket(at: string, to: string, mode: number): Promise<SocketRelay> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(to);
    open.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, () => resolve());
  });
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    });
  // A relay that is not handed back must not keep listening (nor keep the process alive).
  await chmod(at, mode).catch(async (err: unknown) => {
    await close();
    throw err;
  });
  return { close };
}
