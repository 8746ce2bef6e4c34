// One loopback forwarder per server, each leading to that server's client
// port through its host's SSH connection: a client that only dials host:port
// (the native ZooKeeper client) then reaches servers whose client ports are
// closed to the operator's machine. The data commands and the canary use it.
import type { Duplex } from "node:stream";
import { ZkfleetError } from "../../common/errors.js";
import { type Forwarder, forwardTcp } from "./forward.js";
import type { Connection } from "./types.js";

/**
 * Where each host's connection comes from (a Fleet). The connection of a
 * host may be replaced at any time by whoever finds it lost, so it is asked
 * for again at every accepted connection; while a connection is current,
 * connection() hands out the same promise.
 */
export interface HostConnections {
  connection(host: string): Promise<Connection>;
  /** Drops a lost connection so that the next connection() connects afresh. */
  forget(host: string): void;
}

/** A server's client port as dialled from its own host. */
export interface Endpoint {
  host: string;
  address: string;
  port: number;
}

export interface HostForwarders {
  readonly forwarders: readonly { host: string; forwarder: Forwarder }[];
  /** Every forwarder's 127.0.0.1:port, in the order of the endpoints: a connect string. */
  readonly connect: string;
  /** One host's forwarder, "127.0.0.1:port". */
  addressOf(host: string): string;
  /** Hosts with a piped connection right now. */
  connected(): string[];
  /** Stops listening and cuts every piped connection; never rejects. */
  close(): Promise<void>;
}

export interface ForwardHostsOptions {
  /** See ForwardOptions.openTimeoutMs. */
  openTimeoutMs?: number;
  /** Told why a connection was refused (host gone, server down). */
  onError?: (host: string, err: unknown) => void;
}

/**
 * A stream to the endpoint through its host's current connection; a lost one
 * is replaced once. Once the forwarders are closed no connection is asked
 * for: one opened after its fleet closed would keep the controller alive.
 */
async function openThrough(hosts: HostConnections, e: Endpoint, closed: () => boolean): Promise<Duplex> {
  const current = () => {
    if (closed()) throw new ZkfleetError("ssh", `the forwarder to ${e.host} is closed`, { where: e.host });
    return hosts.connection(e.host);
  };
  const pending = current();
  try {
    return await (await pending).openTcp(e.address, e.port);
  } catch (err) {
    if (!(err instanceof ZkfleetError && err.lostConnection)) throw err;
    // A connection from before the host went away: one fresh one says at once whether the host is there.
    // Someone else may have replaced it already; their fresh connection must not be dropped.
    if (current() === pending) hosts.forget(e.host);
    return (await current()).openTcp(e.address, e.port);
  }
}

export async function forwardHosts(hosts: HostConnections, endpoints: readonly Endpoint[], opts: ForwardHostsOptions = {}): Promise<HostForwarders> {
  const forwarders: { host: string; forwarder: Forwarder }[] = [];
  let closed = false;
  const close = async () => {
    closed = true;
    await Promise.allSettled(forwarders.map((f) => f.forwarder.close()));
  };
  try {
    for (const e of endpoints) {
      const forwarder = await forwardTcp(() => openThrough(hosts, e, () => closed), {
        ...(opts.openTimeoutMs !== undefined ? { openTimeoutMs: opts.openTimeoutMs } : {}),
        ...(opts.onError ? { onError: (err: unknown) => opts.onError!(e.host, err) } : {}),
      });
      forwarders.push({ host: e.host, forwarder });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    forwarders,
    connect: forwarders.map((f) => f.forwarder.address).join(","),
    addressOf: (host) => {
      const f = forwarders.find((x) => x.host === host);
      if (!f) throw new Error(`no forwarder for ${host}`);
      return f.forwarder.address;
    },
    connected: () => forwarders.filter((f) => f.forwarder.active() > 0).map((f) => f.host),
    close,
  };
}
