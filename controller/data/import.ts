// `zkfleet import`: an export file written into a cluster, faithfully.
//
// The whole file is checked before the first write (a corrupt or truncated
// file is refused with its line number), and so is every node's size
// against what the target's servers accept (packet-size.ts). Then writer.ts
// writes it: parents first, in multi transactions, ACLs and sequence
// counters after each subtree. With a checkpoint, where the write is after every batch
// answered is saved, and a run that finds it resumes there, neither reading
// nor writing again what was written.
import { ZkfleetError } from "../../common/errors.js";
import { isSystemPath } from "../zk/paths.js";
import type { TreeClient } from "../zk/wire-client.js";
import { type ImportReport, type ImportSettings, fileNodes, fileRoot, planImport } from "./import-plan.js";
import { ImportCheckpoint } from "./import-checkpoint.js";
import { type Oversized, oversizeError, oversized } from "./packet-size.js";
import { type FileSummary, checkExportFile } from "./read-file.js";
import { writeNodes } from "./writer.js";

export interface ImportRun extends ImportSettings {
  dryRun: boolean;
  /** Versions the target's servers report (for container and TTL nodes); asked only when the file has such nodes. */
  versions: () => Promise<string[]>;
  /** Told once the file has been checked, before anything is read or written on the target. */
  onChecked?: (s: FileSummary) => void;
  /** Where progress is kept (after every batch answered), and read back to resume. */
  checkpoint?: string;
}

const atLeast353 = (v: string) => {
  const [a = 0, b = 0, c = 0] = v.split(/[.-]/).map(Number);
  return a > 3 || (a === 3 && (b > 5 || (b === 5 && c >= 3)));
};

export async function runImport(client: TreeClient, run: ImportRun): Promise<ImportReport> {
  // Sizes are checked with the file, against the target's limit: a node the servers would drop the connection on
  // is refused by path before anything is read or written.
  const big: Oversized[] = [];
  const limit = run.limit;
  const summary = await checkExportFile(run.file, limit && (({ node }) => {
    if (isSystemPath(node.path) || (node.ephemeral && run.ephemeral === "skip")) return;
    const o = oversized(node, limit);
    if (o) big.push(o);
  }));
  if (limit && big.length > 0) throw oversizeError(big, limit, client.label, "usage", "nothing was written");
  run.onChecked?.(summary);
  if (summary.extended > 0) {
    const versions = await run.versions();
    if (versions.length === 0 || !versions.every(atLeast353)) {
      throw new ZkfleetError("plan", `${run.file} holds ${summary.extended} container or TTL node(s), which need ZooKeeper 3.5.3+ on every server; ` +
        `the target reports ${versions.length ? versions.join(", ") : "no version (srvr unanswered)"}; nothing was written`, {
        where: client.label, hint: "import into a 3.5.3+ ensemble (TTL nodes also need extendedTypesEnabled=true)",
      });
    }
  }
  if (run.dryRun) return planImport(client, run);
  const root = await fileRoot(run.file);
  // Below a root the target lacks nothing can conflict: the plan would read the file once more to find nothing.
  if (run.onConflict === "fail" && (await client.exists(root))) {
    const plan = await planImport(client, run);
    if (plan.conflicts.length > 0) {
      const first = plan.conflicts.slice(0, 5).map((c) => `${c.path} (${c.differences.join(", ")})`).join("; ");
      throw new ZkfleetError("plan", `${plan.conflicts.length} node(s) exist on ${client.label} with other content, e.g. ${first}; nothing was written`, {
        where: client.label, hint: "--dry-run lists them all; --on-conflict overwrite replaces them, --on-conflict skip leaves them as they are",
      });
    }
  }
  const checkpoint = run.checkpoint ? await ImportCheckpoint.load(run.checkpoint, run.file, summary, client.label) : undefined;
  try {
    const report = await writeNodes(client, fileNodes(run.file), root, run, {
      ...(checkpoint?.mark ? { resume: checkpoint.mark } : {}),
      ...(checkpoint ? { onCommitted: (m) => checkpoint.update(m) } : {}),
    });
    await checkpoint?.finish();
    return report;
  } finally {
    await checkpoint?.settle().catch(() => undefined);
  }
}

