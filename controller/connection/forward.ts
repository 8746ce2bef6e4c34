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
    open().then((remote) => {
      if (socket.destroyed) return remote.destroy();
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
    }, (err: unknown) => {
      opts.onError?.(err);
      socket.destroy();
    });
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
