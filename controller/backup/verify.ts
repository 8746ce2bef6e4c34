// After a restore: the restored tree against the backup's export. The
// physical files hold the tree at one transaction (the manifest's
// last_zxid); the export was read from the live ensemble after them, while
// clients may still have written. So the two are compared node by node, and
// a difference is accepted only where the export itself shows a change after
// last_zxid: a node created or modified later (czxid, mzxid), or a child
// list changed later (the parent's pzxid: a node deleted since, a sequence
// counter moved on). Anything else (an ACL, data on a node untouched since)
// is a failed restore.
import { join } from "node:path";
import type { ClusterOptions } from "../data/cluster.js";
import { type DiffEntry, type DiffReport, diffTrees } from "../data/diff.js";
import { readExportFile } from "../data/read-file.js";
import { openSide } from "../data/sides.js";
import type { Stat } from "../zk/protocol.js";
import { parentOf } from "../zk/paths.js";
import { EXPORT_FILE, type Manifest } from "./manifest.js";

export interface RestoreVerification {
  report: DiffReport;
  /** Differences explained by writes after the physical copy, with the zxid that explains each. */
  explained: number;
  /** Differences nothing explains: the restore is wrong. */
  unexplained: DiffEntry[];
  /** The physical copy's last transaction. */
  lastZxid: string;
  ok: boolean;
}

/** Why a difference is one the export shows happening after the copy, or undefined. */
export function explainDifference(d: DiffEntry, statOf: (path: string) => Stat | undefined, lastZxid: bigint): string | undefined {
  const after = (z: number | undefined) => z !== undefined && BigInt(z) > lastZxid;
  const own = statOf(d.path);
  if (own && after(own.czxid)) return `created after the copy (czxid 0x${own.czxid.toString(16)})`;
  switch (d.kind) {
    case "data": return own && after(own.mzxid) ? `modified after the copy (mzxid 0x${own.mzxid.toString(16)})` : undefined;
    case "counter": return own && after(own.pzxid) ? `children changed after the copy (pzxid 0x${own.pzxid.toString(16)})` : undefined;
    case "missing": return undefined;
    case "extra": {
      // Deleted after the copy: the nearest ancestor the export still has changed its children after it.
      for (let p = parentOf(d.path); p !== undefined; p = parentOf(p)) {
        const st = statOf(p);
        if (st) return after(st.pzxid) ? `deleted after the copy (${p} pzxid 0x${st.pzxid.toString(16)})` : undefined;
      }
      return undefined;
    }
    default: return undefined;
  }
}

export async function verifyRestored(inventoryFile: string, dir: string, manifest: Manifest, opts: ClusterOptions): Promise<RestoreVerification> {
  const exportFile = join(dir, EXPORT_FILE);
  const a = await openSide({ kind: "file", file: exportFile }, undefined, "/", {});
  const b = await openSide({ kind: "inventory", file: inventoryFile }, "/", "/", opts);
  const diffs: DiffEntry[] = [];
  let report: DiffReport;
  try {
    report = await diffTrees({ label: a.label, nodes: a.nodes }, { label: b.label, nodes: b.nodes }, (d) => diffs.push(d));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  const lastZxid = BigInt(manifest.last_zxid);
  if (diffs.length === 0) return { report, explained: 0, unexplained: [], lastZxid: manifest.last_zxid, ok: true };
  // The stats the explanations need: each differing path and its ancestors, read from the export once more.
  const wanted = new Set<string>();
  for (const d of diffs) for (let p: string | undefined = d.path; p !== undefined; p = parentOf(p)) wanted.add(p);
  const stats = new Map<string, Stat>();
  for await (const { node } of readExportFile(exportFile)) if (wanted.has(node.path)) stats.set(node.path, node.stat);
  const unexplained = diffs.filter((d) => explainDifference(d, (p) => stats.get(p), lastZxid) === undefined);
  return { report, explained: diffs.length - unexplained.length, unexplained, lastZxid: manifest.last_zxid, ok: unexplained.length === 0 };
}
