// A cluster to read or write, named by a connect string (`--zk`) or by an
// inventory (`-i`). Through an inventory, each server's client port is
// reached over zkfleet's SSH connection to its host (a local forwarder per
// server), so no client port has to be open to the operator's machine. The
// session is zkfleet's own protocol client (zk/wire-client.ts), which has
// the multi the writer needs.
import { compareText } from "../../common/compare.js";
import { ZkfleetError } from "../../common/errors.js";
import { zooCfgPath } from "../../common/protocol.js";
import { parseSrvr, sendWord } from "../../common/four-letter.js";
import { type HostForwarders, forwardHosts } from "../connection/forward-hosts.js";
import { HostKeyRefusal } from "../connection/known-hosts.js";
import { Fleet, type FleetOptions } from "../fleet/fleet.js";
import { loadInventory } from "../inventory/load.js";
import type { Inventory } from "../inventory/schema.js";
import { type EnsembleTarget, targetOf } from "../model/target.js";
import { type TreeClient, WireClient, type WireClientOptions } from "../zk/wire-client.js";
import { JUTE_MAXBUFFER_DEFAULT, type WriteLimit, juteMaxBufferOf } from "./packet-size.js";

export type ClusterSpec = { kind: "zk"; connect: string } | { kind: "inventory"; file: string };

export interface ClusterOptions {
  sessionTimeoutMs?: number;
  auth?: WireClientOptions["auth"];
  fleet?: FleetOptions;
  /** For readers: see WireClientOptions.retryReads. */
  retryReads?: number;
  /** For walks without watches: see WireClientOptions.readSessions. */
  readSessions?: number;
  onWatch?: WireClientOptions["onWatch"];
}

export interface Cluster {
  client: TreeClient;
  label: string;
  /** What each server says it runs (`srvr`), where it answers. */
  versions(): Promise<string[]>;
  /**
   * The largest packet its servers take (jute.maxbuffer), for writers: `given`
   * (--jute-maxbuffer) when there is one, else read from the command lines of
   * the servers an inventory names, else ZooKeeper's default.
   */
  writeLimit(given?: number): Promise<WriteLimit>;
  /** What the operator should know of how it was reached (a host left out, and why). */
  notes: string[];
  close(): Promise<void>;
}

const CONNECT = /^[A-Za-z0-9._\-[\]:]+:\d{1,5}(,[A-Za-z0-9._\-[\]:]+:\d{1,5})*(\/[^,]*)?$/;

export function parseConnect(text: string): ClusterSpec {
  if (!CONNECT.test(text)) {
    throw new ZkfleetError("usage", `"${text}" is not a connect string`, { where: "--zk", hint: "give host:port[,host:port...], e.g. 10.0.0.1:2181,10.0.0.2:2181" });
  }
  return { kind: "zk", connect: text };
}

function serversOf(connect: string): { host: string; port: number }[] {
  return connect.replace(/\/.*$/, "").split(",").map((hp) => {
    const at = hp.lastIndexOf(":");
    return { host: hp.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(hp.slice(at + 1)) };
  });
}

async function probeVersions(connect: string): Promise<string[]> {
  const replies = await Promise.all(serversOf(connect).map((s) => sendWord(s.host, s.port, "srvr", 3000)));
  // "3.8.0-<build>": the release is what matters.
  return replies.flatMap((r) => {
    const version = r.kind === "answer" ? /^\d+\.\d+\.\d+/.exec(parseSrvr(r.text).version ?? "")?.[0] : undefined;
    return version ? [version] : [];
  });
}

const given = (bytes: number): WriteLimit => ({ maxBuffer: bytes, from: "as --jute-maxbuffer says" });

export async function openCluster(spec: ClusterSpec, opts: ClusterOptions = {}): Promise<Cluster> {
  const clientOptions = {
    sessionTimeoutMs: opts.sessionTimeoutMs, retryReads: opts.retryReads, onWatch: opts.onWatch, readSessions: opts.readSessions,
    ...(opts.auth ? { auth: opts.auth } : {}),
  };
  if (spec.kind === "zk") {
    const client = await WireClient.open({ connect: spec.connect, ...clientOptions });
    return {
      client, label: spec.connect, versions: () => probeVersions(spec.connect), notes: [], close: () => client.close(),
      writeLimit: async (bytes) => (bytes !== undefined ? given(bytes) : {
        maxBuffer: JUTE_MAXBUFFER_DEFAULT,
        from: "ZooKeeper's default: a connect string does not show the servers' JVM flags; give --jute-maxbuffer BYTES if they set -Djute.maxbuffer",
      }),
    };
  }
  const inventory = await loadInventory(spec.file);
  const target = targetOf(inventory, spec.file);
  const fleet = await Fleet.open([inventory], opts.fleet);
  let forwarders: HostForwarders | undefined;
  const close = async () => {
    await forwarders?.close();
    await fleet.close();
  };
  try {
    const notes = await connectAll(fleet, target);
    forwarders = await forwardHosts(fleet, target.members.map((m) => ({ host: m.host, ...m.probe })));
    const { connect, connected } = forwarders;
    const label = `${inventory.ensemble} (${spec.file}, through SSH)`;
    const client = await WireClient.open({
      connect, label, ...clientOptions,
      server: () => connected().join(",") || "none connected",
    });
    let limit: Promise<WriteLimit> | undefined;
    return {
      client, label, versions: () => probeVersions(connect), notes,
      writeLimit: (bytes) => (bytes !== undefined ? Promise.resolve(given(bytes)) : (limit ??= serversLimit(fleet, inventory, target))),
      close: async () => {
        await client.close();
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Every member's SSH connection, before anything is read or written. A host
 * whose key is refused (changed, revoked, unknown) stops the command, as it
 * stops every other: the tree would go through connections that may not be
 * the hosts' own, and a warning on stderr is lost in a script. A host that is
 * down is a note: an ensemble serves without it, and the client uses the others.
 */
async function connectAll(fleet: Fleet, target: EnsembleTarget): Promise<string[]> {
  const tried = await Promise.all(target.members.map((m) => fleet.connection(m.host).then(() => undefined, (error: unknown) => ({ host: m.host, error }))));
  const failed = tried.filter((t) => t !== undefined);
  const refused = failed.find((t) => t.error instanceof HostKeyRefusal);
  if (refused) {
    const e = refused.error as HostKeyRefusal;
    throw new ZkfleetError("ssh", `${refused.host}: ${e.message}; nothing was read or written on ${target.name}`, { where: e.where ?? refused.host, hint: e.hint, cause: e });
  }
  return failed.map((t) => `${t.host}: not reachable over SSH, left out (${t.error instanceof Error ? t.error.message : String(t.error)})`);
}

/** The smallest jute.maxbuffer among the members' running servers (a session may be on any of them). */
async function serversLimit(fleet: Fleet, inventory: Inventory, target: EnsembleTarget): Promise<WriteLimit> {
  const config = zooCfgPath(inventory.zookeeper.config_dir);
  const read: { host: string; value: number | undefined }[] = [];
  const unread: string[] = [];
  await Promise.all(target.members.map(async (m) => {
    try {
      const found = await fleet.call(m.host, "discover", {});
      const server = found.data.servers.find((s) => s.config_given === config || s.config === config);
      if (server) read.push({ host: m.host, value: juteMaxBufferOf(server.argv) });
      else unread.push(`${m.host}: no server runs with ${config}`);
    } catch (err) {
      unread.push(`${m.host}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }));
  const left = unread.length ? `; not read on ${unread.join("; ")}` : "";
  if (read.length === 0) return { maxBuffer: JUTE_MAXBUFFER_DEFAULT, from: `ZooKeeper's default: no server's command line could be read${left}` };
  const values = read.map((r) => ({ ...r, bytes: r.value ?? JUTE_MAXBUFFER_DEFAULT })).sort((a, b) => a.bytes - b.bytes || compareText(a.host, b.host));
  const least = values[0]!;
  if (least.value !== undefined) {
    return { maxBuffer: least.bytes, from: `-Djute.maxbuffer on ${least.host}'s command line, the smallest of ${read.length} server(s) read${left}` };
  }
  const plain = values.filter((v) => v.value === undefined).map((v) => v.host);
  return { maxBuffer: JUTE_MAXBUFFER_DEFAULT, from: `ZooKeeper's default: no -Djute.maxbuffer on the command line of ${plain.join(", ")}${left}` };
}
