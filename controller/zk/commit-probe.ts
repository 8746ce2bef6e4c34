// Whether an ensemble commits a write. Modes and zxids say who leads and who
// follows, not that a quorum acknowledges anything: in the lab a 3.9.3 leader
// that had lost its designation went on reporting "leader" with two synced
// followers while it committed nothing for minutes. A write that comes back
// is the one proof. The probe creates a sequential znode through the
// ensemble's client ports (reached through the hosts' SSH connections, as
// status reads them) and deletes it; it is ephemeral, so nothing stays
// behind whatever happens to the delete.
import { errorMessage } from "../../common/errors.js";
import { type Endpoint, type HostConnections, forwardHosts } from "../connection/forward-hosts.js";
import { ZkClient } from "./client.js";

export interface CommitProbe {
  committed: boolean;
  /** From asking for a session to the write's answer (or to giving up). */
  ms: number;
  /** The znode written (and deleted again). */
  path?: string;
  /** Why no write committed: no session, refused, or no answer in time. */
  error?: string;
}

export interface CommitProbeOptions {
  timeoutMs: number;
  /** The znode's name before its sequence number. */
  prefix?: string;
  data?: Buffer;
  label?: string;
}

export async function probeCommit(hosts: HostConnections, endpoints: readonly Endpoint[], opts: CommitProbeOptions): Promise<CommitProbe> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const forwarders = await forwardHosts(hosts, endpoints, { openTimeoutMs: Math.min(3000, opts.timeoutMs) });
  let client: ZkClient | undefined;
  // Given up on: a session that opens only now is closed at once, or it would keep the controller alive.
  let abandoned = false;
  let timer: NodeJS.Timeout | undefined;
  // A leader that commits nothing leaves the create unanswered until the session gives up: the probe does not wait for that.
  const late = new Promise<CommitProbe>((resolve) => {
    timer = setTimeout(() => resolve({ committed: false, ms: Date.now() - started, error: `no write committed within ${opts.timeoutMs / 1000}s` }), opts.timeoutMs);
  });
  const write = async (): Promise<CommitProbe> => {
    try {
      client = await ZkClient.open({ connect: forwarders.connect, label: opts.label ?? "the ensemble", connectTimeoutMs: Math.max(1000, deadline - Date.now()) });
      if (abandoned) {
        await client.close();
        return { committed: false, ms: Date.now() - started, error: "given up" };
      }
      const path = await client.create(opts.prefix ?? "/zkfleet-probe-", opts.data ?? Buffer.from(""), { sequential: true, mode: "ephemeral" });
      const ms = Date.now() - started;
      await client.delete(path);
      return { committed: true, ms, path };
    } catch (err) {
      return { committed: false, ms: Date.now() - started, error: errorMessage(err) };
    }
  };
  try {
    return await Promise.race([write(), late]);
  } finally {
    abandoned = true;
    clearTimeout(timer);
    await client?.close().catch(() => undefined);
    await forwarders.close();
  }
}
