// `zkfleet import`: an export file written into a cluster, faithfully.
//
// The whole file is checked before the first write (a corrupt or truncated
// file is refused with its line number). Nodes are created in file order,
// pipelined on one session, so a parent's create always precedes its
// children's. The package creates every node with the open ACL, so a node's
// own ACL is set once its subtree is done (post-order): an ACL that denies
// us CREATE must not stop its children. Before that ACL, its sequence
// counter (digest.ts sequenceCounter: servers count creates) is moved on to
// the source's by creating and deleting a scratch child, one create per
// step, so the next sequential child gets the number it would have had on
// the source, whatever was deleted there.
import { randomBytes } from "node:crypto";
import { ZkfleetError } from "../../common/errors.js";
import type { ZkClient } from "../zk/client.js";
import { ZkCallError, ZkClientFailed } from "../zk/client.js";
import { childPath, isSystemPath } from "../zk/paths.js";
import { type Acl, ZkCode } from "../zk/protocol.js";
import { OPEN_ACL, differences, sameAcl } from "./compare.js";
import { type TreeNode, isEphemeral } from "./format.js";
import { sequenceCounter } from "./digest.js";
import {
  type ImportReport, type ImportSettings, type WriteSettings, Tracker, emptyReport, fileNodes, fileRoot, isNoNode, missingAncestors, nodesToWrite, noteCounter,
  planImport,
} from "./import-plan.js";
import { Limiter } from "./limiter.js";
import { type Oversized, oversizeError, oversized } from "./packet-size.js";
import { PathStack } from "./path-stack.js";
import { type FileSummary, checkExportFile } from "./read-file.js";

export interface ImportRun extends ImportSettings {
  dryRun: boolean;
  /** Versions the target's servers report (for container and TTL nodes); asked only when the file has such nodes. */
  versions: () => Promise<string[]>;
  /** Told once the file has been checked, before anything is read or written on the target. */
  onChecked?: (s: FileSummary) => void;
}

/** Whether a node that exists may be written, and what it has now. */
type State = { kind: "created" } | { kind: "existing"; acl: Acl[]; aclOnly?: true } | { kind: "left" };

interface Frame<N extends TreeNode = TreeNode> {
  path: string;
  node: N;
  state: Promise<State>;
  /** Creates issued below it (all succeed, or the import stops). */
  childCreates: number;
}

const atLeast353 = (v: string) => {
  const [a = 0, b = 0, c = 0] = v.split(/[.-]/).map(Number);
  return a > 3 || (a === 3 && (b > 5 || (b === 5 && c >= 3)));
};

export async function runImport(client: ZkClient, run: ImportRun): Promise<ImportReport> {
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
  if (run.onConflict === "fail") {
    const plan = await planImport(client, run);
    if (plan.conflicts.length > 0) {
      const first = plan.conflicts.slice(0, 5).map((c) => `${c.path} (${c.differences.join(", ")})`).join("; ");
      throw new ZkfleetError("plan", `${plan.conflicts.length} node(s) exist on ${client.label} with other content, e.g. ${first}; nothing was written`, {
        where: client.label, hint: "--dry-run lists them all; --on-conflict overwrite replaces them, --on-conflict skip leaves them as they are",
      });
    }
  }
  return writeNodes(client, fileNodes(run.file), await fileRoot(run.file), run);
}

export interface WriteHooks<N extends TreeNode> {
  /** A node written (or found as it should be) with its counter and ACL, after its whole subtree: what sync records as done. */
  onDone?: (node: N) => void | Promise<void>;
  /** What the writer is called in errors, and how to finish after a failure. */
  name?: string;
  again?: string;
}

/**
 * Writes a depth-first stream of nodes below `root` (an export file's, or a
 * live source's for sync): parents first, pipelined, ACLs and counters after
 * each subtree. A stream may leave nodes out (sync passes over what it knows
 * is unchanged): a left-out parent is neither compared nor closed.
 */
export async function writeNodes<N extends TreeNode>(
  client: ZkClient, nodes: AsyncIterable<N>, root: string, run: WriteSettings, hooks: WriteHooks<N> = {},
): Promise<ImportReport> {
  const started = Date.now();
  const report = emptyReport(false);
  const calls = new Limiter(run.window ?? 256);
  const work = new Tracker();
  const scratch = `zkfleet-counter-${randomBytes(6).toString("hex")}`;
  let counterMs = 0;
  /** Writes sent whose answer never came (the client failed or the connection went with them in flight): applied or not, nobody knows. */
  const unknown: string[] = [];
  const write = <T>(what: string, call: () => Promise<T>): Promise<T> => call().catch((err: unknown) => {
    if (outcomeUnknown(err)) unknown.push(what);
    throw err;
  });
  /** The last guard before a write: a request past the target's limit is never sent (import checked its file whole already). */
  const fits = (node: TreeNode) => {
    const o = run.limit && oversized(node, run.limit);
    if (o) throw oversizeError([o], run.limit!, client.label, "plan", "it was not written");
  };

  /** A node that exists: compared, then left, or given the source's data now (its ACL comes at close). */
  const existing = async (node: TreeNode): Promise<State> => {
    const got = await calls.run(() => client.read(node.path, { children: false }));
    const want = { data: node.data, acl: node.acl, ephemeral: node.ephemeral && run.ephemeral === "skip", ...(node.textOnly ? { textOnly: true as const } : {}) };
    const diffs = differences(want, { data: got.data, acl: got.acl, ephemeral: isEphemeral(got.stat) });
    if (diffs.length === 0) {
      report.unchanged++;
      return { kind: "existing", acl: got.acl };
    }
    report.conflicts.push({ path: node.path, differences: diffs });
    if (run.onConflict === "fail") {
      throw new ZkfleetError("zookeeper", `${node.path} appeared on ${client.label} during the import with other content (${diffs.join(", ")})`, {
        where: node.path, hint: "another client writes there: stop it, then run the import again with --on-conflict overwrite",
      });
    }
    if (run.onConflict === "skip") return { kind: "left" };
    if (diffs.includes("ephemeral")) {
      report.unresolved.push(node.path);
      return { kind: "left" };
    }
    // Counted once the server has answered its write: a report after a failure says only what was answered.
    if (!diffs.includes("data")) return { kind: "existing", acl: got.acl, aclOnly: true };
    await calls.run(() => write(`set ${node.path}`, () => client.set(node.path, node.data)));
    report.updated++;
    return { kind: "existing", acl: got.acl };
  };

  const create = (node: TreeNode): Promise<State> => {
    if (node.path === "/") return existing(node);
    const mode = node.container ? "container" : node.ttlMs !== undefined ? "ttl" : "persistent";
    return calls.run(() => write(`create ${node.path}`, () => client.create(node.path, node.data, { mode, ...(node.ttlMs !== undefined ? { ttlMs: node.ttlMs } : {}) }))).then(
      (): State => {
        report.created++;
        return { kind: "created" };
      },
      (err: unknown) => {
        if (err instanceof ZkCallError && err.rc === ZkCode.nodeExists) return existing(node);
        // The server checks the parent's ACL before whether the node exists: below a parent that denies
        // CREATE, a node that is already there answers noAuth.
        if (err instanceof ZkCallError && err.rc === ZkCode.noAuth) {
          return existing(node).catch((again: unknown) => {
            throw isNoNode(again) ? err : again;
          });
        }
        throw err;
      });
  };

  /**
   * `steps` creates (and deletes) of a scratch child. Answers come in the order the calls went out, so
   * the last one answered means all were; holding only it keeps a counter of millions from filling memory.
   */
  const bump = async (path: string, steps: number) => {
    const t = Date.now();
    const scratchPath = childPath(path, scratch);
    let failure: { error: unknown } | undefined;
    const note = (error: unknown) => void (failure ??= { error });
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < steps && !failure; i++) {
      await calls.room();
      calls.run(() => write(`create ${scratchPath}`, () => client.create(scratchPath, Buffer.alloc(0)))).catch(note);
      last = calls.run(() => write(`delete ${scratchPath}`, () => client.delete(scratchPath))).catch(note);
    }
    await last;
    if (failure) throw failure.error;
    counterMs += Date.now() - t;
  };

  /** Post-order: the counter, then the ACL (which may deny the scratch child's create). */
  const close = async (f: Frame<N>) => {
    const state = await f.state;
    if (state.kind === "left") return;
    await closeWritten(f, state);
    await hooks.onDone?.(f.node);
  };
  const closeWritten = async (f: Frame<N>, state: Exclude<State, { kind: "left" }>) => {
    // A container left without children is deleted by the server: never bump one.
    // A text-only file (zktreeutil's XML) knows neither counter nor ACL: the target keeps its own.
    if (f.node.textOnly) return;
    if (run.counters && !f.node.container) {
      const have = state.kind === "created" ? f.childCreates : sequenceCounter((await calls.run(() => client.exists(f.path)))!);
      const steps = noteCounter(report, f.path, have, sequenceCounter(f.node.stat));
      if (steps > 0) await bump(f.path, steps);
    }
    const current = state.kind === "created" ? OPEN_ACL : state.acl;
    if (!sameAcl(current, f.node.acl)) await calls.run(() => write(`setAcl ${f.path}`, () => client.setAcl(f.path, f.node.acl)));
    if (state.kind === "existing" && state.aclOnly) report.updated++;
  };

  const stack = new PathStack<Frame<N>>((f) => work.track(close(f)));
  try {
    for (const a of await missingAncestors(client, root)) {
      await write(`create ${a}`, () => client.create(a, Buffer.alloc(0)));
      report.ancestorsCreated.push(a);
    }
    for await (const { node, parent } of nodesToWrite(nodes, run, report, stack, work, started)) {
      fits(node);
      await calls.room();
      const state = create(node);
      work.track(state);
      if (parent) parent.childCreates++;
      stack.push({ path: node.path, node, state, childCreates: 0 });
    }
    stack.finish();
    await work.settle();
  } catch (err) {
    await work.settle().catch(() => undefined);
    throw stopped(err, report, unknown, client.label, hooks.name ?? "import",
      hooks.again ?? "run the same import again with --on-conflict overwrite: what was written is kept, the rest (ACLs and counters of unfinished parents included) is completed");
  }
  report.counters.ms = counterMs;
  report.ms = Date.now() - started;
  return report;
}

/** A write sent whose answer never came: the client process failed, or the connection went, with it in flight. */
function outcomeUnknown(err: unknown): boolean {
  if (err instanceof ZkClientFailed) return err.sent;
  return err instanceof ZkCallError && (err.rc === ZkCode.connectionLoss || err.rc === ZkCode.operationTimeout);
}

/** A write failed: say how far the import got, what may or may not have been written, and how to finish it; never leave it unsaid. */
function stopped(err: unknown, r: ImportReport, unknown: readonly string[], label: string, name: string, again: string): ZkfleetError {
  const cause = err instanceof ZkfleetError ? err : new ZkfleetError("zookeeper", String((err as Error)?.message ?? err));
  const ancestors = r.ancestorsCreated.length ? ` (and ${r.ancestorsCreated.length} missing ancestor(s) of its root)` : "";
  const done = `written before it stopped, each answered by the server: ${r.created} node(s) created${ancestors}, ${r.updated} updated`;
  const inFlight = unknown.length === 0 ? "" : `; ${unknown.length} write(s) were in flight and may or may not have been applied: ` +
    `${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? `, ... (${unknown.length - 10} more)` : ""}`;
  return new ZkfleetError(cause.source, `${name} into ${label} stopped: ${cause.message}; ${done}${inFlight}`, {
    where: cause.where, cause: err, hint: `${cause.hint ? cause.hint + "; then " : ""}${again}`,
  });
}
