// What an import would do, found by reading the target only: which nodes it
// would create, which exist already as they are, which exist otherwise
// (conflicts), what it skips, and how many counter bumps it would take.
// The dry run prints it; --on-conflict fail runs it first so that a
// conflict is refused before anything is written.
import type { TreeClient } from "../zk/wire-client.js";
import { ZkCallError } from "../zk/client.js";
import { isSystemPath, parentOf } from "../zk/paths.js";
import { ZkCode } from "../zk/protocol.js";
import { type Difference, differences } from "./compare.js";
import { type TreeNode, isEphemeral } from "./format.js";
import { sequenceCounter } from "./digest.js";
import { Limiter } from "./limiter.js";
import type { WriteLimit } from "./packet-size.js";
import { PathStack } from "./path-stack.js";
import { readExportFile, readHeader } from "./read-file.js";
import { ZkfleetError } from "../../common/errors.js";

/** How nodes are written, whatever they come from (an export file, or a live tree for sync). */
export interface WriteSettings {
  onConflict: "skip" | "overwrite" | "fail";
  /** Ephemeral nodes cannot be copied as they are (a session owns them): skipped, or created as persistent nodes. */
  ephemeral: "skip" | "persistent";
  /** Continue each parent's sequence counter (cversion) as on the source. */
  counters: boolean;
  /** The target's: no write request past it is sent (packet-size.ts). */
  limit?: WriteLimit;
  window?: number;
  onProgress?: (p: { nodes: number; ms: number }) => void;
  /** Ops in one multi at most, and multis in flight at once (writer.ts). */
  batchOps?: number;
  batchesInFlight?: number;
}

export interface ImportSettings extends WriteSettings {
  file: string;
}

export interface Conflict {
  path: string;
  differences: Difference[];
}

export interface ImportReport {
  dryRun: boolean;
  nodes: number;
  created: number;
  /** Existing nodes given the file's data or ACL (overwrite). */
  updated: number;
  unchanged: number;
  /** Written by the run this one resumed (an import's checkpoint): passed over, neither read nor written. */
  resumed: number;
  /** Existing nodes that differ from the file: left (skip), replaced (overwrite), or the reason for refusing (fail). */
  conflicts: Conflict[];
  /** Conflicts overwrite cannot resolve (an ephemeral node on one side): left as they are. */
  unresolved: string[];
  ephemeralSkipped: string[];
  systemSkipped: number;
  ancestorsCreated: string[];
  counters: {
    /** Parents whose counter was (or would be) moved on. */
    parents: number;
    /** create and delete calls spent (or to be spent) on it, two per step. */
    ops: number;
    ms: number;
    /** Parents whose counter on the target is already past the source's; it cannot go back. */
    ahead: string[];
  };
  ms: number;
}

export function emptyReport(dryRun: boolean): ImportReport {
  return {
    dryRun, nodes: 0, created: 0, updated: 0, unchanged: 0, resumed: 0, conflicts: [], unresolved: [], ephemeralSkipped: [], systemSkipped: 0, ancestorsCreated: [],
    counters: { parents: 0, ops: 0, ms: 0, ahead: [] }, ms: 0,
  };
}

/** Records what moving a parent's counter from `have` to `want` costs; answers the steps (a create and a delete each) to take. */
export function noteCounter(report: ImportReport, path: string, have: number, want: number): number {
  if (want < have) report.counters.ahead.push(path);
  if (want <= have) return 0;
  report.counters.parents++;
  report.counters.ops += 2 * (want - have);
  return want - have;
}

type Probe = { kind: "absent" } | { kind: "present"; counter: number; differences: Difference[] };

interface PlanFrame {
  path: string;
  node: TreeNode;
  probe: Promise<Probe>;
  children: Promise<Probe>[];
}

/** An export file's nodes, in its order. */
export async function* fileNodes(file: string): AsyncGenerator<TreeNode> {
  for await (const { node } of readExportFile(file)) yield node;
}

/** The nodes an import writes, each with its parent's frame; the others are counted into the report and passed over. */
export async function* nodesToWrite<F extends { path: string }, N extends TreeNode>(
  nodes: AsyncIterable<N>, settings: WriteSettings, report: ImportReport, stack: PathStack<F>, work: Tracker, started: number,
): AsyncGenerator<{ node: N; parent: F | undefined }> {
  for await (const node of nodes) {
    work.check();
    report.nodes++;
    if (settings.onProgress && report.nodes % 1000 === 0) settings.onProgress({ nodes: report.nodes, ms: Date.now() - started });
    const parent = stack.enter(node.path);
    if (isSystemPath(node.path)) {
      report.systemSkipped++;
      continue;
    }
    if (node.ephemeral && settings.ephemeral === "skip") {
      report.ephemeralSkipped.push(node.path);
      continue;
    }
    yield { node, parent };
  }
}

export const isNoNode = (err: unknown) => err instanceof ZkCallError && err.rc === ZkCode.noNode;

/** Promises started along a stream: the first failure stops the stream (check) and is what settle throws. */
export class Tracker {
  private readonly pending = new Set<Promise<unknown>>();
  private failure: { error: unknown } | undefined;

  track(p: Promise<unknown>): void {
    this.pending.add(p);
    p.then(() => this.pending.delete(p), (error: unknown) => {
      this.pending.delete(p);
      this.failure ??= { error };
    });
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  check(): void {
    if (this.failure) throw this.failure.error;
  }

  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.check();
  }
}

/** The root's ancestors the target lacks, top first: an import creates them empty, with the open ACL. */
export async function missingAncestors(client: TreeClient, root: string): Promise<string[]> {
  const missing: string[] = [];
  for (let p = parentOf(root); p !== undefined && p !== "/"; p = parentOf(p)) {
    if (await client.exists(p)) break;
    missing.unshift(p);
  }
  return missing;
}

export async function fileRoot(file: string): Promise<string> {
  const header = await readHeader(file);
  if (!header) throw new ZkfleetError("usage", `${file} is not a zkfleet export`, { where: file });
  return header.root;
}

/** Reads the target for every node of the file (none below a node it lacks) and reports what an import would do. */
export async function planImport(client: TreeClient, settings: ImportSettings): Promise<ImportReport> {
  const started = Date.now();
  const report = emptyReport(true);
  const calls = new Limiter(settings.window ?? 256);
  const probe = async (node: TreeNode): Promise<Probe> => {
    try {
      const got = await calls.run(() => client.read(node.path, { children: false }));
      const want = { data: node.data, acl: node.acl, ephemeral: node.ephemeral && settings.ephemeral === "skip", ...(node.textOnly ? { textOnly: true as const } : {}) };
      return { kind: "present", counter: sequenceCounter(got.stat), differences: differences(want, { data: got.data, acl: got.acl, ephemeral: isEphemeral(got.stat) }) };
    } catch (err) {
      if (isNoNode(err)) return { kind: "absent" };
      throw err;
    }
  };
  const work = new Tracker();
  const stack = new PathStack<PlanFrame>((f) => work.track(close(f)));
  const close = async (f: PlanFrame) => {
    const p = await f.probe;
    if (!settings.counters || f.node.textOnly) return;
    const created = (await Promise.all(f.children)).filter((c) => c.kind === "absent").length;
    noteCounter(report, f.path, (p.kind === "present" ? p.counter : 0) + created, sequenceCounter(f.node.stat));
  };
  report.ancestorsCreated = await missingAncestors(client, await fileRoot(settings.file));
  for await (const { node, parent } of nodesToWrite(fileNodes(settings.file), settings, report, stack, work, started)) {
    await calls.room();
    // Below a node the target lacks, nothing exists: no need to ask.
    const p = parent ? parent.probe.then((pp) => (pp.kind === "absent" ? pp : probe(node))) : probe(node);
    work.track(p.then((r) => {
      if (r.kind === "absent") report.created++;
      else if (r.differences.length === 0) report.unchanged++;
      else report.conflicts.push({ path: node.path, differences: r.differences });
    }));
    parent?.children.push(p);
    stack.push({ path: node.path, node, probe: p, children: [] });
  }
  stack.finish();
  await work.settle();
  report.ms = Date.now() - started;
  return report;
}
