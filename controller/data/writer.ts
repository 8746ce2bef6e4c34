// Writing a depth-first stream of nodes into a cluster (import's and sync's
// writer), in multi transactions: one multi is one transaction on the
// server, so a thousand creates cost what one create costs in agreement and
// log writes (bench/README.md: about 10x fewer seconds than pipelined single
// creates).
//
// - Parents before children: creates go into batches in stream order, and
//   batches go out in order on one session, whose requests the server
//   applies in the order they were sent; a few batches are in flight at once.
// - A node's create carries its own ACL when nothing is written below it
//   (the next node of the stream says whether it is a parent). A parent is
//   created with the open ACL and given its own after its subtree
//   (post-order: its ACL may deny the CREATE its children need).
// - Sequence counters: servers count creates (digest.ts sequenceCounter), so
//   after a parent's subtree the writer creates and deletes a scratch child
//   as many times as the source's counter is ahead, as create/delete pairs
//   inside multis (a multi's creates count like any others: checked on
//   3.4.13, 3.8.0 and 3.9.3).
// - A multi is atomic: one create of a node that exists fails it whole, and
//   nothing of it is applied. That batch is then written node by node with
//   the usual rules (--on-conflict), and while batches keep meeting existing
//   nodes (a second import, a resumed sync) the writer stays node by node.
// - Counters are computed from what the answered batches created, assuming
//   the unanswered ones will create theirs; a failed batch can only make the
//   writer assume too many children created (never too few), and the close
//   of each parent, done once its batch is answered, makes up what is still
//   missing. A parent not created by this write is read first.
// - No request is larger than the target allows (batches.ts); a node that
//   cannot fit any request is refused by path before it is sent.
// - After each batch answered, onCommitted says how far the write is
//   (WriteMark), which an import keeps as its checkpoint: a run that resumes
//   from it writes nothing it had written.
import { randomBytes } from "node:crypto";
import { ZkfleetError } from "../../common/errors.js";
import { ZkCallError } from "../zk/client.js";
import { childPath, comparePaths, isUnder } from "../zk/paths.js";
import { type Acl, type CreateMode, type Stat, ZkCode } from "../zk/protocol.js";
import type { MultiOp, TreeClient } from "../zk/wire-client.js";
import { JUTE_MAXBUFFER_DEFAULT, MULTI_EMPTY_BYTES, type WriteLimit, type WriteOp, multiOpBytes, oversizeError, oversized, packetLimit, requestBytes } from "./packet-size.js";
import { OPEN_ACL, differences, sameAcl } from "./compare.js";
import { sequenceCounter } from "./digest.js";
import { type TreeNode, isEphemeral } from "./format.js";
import { type ImportReport, type WriteSettings, Tracker, emptyReport, isNoNode, missingAncestors, nodesToWrite, noteCounter } from "./import-plan.js";
import { Limiter } from "./limiter.js";
import { PathStack } from "./path-stack.js";
import { ZkClientFailed } from "../zk/client.js";

/** How far a write is: every node up to `created` (stream order) is written, every close up to `closed` (post-order) done. */
export interface WriteMark {
  created: string | null;
  closed: string | null;
}

export interface WriteHooks<N extends TreeNode> {
  /** A node written (or found as it should be) with its counter and ACL, after its whole subtree: what sync records as done. */
  onDone?: (node: N, how: { created: boolean }) => void | Promise<void>;
  /** What the writer is called in errors, and how to finish after a failure. */
  name?: string;
  again?: string;
  /** Nodes the caller knows the target has (sync's checkpoint): read and compared there, never created in a multi. */
  present?: (path: string) => boolean;
  /** Where an earlier run of the same write stopped: what it wrote is neither written nor read again (an import's checkpoint). */
  resume?: WriteMark;
  /** After every batch answered and every parent closed. */
  onCommitted?: (mark: WriteMark) => void;
}

/** True when `path`'s close comes at or before `mark`'s in post-order (children before parents, siblings in order). */
export function closedBy(path: string, mark: string): boolean {
  return isUnder(path, mark) || (comparePaths(path, mark) < 0 && !isUnder(mark, path));
}


type State =
  | { kind: "pending" }
  | { kind: "created"; ownAcl: boolean }
  /** acl: what the target has (undefined: not read yet, for a node an earlier run wrote); aclOnly: only its ACL differs (set at its close). */
  | { kind: "existing"; acl?: Acl[]; aclOnly?: true }
  | { kind: "left" };

interface Frame<N extends TreeNode> {
  path: string;
  node: N;
  parent: Frame<N> | undefined;
  state: State;
  /** Settles once `state` is no longer pending. */
  ready: Promise<void>;
  settle: () => void;
  /** Its create is in this batch, until the batch is answered. */
  batch: Batch<N> | undefined;
  /** Children this write created (answered), and whose creates are in batches not yet answered. */
  created: number;
  assumed: number;
  /** Scratch creates for its counter, committed. */
  bumped: number;
  /**
   * A child's create or a scratch pair whose outcome this write did not see (a node found there, which a multi
   * answered on a lost connection may have made; a bump sent node by node): the servers counted what they applied,
   * so its close reads the counter from them instead of adding up its own.
   */
  uncertain: boolean;
  /** Children placed (created in a batch, or read) whose state is not known yet; `whenSettled` hears when none is left. */
  unsettled: number;
  whenSettled: (() => void) | undefined;
  /** An earlier run wrote it (resume), and its close too when `closed`. */
  resumed: boolean;
  closed: boolean;
}

type Create = Extract<MultiOp, { op: "create" }>;

type Entry<N extends TreeNode> =
  | { kind: "create"; frame: Frame<N>; op: Create; ownAcl: boolean }
  | { kind: "bump"; frame: Frame<N>; steps: number }
  | { kind: "close"; frame: Frame<N> };

interface Batch<N extends TreeNode> {
  entries: Entry<N>[];
  ops: MultiOp[];
  bytes: number;
  sent: boolean;
  /** Sent as one request (not node by node); its answer, once the server gave it. */
  asOne?: true;
  answer?: Answer;
  processed?: true;
  /** Answered and processed (a refused one written node by node). */
  done: Promise<void>;
}

type Answer = { ok: true } | { ok: false; rc: number; index: number };

const OPEN: readonly Acl[] = OPEN_ACL;
/** Ops in one multi at most: the server's work per multi grows with its ops, and a smaller one answers sooner. */
const MAX_OPS = 1000;
const DEFAULT_LIMIT: WriteLimit = { maxBuffer: JUTE_MAXBUFFER_DEFAULT, from: "ZooKeeper's default" };
const modeOf = (n: TreeNode): CreateMode => (n.container ? "container" : n.ttlMs !== undefined ? "ttl" : "persistent");

/**
 * Writes a depth-first stream of nodes below `root` (an export file's, or a
 * live source's for sync). A stream may leave nodes out (sync passes over
 * what it knows is unchanged): a left-out parent is neither compared nor
 * closed.
 */
export async function writeNodes<N extends TreeNode>(
  client: TreeClient, nodes: AsyncIterable<N>, root: string, run: WriteSettings, hooks: WriteHooks<N> = {},
): Promise<ImportReport> {
  return new Writer(client, run, hooks, root).write(nodes);
}

class Writer<N extends TreeNode> {
  readonly report = emptyReport(false);
  private readonly started = Date.now();
  /** Single calls (node by node, reads of existing nodes) in flight at most. */
  private readonly calls: Limiter;
  private readonly work = new Tracker();
  private readonly scratch = `zkfleet-counter-${randomBytes(6).toString("hex")}`;
  private readonly limit: WriteLimit;
  /** Bytes a request may take (the limit's), and ops a multi may hold. */
  private readonly maxBytes: number;
  private readonly maxOps: number;
  /** Writes sent whose answer never came (the connection went with them in flight, the session could not be kept). */
  private readonly unknown: string[] = [];
  private readonly inFlight: number;
  private current: Batch<N>;
  /** Sent and not yet processed, oldest first. */
  private readonly flying: Batch<N>[] = [];
  /** Batches are processed one after another, in the order they were sent. */
  private chain: Promise<void> = Promise.resolve();
  /** Node by node while batches keep meeting nodes that exist. */
  private single = false;
  /** The newest node, whose create waits for the next one: is that below it? */
  private held: Frame<N> | undefined;
  /** Closes of the frames the stream left, in order. */
  private closing: Promise<void> = Promise.resolve();
  /** Reads of nodes known to exist: a batch goes out only after them, so one found missing is created before its children. */
  private presentReads: Promise<unknown>[] = [];
  private readonly mark: WriteMark = { created: null, closed: null };
  private counterMs = 0;
  private readonly pathBytes: (path: string) => number;

  constructor(private readonly client: TreeClient, private readonly run: WriteSettings, private readonly hooks: WriteHooks<N>, private readonly root: string) {
    this.calls = new Limiter(run.window ?? 256);
    this.limit = run.limit ?? DEFAULT_LIMIT;
    this.maxBytes = packetLimit(this.limit);
    this.maxOps = run.batchOps ?? MAX_OPS;
    this.inFlight = run.batchesInFlight ?? 3;
    this.current = this.newBatch();
    if (hooks.resume) Object.assign(this.mark, hooks.resume);
    this.pathBytes = (path) => client.pathBytes(path);
  }

  private newBatch(): Batch<N> {
    return { entries: [], ops: [], bytes: MULTI_EMPTY_BYTES, sent: false, done: Promise.resolve() };
  }

  async write(nodes: AsyncIterable<N>): Promise<ImportReport> {
    const report = this.report;
    const stack = new PathStack<Frame<N>>((f) => this.leave(f));
    try {
      for (const a of await missingAncestors(this.client, this.root)) {
        await this.tracked(`create ${a}`, () => this.client.create(a, Buffer.alloc(0)));
        report.ancestorsCreated.push(a);
      }
      for await (const { node, parent } of nodesToWrite(nodes, this.run, report, stack, this.work, this.started)) {
        await this.closing;
        // Still open, so the node that arrived is below it.
        if (this.held) await this.place(this.held, false);
        this.held = this.frameOf(node, parent);
        stack.push(this.held);
      }
      stack.finish();
      await this.closing;
      await this.flush();
      await this.drain();
      await this.work.settle();
    } catch (err) {
      // What the stream gave before it failed is written, as a pipelined writer would have: the parents still open stay unclosed.
      // (Each step on its own: the first failure is the one reported.)
      if (!this.work.failed) {
        await this.closing.catch(() => undefined);
        if (this.held) await this.place(this.held, false).catch(() => undefined);
        await this.flush().then(() => this.drain()).catch(() => undefined);
      }
      await this.work.settle().catch(() => undefined);
      // Multis sent but not taken in: one the server applied counts as written; one not answered may or may not have been.
      for (const b of this.flying) {
        if (b.processed || !b.asOne || b.answer?.ok === false) continue;
        if (b.answer?.ok) report.created += b.entries.filter((e) => e.kind === "create").length;
        else for (const e of b.entries) if (e.kind !== "close") this.unknown.push(e.kind === "create" ? `create ${e.frame.path}` : `${e.steps} scratch create/delete pair(s) under ${e.frame.path}`);
      }
      throw stopped(err, report, this.unknown, this.client.label, this.hooks.name ?? "import",
        this.hooks.again ?? "run the same import again with --on-conflict overwrite: what was written is kept, the rest (ACLs and counters of unfinished parents included) is completed");
    }
    report.counters.ms = this.counterMs;
    report.ms = Date.now() - this.started;
    return report;
  }

  /** The stack leaves frames synchronously: each close is chained onto the last (a held leaf placed first). */
  private leave(f: Frame<N>): void {
    const held = this.held === f;
    if (held) this.held = undefined;
    this.closing = this.closing.then(async () => {
      if (held) await this.place(f, true);
      await this.close(f);
    });
  }

  private frameOf(node: N, parent: Frame<N> | undefined): Frame<N> {
    let settle!: () => void;
    const ready = new Promise<void>((r) => (settle = r));
    const resume = this.hooks.resume;
    const resumed = resume?.created != null && comparePaths(node.path, resume.created) <= 0;
    const closed = resumed && resume?.closed != null && closedBy(node.path, resume.closed);
    const f: Frame<N> = {
      path: node.path, node, parent, state: { kind: "pending" }, ready, settle, batch: undefined, created: 0, assumed: 0, bumped: 0, uncertain: false, unsettled: 0, whenSettled: undefined, resumed, closed,
    };
    if (resumed) {
      this.report.resumed++;
      this.settleAs(f, { kind: "existing" });
    }
    return f;
  }

  private wants(f: Frame<N>): number {
    return this.run.counters && !f.node.textOnly && !f.node.container ? sequenceCounter(f.node.stat) : 0;
  }

  /**
   * A node's outcome known: its parent counts it settled, and nothing waits on it any more. Without a state (its
   * create or read failed, the session lost most often) it stays pending and its parent uncertain: without that,
   * the parent's close waited for it for ever and the write, which was to stop and say how far it got, hung
   * (seen: an import whose session expired).
   */
  private settleAs(f: Frame<N>, s: State | undefined): void {
    const p = f.parent;
    if (p && f.batch) p.assumed--;
    f.batch = undefined;
    if (s) f.state = s;
    if (p && s?.kind === "created") p.created++;
    else if (p) p.uncertain = true;
    if (p && !f.resumed && --p.unsettled === 0) p.whenSettled?.();
    f.settle();
  }

  /** A node's create into the batch (or a read, when it is known to exist). `leaf`: nothing of the stream is below it. */
  private async place(f: Frame<N>, leaf: boolean): Promise<void> {
    if (f.resumed) return;
    const node = f.node;
    if (node.path === "/" || this.hooks.present?.(node.path)) {
      if (f.parent) f.parent.unsettled++;
      const read = this.existing(f).then((s) => this.settleAs(f, s), (err: unknown) => {
        this.settleAs(f, undefined);
        throw err;
      });
      read.catch(() => undefined);
      this.work.track(read);
      this.presentReads.push(read);
      return;
    }
    // Its own ACL now when nothing is written below it: no child, no scratch child for its counter.
    const ownAcl = leaf && this.wants(f) === 0;
    const op: Create = { op: "create", path: node.path, data: node.data, acl: ownAcl ? node.acl : OPEN, mode: modeOf(node), ...(node.ttlMs !== undefined ? { ttlMs: node.ttlMs } : {}) };
    this.refuseLarge(node);
    const size = this.opBytes({ op: "create", path: op.path, data: op.data, acl: op.acl, ttl: op.mode === "ttl" });
    if (!this.fits(size, 1)) await this.flush();
    this.current.entries.push({ kind: "create", frame: f, op, ownAcl });
    this.current.ops.push(op);
    this.current.bytes += size;
    f.batch = this.current;
    if (f.parent) {
      f.parent.assumed++;
      f.parent.unsettled++;
    }
  }

  /** A write whose answer may never come is remembered, to be named if the write stops. */
  private tracked<T>(what: string, call: () => Promise<T>): Promise<T> {
    return call().catch((err: unknown) => {
      if (outcomeUnknown(err)) this.unknown.push(what);
      throw err;
    });
  }

  /** A request larger than the servers take would make them drop the connection: refused by path instead. */
  private refuseLarge(node: TreeNode): void {
    const o = oversized({ ...node, path: this.wirePath(node.path) }, this.limit);
    if (o) throw oversizeError([{ ...o, path: node.path }], this.limit, this.client.label, "plan", "it was not written");
  }

  /** What an op adds to a multi, its path as the server gets it (a chroot lengthens it). */
  private opBytes(w: WriteOp): number {
    return multiOpBytes(w) + this.pathBytes(w.path) - Buffer.byteLength(w.path);
  }

  /** A path of the length it has on the wire, for measuring. */
  private wirePath(path: string): string {
    const extra = this.pathBytes(path) - Buffer.byteLength(path);
    return extra > 0 ? path + "x".repeat(extra) : path;
  }

  /** Whether `ops` more ops of `size` bytes in all go into the current batch (an empty one takes anything that fits alone). */
  private fits(size: number, ops: number): boolean {
    const b = this.current;
    if (b.ops.length === 0) return true;
    return b.ops.length + ops <= this.maxOps && b.bytes + size <= this.maxBytes;
  }

  /** Sends the current batch (a multi; a single request for one op; node by node while writes meet existing nodes) and starts a new one. */
  private async flush(): Promise<void> {
    const b = this.current;
    if (b.entries.length === 0) return;
    this.current = this.newBatch();
    while (this.flying.length >= this.inFlight) await this.flying[0]!.done;
    if (this.presentReads.length) {
      const reads = this.presentReads;
      this.presentReads = [];
      await Promise.all(reads);
    }
    b.sent = true;
    const answer = this.single || b.ops.length === 0 ? undefined : this.send(b.ops);
    if (answer) b.asOne = true;
    answer?.then((a) => (b.answer = a), () => undefined);
    this.flying.push(b);
    b.done = (this.chain = this.chain.then(() => this.process(b, answer)));
    b.done.then(() => this.flying.splice(this.flying.indexOf(b), 1), () => undefined);
    this.work.track(b.done);
  }

  private async send(ops: MultiOp[]): Promise<Answer> {
    if (ops.length > 1) return this.client.multi(ops);
    const o = ops[0]!;
    try {
      if (o.op === "create") await this.client.create(o.path, o.data, { mode: o.mode, acl: o.acl, ...(o.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}) });
      else if (o.op === "delete") await this.client.delete(o.path);
      else await this.client.set(o.path, o.data);
      return { ok: true };
    } catch (err) {
      if (err instanceof ZkCallError) return { ok: false, rc: err.rc, index: 0 };
      throw err;
    }
  }

  /** Until every batch sent is answered and processed. */
  private async drain(): Promise<void> {
    await this.chain;
  }

  /** A batch answered: applied whole, or refused and written node by node; then the closes it carries. */
  private async process(b: Batch<N>, answer: Promise<Answer> | undefined): Promise<void> {
    // A connection lost under a multi leaves it applied or not: node by node tells which (what it wrote is then found as it should be).
    const outcome = answer ? await answer.catch((err: unknown) => {
      if (err instanceof ZkCallError && err.rc === ZkCode.connectionLoss) return undefined;
      throw err;
    }) : undefined;
    // Taken in from here: what it wrote is counted by what follows.
    b.processed = true;
    const closes: Promise<void>[] = [];
    if (outcome?.ok) {
      // Applied whole: the creates go through, multis again.
      this.single = false;
      for (const e of b.entries) {
        if (e.kind === "create") {
          this.report.created++;
          this.settleAs(e.frame, { kind: "created", ownAcl: e.ownAcl });
        } else if (e.kind === "bump") {
          e.frame.bumped += e.steps;
        } else {
          closes.push(this.finishClose(e.frame));
        }
      }
    } else {
      closes.push(...this.nodeByNode(b));
    }
    await settleAll(closes);
    for (const e of b.entries) {
      if (e.kind === "create") this.mark.created = e.frame.path;
      else if (e.kind === "close") this.mark.closed = e.frame.path;
    }
    this.hooks.onCommitted?.({ ...this.mark });
  }

  /**
   * A batch the server refused (a node of it exists, most often), or one sent node by node: each entry on its
   * own, in order, pipelined; each close once what it depends on is answered. Answers the closes.
   */
  private nodeByNode(b: Batch<N>): Promise<void>[] {
    let existed = 0;
    let made = 0;
    const all: Promise<void>[] = [];
    for (const e of b.entries) {
      if (e.kind === "create") {
        all.push(this.createOne(e).then((s) => {
          if (s.kind === "created") made++;
          else existed++;
          this.settleAs(e.frame, s);
        }, (err: unknown) => {
          this.settleAs(e.frame, undefined);
          throw err;
        }));
      } else if (e.kind === "close") {
        all.push(this.finishClose(e.frame));
      }
      // A bump entry is made up for by its frame's close, from the servers' count (its multi may have been applied).
      else e.frame.uncertain = true;
    }
    const creates = settleAll(all).finally(() => {
      // While creates meet nodes that exist, multis would be refused again: node by node until a batch creates all it holds.
      this.single = existed > 0 || (this.single && made === 0);
    });
    return [creates];
  }

  private async createOne(e: Extract<Entry<N>, { kind: "create" }>): Promise<State> {
    const { op, frame } = e;
    try {
      await this.calls.run(() => this.tracked(`create ${op.path}`, () => this.client.create(op.path, op.data, { mode: op.mode, acl: op.acl, ...(op.ttlMs !== undefined ? { ttlMs: op.ttlMs } : {}) })));
      this.report.created++;
      return { kind: "created", ownAcl: e.ownAcl };
    } catch (err) {
      if (err instanceof ZkCallError && err.rc === ZkCode.nodeExists) return this.existing(frame);
      // The server checks the parent's ACL before whether the node exists: below a parent that denies
      // CREATE, a node that is already there answers noAuth.
      if (err instanceof ZkCallError && err.rc === ZkCode.noAuth) {
        return this.existing(frame).catch((again: unknown) => {
          throw isNoNode(again) ? err : again;
        });
      }
      throw err;
    }
  }

  /**
   * A node that exists: compared, then left, or given the stream's data now (its ACL comes at its close).
   * One the caller said exists but that is missing is created (with the open ACL: its close sets its own).
   */
  private async existing(f: Frame<N>): Promise<State> {
    const node = f.node;
    let got: { data: Buffer; acl: Acl[]; stat: Stat };
    try {
      got = await this.calls.run(() => this.client.read(node.path, { children: false }));
    } catch (err) {
      if (!isNoNode(err) || node.path === "/") throw err;
      this.refuseLarge(node);
      await this.calls.run(() => this.tracked(`create ${node.path}`, () => this.client.create(node.path, node.data, { mode: modeOf(node), ...(node.ttlMs !== undefined ? { ttlMs: node.ttlMs } : {}) })));
      this.report.created++;
      return { kind: "created", ownAcl: false };
    }
    const run = this.run;
    const want = { data: node.data, acl: node.acl, ephemeral: node.ephemeral && run.ephemeral === "skip", ...(node.textOnly ? { textOnly: true as const } : {}) };
    const diffs = differences(want, { data: got.data, acl: got.acl, ephemeral: isEphemeral(got.stat) });
    if (diffs.length === 0) {
      this.report.unchanged++;
      return { kind: "existing", acl: got.acl };
    }
    this.report.conflicts.push({ path: node.path, differences: diffs });
    if (run.onConflict === "fail") {
      throw new ZkfleetError("zookeeper", `${node.path} appeared on ${this.client.label} during the import with other content (${diffs.join(", ")})`, {
        where: node.path, hint: "another client writes there: stop it, then run the import again with --on-conflict overwrite",
      });
    }
    if (run.onConflict === "skip") return { kind: "left" };
    if (diffs.includes("ephemeral")) {
      this.report.unresolved.push(node.path);
      return { kind: "left" };
    }
    // Counted once the server has answered its write: a report after a failure says only what was answered.
    if (!diffs.includes("data")) return { kind: "existing", acl: got.acl, aclOnly: true };
    this.refuseLarge(node);
    await this.calls.run(() => this.tracked(`set ${node.path}`, () => this.client.set(node.path, node.data)));
    this.report.updated++;
    return { kind: "existing", acl: got.acl };
  }

  /**
   * The stream left a node's subtree. When this write creates it, the scratch creates its counter needs go
   * into the batches now (as many as it lacks, assuming every create still unanswered below it succeeds);
   * the rest waits for its close entry, done once its batch is answered (finishClose).
   */
  private async close(f: Frame<N>): Promise<void> {
    if (f.closed) return;
    const created = () => f.state.kind === "created" || (f.state.kind === "pending" && f.batch !== undefined && !f.batch.sent);
    // Uncertain: its close reads the servers' count and makes up the rest then (bumping on what it assumed could overshoot).
    if (created() && !f.uncertain) {
      const scratch = childPath(f.path, this.scratch);
      const pair = this.pairSize(scratch);
      let steps = this.wants(f) - (f.created + f.assumed + f.bumped);
      while (steps > 0) {
        const room = Math.min(Math.floor((this.maxOps - this.current.ops.length) / 2), Math.floor((this.maxBytes - this.current.bytes) / pair));
        if (room < 1) {
          if (this.current.ops.length === 0) throw new ZkfleetError("plan", `the scratch child of ${f.path} does not fit a request`, { where: f.path });
          await this.flush();
          // Its create went out unanswered with that batch: whether it was created is not known yet.
          if (!created()) break;
          continue;
        }
        const n = Math.min(steps, room);
        this.current.entries.push({ kind: "bump", frame: f, steps: n });
        for (let i = 0; i < n; i++) this.current.ops.push(...this.pair(scratch));
        this.current.bytes += n * pair;
        steps -= n;
      }
    }
    this.current.entries.push({ kind: "close", frame: f });
  }

  private pair(scratch: string): MultiOp[] {
    return [{ op: "create", path: scratch, data: Buffer.alloc(0), acl: OPEN }, { op: "delete", path: scratch }];
  }

  private pairSize(scratch: string): number {
    return this.opBytes({ op: "create", path: scratch, data: Buffer.alloc(0), acl: OPEN }) + this.opBytes({ op: "delete", path: scratch });
  }

  /**
   * Once its own create and every create below it are answered: what its counter still lacks (read from the
   * server for a node this write did not create), its ACL, then onDone.
   */
  private async finishClose(f: Frame<N>): Promise<void> {
    await f.ready;
    if (f.unsettled > 0) await new Promise<void>((resolve) => (f.whenSettled = resolve));
    const s = f.state;
    if (s.kind === "left" || s.kind === "pending") return;
    if (!f.node.textOnly) {
      if (this.run.counters && !f.node.container) {
        const t = Date.now();
        const exact = s.kind === "created" && !f.uncertain;
        const have = exact ? f.created : sequenceCounter((await this.calls.run(() => this.client.exists(f.path)))!);
        noteCounter(this.report, f.path, have, this.wants(f));
        // The servers' count already holds the scratch pairs they applied.
        const missing = this.wants(f) - have - (exact ? f.bumped : 0);
        if (missing > 0) {
          await this.bump(f.path, missing);
          this.counterMs += Date.now() - t;
        }
      }
      const current = s.kind === "created" ? (s.ownAcl ? f.node.acl : OPEN) : (s.acl ?? (await this.calls.run(() => this.client.getAcl(f.path))).acl);
      if (!sameAcl(current, f.node.acl)) await this.calls.run(() => this.tracked(`setAcl ${f.path}`, () => this.client.setAcl(f.path, f.node.acl)));
      if (s.kind === "existing" && s.aclOnly) this.report.updated++;
    }
    await this.hooks.onDone?.(f.node, { created: s.kind === "created" });
  }

  /** `steps` creates and deletes of a scratch child, in multis. */
  private async bump(path: string, steps: number): Promise<void> {
    const scratch = childPath(path, this.scratch);
    const perMulti = Math.max(1, Math.min(Math.floor((this.maxBytes - MULTI_EMPTY_BYTES) / this.pairSize(scratch)), Math.floor(this.maxOps / 2)));
    for (let done = 0; done < steps;) {
      const n = Math.min(perMulti, steps - done);
      const r = await this.tracked(`${n} scratch create/delete pair(s) under ${path}`, () => this.client.multi(Array.from({ length: n }, () => this.pair(scratch)).flat()));
      if (!r.ok) throw new ZkCallError(r.rc, "multi", path, this.client.label, `moving the sequence counter of ${path} on`);
      done += n;
    }
  }
}

/** Waits for every promise, then throws the first failure (none is left unhandled). */
async function settleAll(ps: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(ps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** A write sent whose answer never came: the connection went with it in flight and the session could not be kept. */
function outcomeUnknown(err: unknown): boolean {
  if (err instanceof ZkClientFailed) return err.sent;
  return err instanceof ZkCallError && (err.rc === ZkCode.connectionLoss || err.rc === ZkCode.operationTimeout || err.rc === ZkCode.sessionExpired);
}

/** A write failed: say how far the write got, what may or may not have been written, and how to finish it; never leave it unsaid. */
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

/**
 * Deletes nodes, each after everything listed before it (so children first), in multis; a multi the server
 * refuses (a node already gone, one given a child meanwhile) is done one node at a time, a node already gone passed over.
 * Answers how many were deleted (or found gone).
 */
export async function deleteNodes(client: TreeClient, paths: readonly string[], limit: WriteLimit = DEFAULT_LIMIT): Promise<number> {
  let i = 0;
  while (i < paths.length) {
    const batch: MultiOp[] = [];
    let bytes = MULTI_EMPTY_BYTES;
    for (; i < paths.length; i++) {
      const size = multiOpBytes({ op: "delete", path: paths[i]! }) + client.pathBytes(paths[i]!) - Buffer.byteLength(paths[i]!);
      if (batch.length && (batch.length >= MAX_OPS || bytes + size > packetLimit(limit))) break;
      batch.push({ op: "delete", path: paths[i]! });
      bytes += size;
    }
    const r = batch.length > 1 ? await client.multi(batch) : { ok: false };
    if (r.ok) continue;
    for (const o of batch) {
      await client.delete(o.path).catch((err: unknown) => {
        if (!isNoNode(err)) throw err;
      });
    }
  }
  return paths.length;
}
