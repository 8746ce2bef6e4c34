// How the canary's clients reach the servers. Directly, as applications do,
// when the controller can dial every client port; otherwise through zkfleet's
// SSH connections (a loopback forwarder per host), because fleets often
// firewall client ports from the operator's machine, and a canary that
// cannot connect would either stop the run or report an outage nobody had.
import { connect as dial } from "node:net";
import { type HostConnections, forwardHosts } from "../connection/forward-hosts.js";
import type { EnsembleTarget } from "../model/target.js";
import type { CanaryReport, CanaryTarget } from "./canary.js";

export const CANARY_VIA = ["auto", "direct", "ssh"] as const;
export type CanaryViaOption = (typeof CANARY_VIA)[number];
export type CanaryVia = Exclude<CanaryViaOption, "auto">;

/** The figures, and which way the clients went (journal and --json). */
export type CanaryRunReport = CanaryReport & { via: CanaryVia };

export interface Reachability {
  host: string;
  /** address:port as dialled from the controller. */
  endpoint: string;
  /** Why it did not answer; absent when it did. */
  error?: string;
}

/** The path for the canary: auto goes direct only when every server probed answered from here. */
export function chooseVia(option: CanaryViaOption, probes: readonly Reachability[]): { via: CanaryVia; reason: string } {
  if (option === "direct") return { via: "direct", reason: "direct to the client ports (--canary-via direct)" };
  if (option === "ssh") return { via: "ssh", reason: "through the SSH connections (--canary-via ssh)" };
  const silent = probes.filter((p) => p.error !== undefined);
  if (silent.length === 0) return { via: "direct", reason: "direct to the client ports (every one answered from this controller)" };
  return {
    via: "ssh",
    reason: `through the SSH connections (from this controller ${silent.map((p) => `${p.host} ${p.endpoint}: ${p.error}`).join(", ")})`,
  };
}

/** One TCP connect, closed as soon as it is up: does anything answer there from this machine? */
export function probeTcp(host: string, address: string, port: number, timeoutMs = 1000): Promise<Reachability> {
  const endpoint = `${address}:${port}`;
  return new Promise((resolve) => {
    const socket = dial({ host: address, port });
    const done = (error?: string) => {
      socket.destroy();
      resolve({ host, endpoint, ...(error !== undefined ? { error } : {}) });
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once("connect", () => done());
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

export interface CanaryRoute {
  via: CanaryVia;
  /** One line for people: the path and why. */
  reason: string;
  /** The full connect string ("all") and one per pinned server. */
  targets: CanaryTarget[];
  /** Closes the forwarders (if any); never rejects. */
  close(): Promise<void>;
}

/**
 * Chooses the path and opens it. `pinned` are the servers that serve now (a
 * pinned client on a server that is down has nothing to show); only they are
 * probed, since a server that is down does not answer whatever the firewall.
 */
export async function openCanaryRoute(
  hosts: HostConnections, target: EnsembleTarget, clientPort: number, pinned: readonly string[], option: CanaryViaOption,
): Promise<CanaryRoute> {
  const members = target.members;
  const probed = option === "auto"
    ? await Promise.all(members.filter((m) => pinned.includes(m.host)).map((m) => probeTcp(m.host, m.address, clientPort)))
    : [];
  const { via, reason } = chooseVia(option, probed);
  const pinnedMembers = members.filter((m) => pinned.includes(m.host));
  if (via === "direct") {
    const direct = (address: string) => `${address}:${clientPort}`;
    return {
      via, reason, close: async () => {},
      targets: [
        { label: "all", connect: members.map((m) => direct(m.address)).join(",") },
        ...pinnedMembers.map((m) => ({ label: m.host, connect: direct(m.address) })),
      ],
    };
  }
  // The server's address as its own host dials it; a refused or lost host closes the client's connection, and the client moves on.
  const forwarders = await forwardHosts(hosts, members.map((m) => ({ host: m.host, ...m.probe })), { openTimeoutMs: 3000 });
  return {
    via, reason, close: () => forwarders.close(),
    targets: [
      { label: "all", connect: forwarders.connect },
      ...pinnedMembers.map((m) => ({ label: m.host, connect: forwarders.addressOf(m.host) })),
    ],
  };
}
