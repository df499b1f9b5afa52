/**
 * Fault injection for Kafka: a TCP proxy in front of the broker's CHAOS
 * listener, which advertises the proxy's port. Clients bootstrapped through
 * `brokers` talk to Kafka only through this proxy, so `cut()` takes the broker
 * away from them (and only them) until `restore()`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { PORTS } from '../../scripts/stack/stack.ts';

export interface ChaosProxy {
  brokers: string[];
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startChaosProxy(): Promise<ChaosProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(PORTS.kafkaChaos, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(PORTS.kafkaChaosProxy, '127.0.0.1', () => resolve());
    });
  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    brokers: [`127.0.0.1:${PORTS.kafkaChaosProxy}`],
    cut: stop,
    async restore() {
      if (!server) await listen();
    },
    close: stop,
  };
}
