// A cluster to read or write, named by a connect string (`--zk`) or by an
// inventory (`-i`). Through an inventory, each server's client port is
// reached over zkfleet's SSH connection to its host (a local forwarder per
// server), so no client port has to be open to the operator's machine.
import { ZkfleetError } from "../../common/errors.js";
import { parseSrvr, sendWord } from "../../common/four-letter.js";
import { type HostForwarders, forwardHosts } from "../connection/forward-hosts.js";
import { Fleet, type FleetOptions } from "../fleet.js";
import { loadInventory } from "../inventory/load.js";
import { targetOf } from "../model/target.js";
import { ZkClient, type ZkClientOptions } from "../zk/client.js";

export type ClusterSpec = { kind: "zk"; connect: string } | { kind: "inventory"; file: string };

export interface ClusterOptions {
  sessionTimeoutMs?: number;
  auth?: ZkClientOptions["auth"];
  fleet?: FleetOptions;
  /** For readers: see ZkClientOptions.retryReads. */
  retryReads?: number;
  onWatch?: ZkClientOptions["onWatch"];
}

export interface Cluster {
  client: ZkClient;
  label: string;
  /** What each server says it runs (`srvr`), where it answers. */
  versions(): Promise<string[]>;
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

export async function openCluster(spec: ClusterSpec, opts: ClusterOptions = {}): Promise<Cluster> {
  const clientOptions = {
    sessionTimeoutMs: opts.sessionTimeoutMs, retryReads: opts.retryReads, onWatch: opts.onWatch, ...(opts.auth ? { auth: opts.auth } : {}),
  };
  if (spec.kind === "zk") {
    const client = await ZkClient.open({ connect: spec.connect, ...clientOptions });
    return { client, label: spec.connect, versions: () => probeVersions(spec.connect), close: () => client.close() };
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
    forwarders = await forwardHosts(fleet, target.members.map((m) => ({ host: m.host, ...m.probe })));
    const { connect, connected } = forwarders;
    const label = `${inventory.ensemble} (${spec.file}, through SSH)`;
    const client = await ZkClient.open({
      connect, label, ...clientOptions,
      server: () => connected().join(",") || "none connected",
    });
    return {
      client, label, versions: () => probeVersions(connect),
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
