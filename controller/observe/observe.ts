// Observation: ask every host what it has and what its ZooKeeper says, in one
// agent round trip per host, all hosts in parallel. Failures are part of the
// observation (an unreachable host is a fact), never an exception.
import type { Fleet } from "../fleet/fleet.js";
import { expectSuccess } from "../agent-client/client.js";
import { ZkfleetError, errorMessage } from "../../common/errors.js";
import { sendWordOn } from "../../common/four-letter.js";
import { askAtOnce, collectStatus } from "../../common/server-status.js";
import type { ObservedHost } from "../model/observed.js";
import type { Member } from "../model/target.js";
import type { HostReport } from "../status/health.js";
import type { AgentRequest, AgentResponse, FourLetterWord } from "../../common/protocol.js";
import { keygenRemovesIn } from "../connection/known-hosts.js";

export interface ObserveRequest {
  /** The managed files to read. */
  files: readonly string[];
  /** zoo.cfg, whose dynamicConfigFile is followed. */
  zooCfg: string;
  probe: Member["probe"];
}

/** Facts, the managed files and the server's own words (conf included: a running 3.5+ server's membership). */
export async function observeHost(fleet: Fleet, key: string, req: ObserveRequest): Promise<ObservedHost> {
  const started = Date.now();
  try {
    return observedFrom(key, await fleet.batch(key, observeRequests(fleet, key, req)), started);
  } catch (err) {
    return unreachable(key, err, started);
  }
}

/** The agent requests of an observation, for a batch of its own or after the lock's. */
export function observeRequests(fleet: Fleet, key: string, req: ObserveRequest): AgentRequest[] {
  const zk = fleet.host(key).inventory.zookeeper;
  return [
    {
      op: "facts",
      args: {
        install_dir: zk.install_dir, ...(zk.preinstalled ? { preinstalled: zk.preinstalled } : {}), data_dir: zk.data_dir, config_dir: zk.config_dir, ...(zk.data_log_dir ? { data_log_dir: zk.data_log_dir } : {}),
        files: [...req.files], zoo_cfg: req.zooCfg,
      },
    },
    { op: "status", args: { host: req.probe.address, port: req.probe.port, words: ["srvr", "mntr", "conf"], timeout_ms: 3000 } },
  ];
}

/** What observeRequests' responses say about the host; a failed one makes it unobservable. */
export function observedFrom(key: string, responses: readonly AgentResponse[], started: number): ObservedHost {
  try {
    return {
      host: key, reachable: true, ms: Date.now() - started,
      facts: expectSuccess(key, "facts", responses[0]!).data,
      server: expectSuccess(key, "status", responses[1]!).data,
    };
  } catch (err) {
    return unreachable(key, err, started);
  }
}

export function unreachable(key: string, err: unknown, started = Date.now()): ObservedHost {
  return { host: key, reachable: false, error: observationError(err), ms: Date.now() - started };
}

/** Hosts that could not be reached, as the one error apply and the ensemble lock both stop with. */
export function unobservableError(lines: readonly string[]): ZkfleetError {
  // A changed host key's fix is one exact command per host: the fix line gives them, not only the lines above it.
  const sorted = [...lines].sort();
  const removals = keygenRemovesIn(sorted.join("\n"));
  const keys = removals.length === 0 ? "" :
    `; for a changed host key, once the new fingerprint is confirmed out of band: ${removals.join(" && ")}, then run again with --accept-new-host-keys`;
  return new ZkfleetError("ssh", `${lines.length} host(s) cannot be observed; nothing was changed`, {
    where: sorted.join("\n         "),
    hint: `fix what is named for each host (or leave the host out of the inventory) and run apply again${keys}`,
  });
}

/**
 * One line per host for status tables and apply's refusal, keeping the fix:
 * "install node" or "ssh-keygen -R" is the part of the error the operator needs.
 */
export function observationError(err: unknown): string {
  if (err instanceof ZkfleetError) return `${err.source} error: ${err.message}${err.hint ? ` (fix: ${err.hint})` : ""}`;
  return errorMessage(err).split("\n")[0] ?? String(err);
}

export async function observeAll(fleet: Fleet, keys: readonly string[], request: (key: string) => ObserveRequest): Promise<ObservedHost[]> {
  const results = await fleet.forEachHost(keys, (key) => observeHost(fleet, key, request(key)));
  return results.map((r) => (r.ok ? r.value : unreachable(r.host, r.error)));
}

/**
 * The cheap observation `status` and the gates use: four-letter words over
 * an SSH channel to the client port, no process started on the host, so
 * watching a fleet every few seconds costs its hosts nothing but a
 * connection. The myid is the one the running server reports (`conf` serverId).
 */
export async function observeServer(fleet: Fleet, key: string, probe: Member["probe"], retry = true): Promise<ObservedHost> {
  const started = Date.now();
  try {
    const conn = await fleet.connection(key);
    const words: FourLetterWord[] = ["srvr", "mntr", "conf"];
    const { data } = await collectStatus(`${probe.address}:${probe.port}`, words,
      askAtOnce(words, (word) => sendWordOn(() => conn.openTcp(probe.address, probe.port), word, 2000)));
    return { host: key, reachable: true, server: data, ms: Date.now() - started };
  } catch (err) {
    // A connection opened before the host went away: connect once more, which says at once whether the host is there.
    if (retry && err instanceof ZkfleetError && err.lostConnection) {
      fleet.forget(key);
      return observeServer(fleet, key, probe, false);
    }
    return unreachable(key, err, started);
  }
}

/** A status row: the member as the inventory names it, and what its host and server said. */
export function toHostReport(m: Member, o: ObservedHost): HostReport {
  const s = o.server;
  return {
    host: m.host,
    address: m.address,
    myid: m.myid,
    role: m.role,
    reachable: o.reachable,
    ...(o.error ? { error: o.error } : {}),
    ...(s ? {
      running: s.running,
      ...(s.running ? { answering: Object.values(s.words).some((w) => w !== "no_answer") } : {}),
      mode: s.mode,
      version: s.version,
      zxid: s.zxid?.hex,
      connections: s.connections,
      outstanding: s.outstanding,
      latency: s.latency,
      syncedFollowers: s.synced_followers,
    } : {}),
    ...(o.facts ? { myidOnHost: o.facts.myid } : s?.conf?.serverId !== undefined ? { myidOnHost: s.conf.serverId } : {}),
    observedInMs: o.ms,
  };
}
