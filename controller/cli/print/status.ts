// status as text: a table per ensemble, then its verdict and the reasons.
import type { EnsembleReport } from "../../status/health.js";
import { type FleetStatus, committing } from "../../usecases/status.js";

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
