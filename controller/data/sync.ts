// `zkfleet sync`: a target kept equal to a live source. Every pass is a walk
// of the source (export.ts liveTree, which leaves a data and a child watch on
// each node it reads) whose nodes are written by import's writer (import.ts
// writeNodes: parents first, pipelined, ACLs and sequence counters after each
// subtree, ephemeral nodes and /zookeeper left out). The checkpoint
// (checkpoint.ts) holds the stats each node had when copied; a node whose
// stats still match is passed over without touching the target.
//
// - The initial pass walks the whole tree (with --once, leaving no watches:
//   nothing follows them).
// - A fired watch queues its path (a set: one entry per path however often it
//   fires). A queued path's pass reads that node and only the descendants the
//   checkpoint does not know (new subtrees); known nodes carry watches of
//   their own.
// - Every --reconcile-every a full pass again: ZooKeeper fires no watch for an
//   ACL change, and a new session (a replaced client process) has no watches.
// - With --delete, a node whose stats changed has its target children
//   compared with the source's, and those the source lacks are deleted,
//   children before parents.
//
// Lag: for every node written because its data changed after the sync
// started (a create or a set on the source), the time from the source's
// mtime to the end of its write on the target. It needs no write to the
// source; it trusts the source servers' clocks to agree with this machine's.
import { ZkfleetError } from "../../common/errors.js";
import type { TreeClient } from "../zk/wire-client.js";
import { childPath, isSystemPath } from "../zk/paths.js";
import type { WatchEvent } from "../zk/protocol.js";
import { walkTree } from "../zk/walk.js";
import type { Checkpoint } from "./checkpoint.js";
import { type LiveNode, liveTree } from "./export.js";
import { type ImportReport, isNoNode } from "./import-plan.js";
import type { WriteLimit } from "./packet-size.js";
import { deleteNodes, writeNodes } from "./writer.js";
import { quantile } from "../../common/quantile.js";

export interface SyncSettings {
  checkpoint: Checkpoint;
  /** Where the checkpoint is saved (none: kept in memory only). */
  checkpointFile?: string;
  once: boolean;
  delete: boolean;
  reconcileEveryMs: number;
  /** How often the checkpoint is saved while passes run. */
  saveEveryMs?: number;
  /** How often a progress line is handed out while it runs. */
  reportEveryMs?: number;
  /** Stops the sync at the next safe point (the nodes handed to the writer are finished first). */
  signal: AbortSignal;
  window?: number;
  /** The target's: a source node whose write would not fit it stops the sync, by path, before it is sent. */
  limit?: WriteLimit;
  onProgress?: (line: string) => void;
}

export interface PassTotals {
  passes: number;
  /** Source nodes read. */
  read: number;
  /** Source nodes whose stats differed from the checkpoint: compared on the target. */
  compared: number;
  created: number;
  /** Existing target nodes given new data or ACL. */
  updated: number;
  deleted: number;
  /** Parents whose sequence counter was moved on. */
  counters: number;
  ms: number;
}

export interface Lag {
  /** Writes measured in the last minute. */
  samples: number;
  p50Ms: number | null;
  maxMs: number | null;
}

export interface SyncReport {
  source: string;
  target: string;
  checkpoint: string | null;
  /** Nodes the checkpoint knew when the sync started. */
  checkpointNodesAtStart: number;
  initial: PassTotals;
  events: PassTotals & { watchesFired: number };
  reconciles: PassTotals;
  /** Over the last minute (at exit); `total` over the whole run. */
  lag: Lag & { total: Lag };
  stopped: "once" | "signal";
  /** Nodes written (created, updated, deleted, counters moved) over the whole run. */
  wrote: number;
  ms: number;
}

class Stopped extends Error {}

const emptyTotals = (): PassTotals => ({ passes: 0, read: 0, compared: 0, created: 0, updated: 0, deleted: 0, counters: 0, ms: 0 });

/** Distinct paths queued by watches beyond this many: they are dropped for one full pass, which covers them all. */
const QUEUE_MAX = 10_000;
const LAG_WINDOW_MS = 60_000;
const LAG_SAMPLES_MAX = 10_000;

/** Lag samples over a sliding minute, bounded in count; and over the whole run. */
class LagMeter {
  private samples: { at: number; ms: number }[] = [];
  private all: number[] = [];

  add(ms: number): void {
    const at = Date.now();
    this.samples.push({ at, ms });
    if (this.samples.length > LAG_SAMPLES_MAX) this.samples.splice(0, this.samples.length - LAG_SAMPLES_MAX);
    this.all.push(ms);
    // The run's distribution is kept as a bounded sample (every other one once full).
    if (this.all.length > LAG_SAMPLES_MAX) this.all = this.all.filter((_, i) => i % 2 === 0);
  }

  lastMinute(): Lag {
    const since = Date.now() - LAG_WINDOW_MS;
    this.samples = this.samples.filter((s) => s.at >= since);
    return summary(this.samples.map((s) => s.ms));
  }

  total(): Lag {
    return summary(this.all);
  }
}

function summary(values: number[]): Lag {
  if (values.length === 0) return { samples: 0, p50Ms: null, maxMs: null };
  return { samples: values.length, p50Ms: quantile(values, 0.5)!, maxMs: quantile(values, 1)! };
}

export function formatLag(l: Lag): string {
  return l.samples === 0 ? "no writes measured" : `p50 ${l.p50Ms} ms, max ${l.maxMs} ms over ${l.samples} write(s)`;
}

export class Sync {
  private readonly queue = new Set<string>();
  private fullPassDue = false;
  private wake: () => void = () => undefined;
  private watchesFired = 0;
  private readonly lag = new LagMeter();
  private sourceRestarts = 0;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly source: TreeClient, private readonly target: TreeClient, private readonly s: SyncSettings) {
    s.signal.addEventListener("abort", () => this.wake(), { once: true });
  }

  /** Hand the source client's watch events here (WireClientOptions.onWatch). */
  readonly onWatch = (event: WatchEvent, path: string): void => {
    this.watchesFired++;
    // A deleted node's parent hears of it by its child watch.
    if (event === "deleted") return;
    if (this.queue.size >= QUEUE_MAX) {
      this.queue.clear();
      this.fullPassDue = true;
    } else if (!this.fullPassDue) {
      this.queue.add(path);
    }
    this.wake();
  };

  async run(): Promise<SyncReport> {
    const started = Date.now();
    const report: SyncReport = {
      source: this.s.checkpoint.source, target: this.s.checkpoint.target, checkpoint: this.s.checkpointFile ?? null,
      checkpointNodesAtStart: this.s.checkpoint.size,
      initial: emptyTotals(), events: { ...emptyTotals(), watchesFired: 0 }, reconciles: emptyTotals(),
      lag: { samples: 0, p50Ms: null, maxMs: null, total: { samples: 0, p50Ms: null, maxMs: null } }, stopped: "signal", wrote: 0, ms: 0,
    };
    let lastSave = Date.now();
    const saver = setInterval(() => {
      if (Date.now() - lastSave >= (this.s.saveEveryMs ?? 2000)) {
        lastSave = Date.now();
        void this.save().catch(() => undefined);
      }
    }, 250);
    const reporter = setInterval(() => this.s.onProgress?.(this.progress(report)), this.s.reportEveryMs ?? 10_000);
    try {
      this.sourceRestarts = this.source.restarts.length;
      const complete = await this.pass("/", "full", report.initial);
      if (complete) this.s.checkpoint.initialDone = true;
      if (this.s.once) {
        report.stopped = this.s.signal.aborted ? "signal" : "once";
      } else {
        await this.follow(report);
      }
    } finally {
      clearInterval(saver);
      clearInterval(reporter);
      await this.save();
    }
    report.events.watchesFired = this.watchesFired;
    report.lag = { ...this.lag.lastMinute(), total: this.lag.total() };
    report.wrote = [report.initial, report.events, report.reconciles].reduce((n, t) => n + t.created + t.updated + t.deleted + t.counters, 0);
    report.ms = Date.now() - started;
    return report;
  }

  /** Saves one after another: two at once would share the temporary file. */
  private save(): Promise<void> {
    const file = this.s.checkpointFile;
    if (!file) return Promise.resolve();
    const next = this.saving.catch(() => undefined).then(() => this.s.checkpoint.save(file));
    this.saving = next;
    return next;
  }

  progress(r: SyncReport): string {
    const t = (x: PassTotals) => x.created + x.updated + x.deleted;
    return `sync: ${this.s.checkpoint.size} node(s) in step; initial copy ${this.s.checkpoint.initialDone ? "done" : "running"} (${t(r.initial)} written); ` +
      `${r.events.passes} change pass(es) (${t(r.events)} written), ${r.reconciles.passes} reconcile(s) (${t(r.reconciles)} written); ` +
      `${this.queue.size} queued; lag ${formatLag(this.lag.lastMinute())}`;
  }

  /** Passes driven by watches, and a full one every reconcileEveryMs, until stopped. */
  private async follow(report: SyncReport): Promise<void> {
    let nextFull = Date.now() + this.s.reconcileEveryMs;
    while (!this.s.signal.aborted) {
      if (this.source.restarts.length !== this.sourceRestarts) {
        // A new session: the old one's watches are gone.
        this.sourceRestarts = this.source.restarts.length;
        this.fullPassDue = true;
      }
      if (this.fullPassDue || Date.now() >= nextFull) {
        this.fullPassDue = false;
        this.queue.clear();
        await this.pass("/", "full", report.reconciles);
        nextFull = Date.now() + this.s.reconcileEveryMs;
        continue;
      }
      if (this.queue.size > 0) {
        const paths = [...this.queue];
        this.queue.clear();
        for (const p of paths) {
          if (this.s.signal.aborted) break;
          await this.pass(p, "changed", report.events);
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, nextFull - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = () => undefined;
    }
    report.stopped = "signal";
  }

  /**
   * One pass below `root`: "full" reads every node; "changed" reads root and the nodes the checkpoint does
   * not know. Answers whether it went through (not stopped, root there); a pass stopped midway counts only what it read.
   */
  private async pass(root: string, kind: "full" | "changed", totals: PassTotals): Promise<boolean> {
    const started = Date.now();
    const cp = this.s.checkpoint;
    const seen = kind === "full" ? new Set<string>() : undefined;
    const measured = new Set<string>();
    const skip = kind === "full" ? undefined : (p: string) => p !== root && cp.has(p);
    const signal = this.s.signal;

    // The source's nodes, read with watches, those unchanged since their copy left out.
    const changed = async function* (nodes: AsyncIterable<LiveNode>): AsyncGenerator<LiveNode> {
      for await (const n of nodes) {
        // Thrown, not returned: the writer must not close the parents still open (their counters and
        // checkpoint entries would claim children not yet copied).
        if (signal.aborted) throw new Stopped();
        totals.read++;
        seen?.add(n.path);
        if (cp.matches(n.path, n.stat)) continue;
        // Ephemeral nodes go on to the writer, which counts and passes over them.
        if (!n.ephemeral) totals.compared++;
        if (kind === "changed" && !n.ephemeral && cp.dataChanged(n.path, n.stat)) measured.add(n.path);
        yield n;
      }
    };

    let r: ImportReport;
    try {
      if (kind === "changed" && !(await this.source.exists(root))) return false;
      r = await writeNodes(this.target, changed(liveTree(this.source, root, { watch: !this.s.once, skip, window: this.s.window })), root,
        { onConflict: "overwrite", ephemeral: "skip", counters: true, window: this.s.window, ...(this.s.limit ? { limit: this.s.limit } : {}) }, {
          name: "sync", again: "run the same sync again with the same --checkpoint: what was copied is not copied again",
          // What the checkpoint holds was copied: the target has it (compared there, not created in a multi that would be refused).
          present: (p) => cp.has(p),
          onDone: async (n, how) => {
            // A node this pass created has no children but those the pass created.
            if (this.s.delete && !how.created) totals.deleted += await this.deleteExtras(n);
            cp.record(n.path, n.stat);
            if (measured.has(n.path)) {
              measured.delete(n.path);
              this.lag.add(Math.max(0, Date.now() - n.stat.mtime));
            }
          },
        });
    } catch (err) {
      if (signal.aborted) return false;
      // The root of a change pass went between the check and the walk: its parent's pass deals with it.
      if (kind === "changed" && err instanceof ZkfleetError && err.source === "usage" && !(await this.source.exists(root))) return false;
      throw err;
    }
    totals.passes++;
    totals.created += r.created;
    totals.updated += r.updated;
    totals.counters += r.counters.parents;
    totals.ms += Date.now() - started;
    if (seen && root === "/") cp.keepOnly(seen);
    return true;
  }

  /** The target children of `n` the source lacks, deleted with their subtrees (children first); answers how many nodes went. */
  private async deleteExtras(n: LiveNode): Promise<number> {
    let have: string[];
    try {
      have = (await this.target.children(n.path)).children;
    } catch (err) {
      if (isNoNode(err)) return 0;
      throw err;
    }
    const want = new Set(n.children);
    let deleted = 0;
    for (const name of have) {
      const p = childPath(n.path, name);
      if (want.has(name) || isSystemPath(p)) continue;
      const paths: string[] = [];
      for await (const x of walkTree({ read: (path) => this.target.read(path) }, p)) paths.push(x.path);
      deleted += await deleteNodes(this.target, paths.reverse(), this.s.limit);
      this.s.checkpoint.forget(p);
    }
    return deleted;
  }
}
