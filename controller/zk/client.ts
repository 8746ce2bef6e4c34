// The controller's ZooKeeper client: one session, held by a worker process
// (worker.ts) so that the native client crashing or hanging costs a typed
// error and never the controller. Any number of calls may be in flight; the
// session keeps them in order (ZooKeeper answers one session FIFO), which
// lets callers pipeline a parent's create before its children's.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ZkfleetError } from "../../common/errors.js";
import {
  type Acl, type Call, type CallOp, type CreateMode, type Init, type SessionState, type Stat, type ValueOf,
  FromWorker, ZkCode, codeName,
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
}

/** A call ZooKeeper answered with an error code: the session is fine, this operation is not. */
export class ZkCallError extends ZkfleetError {
  constructor(readonly rc: number, readonly op: CallOp, readonly path: string, label: string, detail: string) {
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

interface Pending {
  call: Call;
  resolve: (v: never) => void;
  reject: (e: Error) => void;
}

/** The worker as built JS (dist) or, when running from sources (tests), through tsx. */
function workerCommand(): string[] {
  const js = fileURLToPath(new URL("./worker.js", import.meta.url));
  if (existsSync(js)) return [js];
  const ts = fileURLToPath(new URL("./worker.ts", import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return ["--import", tsx, ts];
}

export class ZkClient {
  readonly label: string;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private lastAnswer = Date.now();
  private dead: Error | undefined;
  private state: SessionState = "connected";
  private readonly exited: Promise<void>;
  private readonly watchdog: NodeJS.Timeout;
  private diagnostics = "";

  /** The session's id and the timeout the server granted, once open. */
  session = { id: "", timeoutMs: 0 };

  private constructor(private readonly opts: ZkClientOptions, private readonly onReady: (err?: Error) => void) {
    this.label = opts.label ?? opts.connect;
    // Answers come on fd 3: the native client logs to stdout and stderr, kept for error messages.
    this.child = spawn(process.execPath, workerCommand(), { stdio: ["pipe", "pipe", "pipe", "pipe"] });
    const keep = (d: Buffer) => (this.diagnostics = (this.diagnostics + String(d)).slice(-4000));
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
    this.child.stdin!.on("error", () => undefined);
    createInterface({ input: this.child.stdio[3] as Readable, crlfDelay: Infinity }).on("line", (line) => this.receive(line));
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => {
      const how = signal ? `crashed (${signal})` : `exited (code ${code})`;
      const tail = this.diagnostics.trim().split("\n").filter(Boolean).at(-1);
      this.fail(`client process ${how}${tail ? ` (${tail})` : ""}`,
        "the native ZooKeeper client failed; the controller is unharmed: run the command again (an import resumes with --on-conflict overwrite)");
      resolve();
    }));
    const stall = opts.stallTimeoutMs ?? 60_000;
    this.watchdog = setInterval(() => {
      if (this.pending.size === 0 || Date.now() - this.lastAnswer < stall) return;
      this.fail(`did not answer for ${Math.round(stall / 1000)}s with ${this.pending.size} call(s) outstanding; its process was stopped`,
        "the server or the network to it may be overloaded or frozen: check `zkfleet status`, then run the command again");
      this.child.kill("SIGKILL");
    }, Math.min(1000, stall)).unref();
  }

  /** Starts the worker and waits for a session. */
  static async open(opts: ZkClientOptions): Promise<ZkClient> {
    let settle!: (err?: Error) => void;
    const ready = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
    const client = new ZkClient(opts, settle);
    const init: Init = {
      type: "init", connect: opts.connect, sessionTimeoutMs: opts.sessionTimeoutMs ?? 30_000,
      responseCounterLimit: opts.responseCounterLimit ?? 1_000_000, auth: opts.auth ?? [],
    };
    client.write(init);
    const connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
    const timer = setTimeout(() => settle(client.error(`no session within ${connectTimeoutMs / 1000}s`,
      "check that the servers run and answer on their client port (`zkfleet status -i INV`), and the connect string")), connectTimeoutMs);
    try {
      await ready;
      return client;
    } catch (err) {
      client.child.kill("SIGKILL");
      await client.exited;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The worker's pid (tests use it to play a crash or a hang). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  call<K extends CallOp>(call: Extract<Call, { op: K }>): Promise<ValueOf<K>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<ValueOf<K>>((resolve, reject) => {
      if (this.pending.size === 0) this.lastAnswer = Date.now();
      this.pending.set(id, { call, resolve: resolve as (v: never) => void, reject });
      this.write({ type: "call", id, call });
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
  async read(path: string, opts: { children?: boolean } = {}): Promise<{ data: Buffer; stat: Stat; acl: Acl[]; children: string[] }> {
    const { data, stat, acl, children } = await this.call({ op: "read", path, children: opts.children ?? true });
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
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.fail("was closed");
      this.write({ type: "close" });
      this.flush();
      this.child.stdin!.end();
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  // Lines are sent once per turn of the event loop: a walk or an import issues thousands of calls at once.
  private outgoing: string[] = [];

  private write(msg: Init | { type: "call"; id: number; call: Call } | { type: "close" }): void {
    if (this.outgoing.length === 0) setImmediate(() => this.flush());
    this.outgoing.push(JSON.stringify(msg));
  }

  private flush(): void {
    if (this.outgoing.length === 0) return;
    const text = this.outgoing.join("\n") + "\n";
    this.outgoing = [];
    if (this.child.stdin!.writable) this.child.stdin!.write(text);
  }

  private receive(line: string): void {
    this.lastAnswer = Date.now();
    let msg: FromWorker;
    try {
      msg = FromWorker.parse(JSON.parse(line));
    } catch (err) {
      this.fail(`sent a message the controller does not understand: ${(err as Error).message.slice(0, 300)}`);
      this.child.kill("SIGKILL");
      return;
    }
    switch (msg.type) {
      case "ready":
        this.session = { id: msg.sessionId, timeoutMs: msg.sessionTimeoutMs };
        return this.onReady();
      case "fatal":
        return this.fail(msg.message);
      case "state":
        this.state = msg.state;
        if (msg.state === "expired" || msg.state === "auth_failed") {
          const why = msg.state === "expired" ? "lost its session (expired)" : "was refused authentication";
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
      p.reject(this.error(`${what}, during ${p.call.op} ${p.call.path}`, hint));
    }
  }
}
