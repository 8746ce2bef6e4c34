// The controller's ZooKeeper client: one session, held by a worker process
// (worker.ts) so that the native client crashing or hanging costs a typed
// error and never the controller; a reader may ask for the worker to be
// replaced and its reads sent again. Any number of calls may be in flight;
// the session keeps them in order (ZooKeeper answers one session FIFO),
// which lets callers pipeline a parent's create before its children's.
import { ZkfleetError } from "../../common/errors.js";
import { WorkerProcess } from "./process.js";
import {
  type Acl, type Call, type CallOp, type CreateMode, type SessionState, type Stat, type ValueOf,
  type WatchEvent, FromWorker, ZkCode, codeName,
} from "./protocol.js";

export interface ZkClientOptions {
  /** host:port[,host:port...] as the native client takes it. */
  connect: string;
  /** Names the cluster in errors (default: the connect string). */
  label?: string;
  /** Which server(s) the session is on right now, for errors (a forwarder knows; a connect string alone does not). */
  server?: () => string;
  sessionTimeoutMs?: number;
  /** How long to wait for the first session. */
  connectTimeoutMs?: number;
  /** With calls outstanding, this long without any answer means the worker is hung: it is killed. */
  stallTimeoutMs?: number;
  auth?: { scheme: string; credential: string }[];
  /** See DESIGN.md: the package's default (10) closes sessions on replies near 1 MB. */
  responseCounterLimit?: number;
  /**
   * Times a failed worker may be replaced by a new one (a new session) when
   * only reads were outstanding, which are then sent again (default 0: every
   * failure is the caller's). For readers that hold no ephemeral nodes.
   */
  retryReads?: number;
  /** Watches left by reads with `watch` fired (each once; a replaced worker's session has none). */
  onWatch?: (event: WatchEvent, path: string) => void;
}

/** A call ZooKeeper answered with an error code: the session is fine, this operation is not. */
export class ZkCallError extends ZkfleetError {
  constructor(readonly rc: number, readonly op: CallOp | "multi" | "sync", readonly path: string, label: string, detail: string) {
    super("zookeeper", `${op} ${path} on ${label}: ${codeName(rc)} (${detail}, ${rc})`, { where: path, hint: hintFor(rc, path) });
  }
}

function hintFor(rc: number, path: string): string | undefined {
  if (rc === ZkCode.noAuth) return `the session lacks permission on ${path}: pass credentials with --auth digest:USER:PASSWORD, or grant them in its ACL`;
  if (rc === ZkCode.connectionLoss) return "the server went away mid-call; the client reconnects by itself: run the command again";
  if (rc === ZkCode.invalidAcl) return `the server refuses the ACL of ${path} (3.4 refuses ip ACLs with a /bits mask; a digest id must be user:base64-of-sha1)`;
  if (rc === ZkCode.unimplemented) return "the server's version does not know this operation (container and TTL nodes need 3.5.3+, TTL also extendedTypesEnabled=true)";
  return undefined;
}

/**
 * The client process failed (crashed, hung, lost its session) with this call
 * outstanding. A write it had been handed may or may not have been applied:
 * `sent` says whether it had been (a call made after the failure never is).
 */
export class ZkClientFailed extends ZkfleetError {
  constructor(base: ZkfleetError, readonly sent: boolean) {
    super(base.source, base.message, { where: base.where, ...(base.hint ? { hint: base.hint } : {}) });
  }
}

interface Pending {
  call: Call;
  resolve: (v: never) => void;
  reject: (e: Error) => void;
  /** Handed to a worker (a replaced worker is handed every call outstanding again). */
  sent: boolean;
}

/** Calls that can be sent again on a new session without changing anything. */
const READS = new Set<CallOp>(["exists", "get", "children", "acl", "read"]);

export class ZkClient {
  readonly label: string;
  /** The session's id and the timeout the server granted (of the latest session, after a restart). */
  session = { id: "", timeoutMs: 0 };
  /** Worker processes that failed and were replaced (only while every call outstanding was a read): what happened to each. */
  readonly restarts: string[] = [];
  private worker!: WorkerProcess;
  private live = false;
  private closing = false;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private lastAnswer = Date.now();
  private dead: Error | undefined;
  private state: SessionState = "connected";
  private readonly watchdog: NodeJS.Timeout;
  private onReady: (err?: Error) => void = () => undefined;
  /** Why the current worker is going, when the controller knows better than its exit status. */
  private lastWords: string | undefined;

  private constructor(private readonly opts: ZkClientOptions) {
    this.label = opts.label ?? opts.connect;
    const stall = opts.stallTimeoutMs ?? 60_000;
    this.watchdog = setInterval(() => {
      if (this.pending.size === 0 || Date.now() - this.lastAnswer < stall) return;
      this.lastWords = `did not answer for ${Math.round(stall / 1000)}s with ${this.pending.size} call(s) outstanding; its process was stopped`;
      this.worker.kill();
    }, Math.min(1000, stall)).unref();
  }

  /** Starts the worker and waits for a session. */
  static async open(opts: ZkClientOptions): Promise<ZkClient> {
    const client = new ZkClient(opts);
    try {
      await client.start();
      return client;
    } catch (err) {
      clearInterval(client.watchdog);
      client.worker.kill();
      await client.worker.exited;
      throw err;
    }
  }

  /** A worker, its session (authenticated), and then every call outstanding sent to it. */
  private async start(): Promise<void> {
    this.live = false;
    const ready = new Promise<void>((resolve, reject) => (this.onReady = (err) => (err ? reject(err) : resolve())));
    const worker = new WorkerProcess((line) => this.receive(line), (how) => this.exited(worker, how));
    this.worker = worker;
    worker.send({
      type: "init", connect: this.opts.connect, sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 30_000,
      responseCounterLimit: this.opts.responseCounterLimit ?? 1_000_000, auth: this.opts.auth ?? [],
    });
    const connectTimeoutMs = this.opts.connectTimeoutMs ?? 20_000;
    const timer = setTimeout(() => this.onReady(this.error(`no session within ${connectTimeoutMs / 1000}s`,
      "check that the servers run and answer on their client port (`zkfleet status -i INV`), and the connect string")), connectTimeoutMs);
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
    this.live = true;
    this.lastAnswer = Date.now();
    for (const [id, p] of this.pending) {
      p.sent = true;
      worker.send({ type: "call", id, call: p.call });
    }
  }

  /** A worker gone: replaced when only reads were waiting on it and restarts are left, else every call fails. */
  private exited(worker: WorkerProcess, how: string): void {
    if (worker !== this.worker || this.closing) return;
    const why = this.lastWords ?? `client process ${how}${worker.lastWords() ? ` (${worker.lastWords()})` : ""}`;
    this.lastWords = undefined;
    if (this.replaceable()) {
      this.restarts.push(why);
      this.start().catch((err: unknown) => this.fail(`${why}; a new client process failed too: ${(err as Error).message}`));
      return;
    }
    this.fail(why, "the native ZooKeeper client failed; the controller is unharmed: run the command again (an import resumes with --on-conflict overwrite)");
  }

  private replaceable(): boolean {
    return this.live && this.restarts.length < (this.opts.retryReads ?? 0) && [...this.pending.values()].every((p) => READS.has(p.call.op));
  }

  /** The worker's pid (tests use it to play a crash or a hang). */
  get pid(): number | undefined {
    return this.worker.pid;
  }

  call<K extends CallOp>(call: Extract<Call, { op: K }>): Promise<ValueOf<K>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<ValueOf<K>>((resolve, reject) => {
      if (this.pending.size === 0) this.lastAnswer = Date.now();
      this.pending.set(id, { call, resolve: resolve as (v: never) => void, reject, sent: this.live });
      if (this.live) this.worker.send({ type: "call", id, call });
    });
  }

  async exists(path: string): Promise<Stat | undefined> {
    return (await this.call({ op: "exists", path })).stat ?? undefined;
  }

  async get(path: string): Promise<{ data: Buffer; stat: Stat }> {
    const v = await this.call({ op: "get", path });
    return { data: Buffer.from(v.data, "base64"), stat: v.stat };
  }

  async children(path: string): Promise<{ children: string[]; stat: Stat }> {
    return this.call({ op: "children", path });
  }

  async getAcl(path: string): Promise<{ acl: Acl[]; stat: Stat }> {
    return this.call({ op: "acl", path });
  }

  /** Data, stat and ACL of one node, and its children unless told not to. */
  async read(path: string, opts: { children?: boolean; watch?: boolean } = {}): Promise<{ data: Buffer; stat: Stat; acl: Acl[]; children: string[] }> {
    const { data, stat, acl, children } = await this.call({ op: "read", path, children: opts.children ?? true, ...(opts.watch ? { watch: true } : {}) });
    return { data: Buffer.from(data, "base64"), stat, acl, children };
  }

  /**
   * Creates a node and answers its path (with the sequence suffix when sequential).
   * The package always creates with the open ACL: set another with setAcl afterwards.
   */
  async create(path: string, data: Buffer, opts: { mode?: CreateMode; sequential?: boolean; ttlMs?: number } = {}): Promise<string> {
    const v = await this.call({
      op: "create", path, data: data.toString("base64"), mode: opts.mode ?? "persistent", sequential: opts.sequential ?? false,
      ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
    });
    return v.path;
  }

  async set(path: string, data: Buffer, version = -1): Promise<Stat> {
    return (await this.call({ op: "set", path, data: data.toString("base64"), version })).stat;
  }

  async setAcl(path: string, acl: Acl[], version = -1): Promise<void> {
    await this.call({ op: "setAcl", path, acl, version });
  }

  async delete(path: string, version = -1): Promise<void> {
    await this.call({ op: "delete", path, version });
  }

  /** Ends the session (its ephemeral nodes go with it) and the worker; kills a worker that does not go. */
  async close(): Promise<void> {
    clearInterval(this.watchdog);
    this.fail("was closed");
    this.closing = true;
    await this.worker.end();
  }

  private receive(line: string): void {
    this.lastAnswer = Date.now();
    let msg: FromWorker;
    try {
      msg = FromWorker.parse(JSON.parse(line));
    } catch (err) {
      this.fail(`sent a message the controller does not understand: ${(err as Error).message.slice(0, 300)}`);
      this.worker.kill();
      return;
    }
    switch (msg.type) {
      case "ready":
        this.session = { id: msg.sessionId, timeoutMs: msg.sessionTimeoutMs };
        return this.onReady();
      case "fatal":
        return this.fail(msg.message);
      case "watch":
        return this.opts.onWatch?.(msg.event, msg.path);
      case "state":
        this.state = msg.state;
        if (msg.state === "expired" || msg.state === "auth_failed") {
          const why = msg.state === "expired" ? "lost its session (expired)" : "was refused authentication";
          // The worker exits next; a reader's session is then replaced.
          if (msg.state === "expired" && this.replaceable()) return void (this.lastWords = why);
          this.fail(why, msg.state === "expired"
            ? "the servers did not hear from the client within the session timeout: check the network and load, then run the command again"
            : "check the --auth credentials");
        }
        return;
      case "result":
      case "failure": {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.type === "result") {
          if (msg.value.op !== p.call.op) return p.reject(this.error(`answered ${msg.value.op} to ${p.call.op} ${p.call.path}`));
          return p.resolve(msg.value as never);
        }
        return p.reject(new ZkCallError(msg.rc, p.call.op, p.call.path, this.label, msg.message));
      }
    }
  }

  private error(what: string, hint?: string): ZkfleetError {
    const server = this.opts.server?.() ?? this.opts.connect;
    const state = this.state === "connecting" ? " (disconnected, reconnecting)" : "";
    return new ZkfleetError("zookeeper", `ZooKeeper client for ${this.label} ${what}`, { where: `server ${server}${state}`, ...(hint ? { hint } : {}) });
  }

  /** Every call outstanding fails, each naming itself, and so does every later one. */
  private fail(what: string, hint?: string): void {
    if (this.dead) return;
    this.dead = this.error(what, hint);
    this.onReady(this.dead);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new ZkClientFailed(this.error(`${what}, during ${p.call.op} ${p.call.path}`, hint), p.sent));
    }
  }
}
