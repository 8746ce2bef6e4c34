// Observation: ask every host what it has and what its ZooKeeper says, in one
// agent round trip per host, all hosts in parallel. Failures are part of the
// observation (an unreachable host is a fact), never an exception.
import type { Fleet, FleetHost } from "./fleet.js";
import { expectSuccess } from "./agent/client.js";
import { ZkfleetError, errorMessage } from "../common/errors.js";
import type { OpData } from "../common/protocol.js";
import { sendWordOn } from "../common/four-letter.js";
import { collectStatus } from "../common/server-status.js";
import type { HostReport } from "./status/health.js";

export interface HostObservation {
  key: string;
  reachable: boolean;
  error?: string;
  facts?: OpData<"facts">;
  status?: OpData<"status">;
  /** Content of the files asked for, null when absent. */
  files: Record<string, string | null>;
  ms: number;
}

/** Where the agent reaches the client port: the host's own address when ZooKeeper is bound to it. */
export function clientAddress(h: FleetHost): string {
  return h.inventory.zookeeper.bind_to_address ? h.spec.address : "127.0.0.1";
}

async function readFiles(fleet: Fleet, key: string, paths: readonly string[]): Promise<Record<string, string | null>> {
  const conn = await fleet.connection(key);
  const entries = await Promise.all(paths.map(async (p) => {
    const r = await conn.run(["cat", "--", p], { become: fleet.host(key).inventory.ssh.become });
    return [p, r.code === 0 ? r.stdout : null] as const;
  }));
  return Object.fromEntries(entries);
}

export async function observeHost(fleet: Fleet, key: string, filePaths: readonly string[] = []): Promise<HostObservation> {
  const started = Date.now();
  const h = fleet.host(key);
  const zk = h.inventory.zookeeper;
  try {
    const [responses, files] = await Promise.all([
      fleet.batch(key, [
        { op: "facts", args: { install_dir: zk.install_dir, data_dir: zk.data_dir, config_dir: zk.config_dir, ...(zk.data_log_dir ? { data_log_dir: zk.data_log_dir } : {}) } },
        { op: "status", args: { host: clientAddress(h), port: zk.client_port, words: ["srvr", "mntr"], timeout_ms: 3000 } },
      ]),
      readFiles(fleet, key, filePaths),
    ]);
    return {
      key, reachable: true, files, ms: Date.now() - started,
      facts: expectSuccess(key, "facts", responses[0]!).data,
      status: expectSuccess(key, "status", responses[1]!).data,
    };
  } catch (err) {
    return { key, reachable: false, error: observationError(err), files: {}, ms: Date.now() - started };
  }
}

/**
 * One line per host for status tables and apply's refusal, keeping the fix:
 * "install node" or "ssh-keygen -R" is the part of the error the operator needs.
 */
export function observationError(err: unknown): string {
  if (err instanceof ZkfleetError) return `${err.source} error: ${err.message}${err.hint ? ` (fix: ${err.hint})` : ""}`;
  return errorMessage(err).split("\n")[0] ?? String(err);
}

export async function observeAll(fleet: Fleet, keys: readonly string[], filePaths: (key: string) => string[] = () => []) {
  const results = await fleet.forEachHost(keys, (key) => observeHost(fleet, key, filePaths(key)));
  return results.map((r) => (r.ok ? r.value : { key: r.host, reachable: false, error: observationError(r.error), files: {}, ms: 0 }));
}

/**
 * The cheap observation `status` uses: four-letter words over an SSH channel
 * to the client port, no process started on the host, so watching a fleet
 * every few seconds costs its hosts nothing but a connection. The myid is
 * the one the running server reports (`conf` serverId).
 */
export async function observeServer(fleet: Fleet, key: string): Promise<HostObservation> {
  const started = Date.now();
  const h = fleet.host(key);
  const address = clientAddress(h);
  const port = h.inventory.zookeeper.client_port;
  try {
    const conn = await fleet.connection(key);
    const { data } = await collectStatus(`${address}:${port}`, ["srvr", "mntr", "conf"],
      (word) => sendWordOn(() => conn.openTcp(address, port), word, 2000));
    return { key, reachable: true, status: data, files: {}, ms: Date.now() - started };
  } catch (err) {
    return { key, reachable: false, error: observationError(err), files: {}, ms: Date.now() - started };
  }
}

export function toHostReport(h: FleetHost, o: HostObservation): HostReport {
  const s = o.status;
  return {
    host: h.spec.name,
    address: h.spec.address,
    myid: h.spec.myid,
    role: h.spec.role,
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
