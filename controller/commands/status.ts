// `zkfleet status`: one view of a fleet of ensembles. Every host of every
// inventory is observed in parallel over one SSH connection each, reading the
// four-letter words through the connection (no process on the host); the
// verdict per ensemble comes from the pure rules in status/health.ts.
import { Fleet, type FleetOptions } from "../fleet.js";
import type { Inventory } from "../inventory/schema.js";
import { targetOf } from "../model/target.js";
import { observeServer, toHostReport, unreachable } from "../observe.js";
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

const VERDICT_MARK: Record<EnsembleReport["verdict"], string> = {
  healthy: "OK",
  degraded: "DEGRADED",
  "no-quorum": "NO QUORUM",
  "split-brain": "SPLIT BRAIN",
};

function cell(v: unknown): string {
  return v === undefined || v === null || v === "" ? "-" : String(v);
}

/** Human rendering: a table per ensemble, then the verdict and its reasons. */
export function formatStatus(s: FleetStatus): string {
  const lines: string[] = [];
  for (const e of s.ensembles) {
    lines.push(`${e.ensemble} (${e.inventory}), ZooKeeper ${e.version}`);
    const header = ["host", "address", "ssh", "mode", "version", "zxid", "myid", "conns", "lat min/avg/max", "outst"];
    const rows = e.hosts.map((h) => [
      h.host, h.address, h.reachable ? "ok" : "FAIL",
      h.reachable ? (h.running === false ? "down" : cell(h.mode ?? "not serving")) : "-",
      cell(h.version?.split(/[-,]/)[0]), cell(h.zxid), cell(h.myidOnHost?.trim()),
      cell(h.connections), h.latency ? `${h.latency.min}/${h.latency.avg}/${h.latency.max}` : "-", cell(h.outstanding),
    ]);
    const widths = header.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) => "  " + r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
    lines.push(fmt(header), ...rows.map(fmt));
    const synced = e.syncedFollowers === undefined ? "" : `, ${e.syncedFollowers} synced followers`;
    const mark = committing(e) ? VERDICT_MARK[e.verdict] : "NOT COMMITTING";
    lines.push(`  ${mark}: leader ${e.leader ?? "none"}, ${e.votersUp}/${e.voters} voters up (quorum ${e.quorum})${synced}`);
    if (e.commit) lines.push(e.commit.committed ? `  a write committed in ${e.commit.ms} ms` : `    - no write committed: ${e.commit.error}`);
    for (const p of e.problems) lines.push(`    - ${p}`);
    lines.push("");
  }
  const bad = s.ensembles.filter((e) => e.verdict !== "healthy" || !committing(e)).length;
  lines.push(`${s.ensembles.length} ensemble(s), ${bad} not healthy, observed in ${(s.ms / 1000).toFixed(2)}s`);
  return lines.join("\n");
}
