// `zkfleet status`: one view of a fleet of ensembles. Every host of every
// inventory is observed in parallel over one SSH connection each, reading the
// four-letter words through the connection (no process on the host); the
// verdict per ensemble comes from the pure rules in status/health.ts.
import { Fleet, type FleetOptions } from "../fleet/fleet.js";
import type { Inventory } from "../inventory/schema.js";
import { targetOf } from "../model/target.js";
import { observeServer, toHostReport, unreachable } from "../observe/observe.js";
import { type EnsembleReport, judgeEnsemble } from "../status/health.js";
import { type CommitProbe, probeCommit } from "../zk/commit-probe.js";

export interface StatusInput {
  inventories: { file: string; inventory: Inventory }[];
  fleet?: FleetOptions;
  /** --write-probe: also write (and delete) a znode through every ensemble that has a leader. */
  writeProbe?: { timeoutMs: number };
}

export interface FleetStatus {
  /** `commit`: the write probe's result, when asked for and the ensemble had a leader to ask. */
  ensembles: (EnsembleReport & { commit?: CommitProbe })[];
  ms: number;
}

/** A verdict from modes and zxids, and a write that did not commit: the run is not healthy. */
export const committing = (e: FleetStatus["ensembles"][number]) => e.commit === undefined || e.commit.committed;

export async function runStatus(input: StatusInput, fleet?: Fleet): Promise<FleetStatus> {
  const started = Date.now();
  const own = fleet ?? (await Fleet.open(input.inventories.map((i) => i.inventory), input.fleet));
  try {
    const targets = input.inventories.map(({ file, inventory }) => ({ inventory, target: targetOf(inventory, file) }));
    const memberOf = (key: string) => {
      const h = own.host(key);
      return targets.find((t) => t.inventory === h.inventory)!.target.members.find((m) => m.host === h.spec.name);
    };
    // Hosts marked absent (leaving, or the old half of a move) are not members: the ensemble is judged without them.
    const members = own.hosts.filter((h) => memberOf(h.key) !== undefined);
    const keys = members.map((h) => h.key);
    const results = await own.forEachHost(keys, (key) => observeServer(own, key, memberOf(key)!.probe));
    // The pool connects before calling: a host it cannot reach arrives as an error.
    const observed = new Map(results.map((r) => [r.host, r.ok ? r.value : unreachable(r.host, r.error)]));
    const ensembles = await Promise.all(targets.map(async ({ inventory, target }) => {
      const hosts = members.filter((h) => h.inventory === inventory);
      const report = judgeEnsemble(target, hosts.map((h) => toHostReport(memberOf(h.key)!, observed.get(h.key)!)));
      if (!input.writeProbe || report.leader === undefined) return report;
      const endpoints = hosts.filter((h) => observed.get(h.key)!.reachable).map((h) => ({ host: h.key, ...memberOf(h.key)!.probe }));
      return { ...report, commit: await probeCommit(own, endpoints, { timeoutMs: input.writeProbe.timeoutMs, label: target.name }) };
    }));
    return { ensembles, ms: Date.now() - started };
  } finally {
    if (!fleet) await own.close();
  }
}
