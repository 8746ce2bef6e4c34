// A local port that leads somewhere else: every connection accepted on
// 127.0.0.1 (ephemeral port) is piped through a stream the caller opens,
// typically Connection.openTcp (an SSH direct-tcpip channel), so a client
// library that only dials host:port (the native ZooKeeper client) reaches a
// server through zkfleet's SSH connection. Nothing listens beyond loopback.
import { type Server, type Socket, createServer } from "node:net";
import type { Duplex } from "node:stream";

export interface Forwarder {
  readonly port: number;
  /** "127.0.0.1:port", for a connect string. */
  readonly address: string;
  /** Connections piped right now. */
  active(): number;
  /** Stops listening and cuts every piped connection. */
  close(): Promise<void>;
}

export interface ForwardOptions {
  /** Told when a stream cannot be opened (the accepted socket is then closed, as a refused port would be). */
  onError?: (err: unknown) => void;
  /**
   * Give up on an open after this long and close the accepted socket: a
   * client waiting on a host that went silent should move on to another
   * server, as it would from a port that does not answer.
   */
  openTimeoutMs?: number;
}

export async function forwardTcp(open: () => Promise<Duplex>, opts: ForwardOptions = {}): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const streams = new Set<Duplex>();
  // Half-open allowed: a client that sends and then shuts down its side (a four-letter word) still gets the answer.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    // Hold what the client sends until the far end is open.
    socket.pause();
    let settled = false;
    const refuse = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.onError?.(err);
      socket.destroy();
    };
    const timer = opts.openTimeoutMs === undefined ? undefined : setTimeout(() => {
      refuse(new Error(`the far end did not open within ${opts.openTimeoutMs} ms`));
    }, opts.openTimeoutMs);
    socket.once("close", () => clearTimeout(timer));
    // Synchronous throws of open() are refusals too: a forwarder never throws into the process that holds it.
    Promise.resolve().then(open).then((remote) => {
      if (settled || socket.destroyed) return void remote.destroy();
      settled = true;
      clearTimeout(timer);
      streams.add(remote);
      const cut = () => {
        socket.destroy();
        remote.destroy();
        streams.delete(remote);
      };
      remote.on("error", cut);
      remote.on("close", cut);
      socket.on("close", cut);
      socket.pipe(remote);
      remote.pipe(socket);
      socket.resume();
    }, refuse);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    active: () => streams.size,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      for (const r of streams) r.destroy();
      server.close(() => resolve());
    }),
  };
}
