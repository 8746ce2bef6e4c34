// The data plane's ZooKeeper client: ZkClient's calls (client.ts) plus
// multi and sync, over a session of its own (wire.ts) in the controller's
// process. Creates carry their ACL (the native package could only create
// with the open one). Reads are sent again when the connection they were
// written on is lost (and, for readers, on a new session when the old one
// expired); a write is never sent twice: its caller decides.
import { ZkfleetError } from "../../common/errors.js";
import { ZkCallError } from "./client.js";
import { CreateFlag, type JuteReader, type JuteWriter, Op } from "./jute.js";
import type { Acl, CreateMode, Stat, WatchEvent } from "./protocol.js";
import { ZkCode } from "./protocol.js";
import { RC, type SessionGone, WireError, WireSession, parseConnectString } from "./wire.js";

export interface WireClientOptions {
  /** host:port[,host:port...][/chroot] */
  connect: string;
  label?: string;
  /** Which server(s) the session is on right now, for errors (a forwarder knows; a connect string alone does not). */
  server?: () => string;
  sessionTimeoutMs?: number;
  connectTimeoutMs?: number;
  auth?: { scheme: string; credential: string }[];
  /** New sessions a reader may open when its session expires, its reads then sent again (default 0). */
  retryReads?: number;
  /**
   * Sessions to read through (default 1): the others start on the next servers of the connect string, so
   * that a walk spreads its reads over the servers (export.ts liveTree). They carry no watches.
   */
  readSessions?: number;
  /** The server tried first (an index into the connect string's); random when not given. */
  first?: number;
  onWatch?: (event: WatchEvent, path: string) => void;
}

export type MultiOp =
  | { op: "create"; path: string; data: Buffer; acl: readonly Acl[]; mode?: CreateMode; ttlMs?: number }
  | { op: "delete"; path: string; version?: number }
  | { op: "set"; path: string; data: Buffer; version?: number };

/** A multi is one transaction: all its ops were applied, or none (then `index` is the first that failed, `rc` why). */
export type MultiOutcome = { ok: true } | { ok: false; index: number; rc: number };

/** What the data plane asks of a ZooKeeper session. */
export interface TreeClient {
  readonly label: string;
  /** Lost connections and sessions since it opened: each cost the session's watches. */
  readonly restarts: string[];
  /** Sessions a walk may spread its reads over, this one first (one when there is no other). */
  readonly readers?: readonly TreeClient[];
  exists(path: string): Promise<Stat | undefined>;
  get(path: string): Promise<{ data: Buffer; stat: Stat }>;
  children(path: string): Promise<{ children: string[]; stat: Stat }>;
  getAcl(path: string): Promise<{ acl: Acl[]; stat: Stat }>;
  read(path: string, opts?: { children?: boolean; watch?: boolean }): Promise<{ data: Buffer; stat: Stat; acl: Acl[]; children: string[] }>;
  create(path: string, data: Buffer, opts?: { mode?: CreateMode; ttlMs?: number; acl?: readonly Acl[]; sequential?: boolean }): Promise<string>;
  set(path: string, data: Buffer, version?: number): Promise<Stat>;
  setAcl(path: string, acl: Acl[], version?: number): Promise<void>;
  delete(path: string, version?: number): Promise<void>;
  multi(ops: readonly MultiOp[]): Promise<MultiOutcome>;
  /** Bytes `path` takes in a request (a chroot adds to it). */
  pathBytes(path: string): number;
  /** The server this session is on catches up with the leader up to now (reads after it see every write committed before). */
  sync(path: string): Promise<void>;
  close(): Promise<void>;
}

const OPEN: readonly Acl[] = [{ perms: 31, scheme: "world", id: "anyone" }];
const EVENTS: Record<number, WatchEvent> = { 1: "created", 2: "deleted", 3: "changed", 4: "child" };
const NAMES: Record<number, string> = {
  [-4]: "connection loss", [-5]: "marshalling error", [-6]: "unimplemented", [-7]: "operation timeout", [-8]: "bad arguments",
  [-101]: "no node", [-102]: "not authenticated", [-103]: "bad version", [-108]: "no children for ephemerals", [-110]: "node exists",
  [-111]: "not empty", [-112]: "session expired", [-114]: "invalid ACL", [-115]: "authentication failed", [-116]: "closing",
};
type CallName = ConstructorParameters<typeof ZkCallError>[1];

function flagsOf(mode: CreateMode, sequential: boolean): number {
  const seq = sequential ? CreateFlag.sequential : 0;
  if (mode === "ephemeral") return CreateFlag.ephemeral | seq;
  if (mode === "container") return CreateFlag.container;
  if (mode === "ttl") return sequential ? CreateFlag.ttlSequential : CreateFlag.ttl;
  return seq;
}

const createOp = (mode: CreateMode) => (mode === "container" ? Op.createContainer : mode === "ttl" ? Op.createTTL : Op.create);

export class WireClient implements TreeClient {
  readonly label: string;
  private readonly own: string[] = [];
  private peers: WireClient[] = [];
  private session!: WireSession;
  private renewing: Promise<void> | undefined;
  private renewals = 0;
  private closed = false;

  private constructor(private readonly opts: WireClientOptions) {
    this.label = opts.label ?? opts.connect;
  }

  static async open(opts: WireClientOptions): Promise<WireClient> {
    const servers = parseConnectString(opts.connect).servers.length;
    const first = opts.first ?? Math.floor(Math.random() * servers);
    const c = new WireClient({ ...opts, first });
    c.session = await c.start();
    const more = Math.min(servers, opts.readSessions ?? 1) - 1;
    try {
      for (let i = 1; i <= more; i++) c.peers.push(await WireClient.open({ ...opts, readSessions: 1, first: first + i, onWatch: undefined }));
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  get restarts(): string[] {
    return [...this.own, ...this.peers.flatMap((p) => p.restarts)];
  }

  get readers(): readonly TreeClient[] {
    return [this, ...this.peers];
  }

  private start(): Promise<WireSession> {
    const { servers, chroot } = parseConnectString(this.opts.connect);
    return WireSession.open({
      servers, ...(chroot ? { chroot } : {}), ...(this.opts.first !== undefined ? { first: this.opts.first % servers.length } : {}), sessionTimeoutMs: this.opts.sessionTimeoutMs ?? 30_000,
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 20_000, auth: this.opts.auth ?? [],
      onWatch: (type, path) => {
        const event = EVENTS[type];
        if (event) this.opts.onWatch?.(event, path);
      },
      onReconnect: (why) => this.own.push(`${why}; the session went on through another connection (its watches are gone)`),
    }).catch((err: unknown) => {
      const gone = err instanceof WireError && err.rc === RC.authFailed;
      throw this.error(gone ? "was refused authentication" : `could not open a session: ${(err as Error).message}`,
        gone ? "check the --auth credentials" : "check that the servers run and answer on their client port (`zkfleet status -i INV`), and the connect string");
    });
  }

  get sessionInfo(): { id: string; timeoutMs: number } {
    return { id: this.session.sessionId.toString(16), timeoutMs: this.session.timeoutMs };
  }

  /** The server ("host:port") the session is on now, "" between connections. */
  get server(): string {
    return this.session.server;
  }

  private error(what: string, hint?: string): ZkfleetError {
    const server = this.opts.server?.() ?? (this.session?.server || this.opts.connect);
    return new ZkfleetError("zookeeper", `ZooKeeper client for ${this.label} ${what}`, { where: `server ${server}`, ...(hint ? { hint } : {}) });
  }

  /** A failed call as the data plane reports it: a code the server gave, or the session's end. */
  private failure(err: unknown, op: CallName, path: string): Error {
    if (!(err instanceof WireError)) return err as Error;
    if (err.rc === RC.sessionExpired) {
      return this.error(`lost its session (expired), during ${op} ${path}`, "the servers did not hear from the client within the session timeout: check the network and load, then run the command again");
    }
    if (err.rc === RC.authFailed) return this.error(`was refused authentication, during ${op} ${path}`, "check the --auth credentials");
    if (err.rc === RC.closing && this.closed) return this.error(`was closed, during ${op} ${path}`);
    return new ZkCallError(err.rc, op, path, this.label, NAMES[err.rc] ?? err.message);
  }

  /** One request; reads (`idempotent`) are sent again over a new connection, or a new session when allowed. */
  private async call<T>(op: CallName, path: string, code: number, body: (w: JuteWriter) => void, decode: (r: JuteReader, err: number) => T,
    idempotent: boolean, sizeHint?: number): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const session = this.session;
      try {
        return await session.request(code, body, decode, sizeHint);
      } catch (err) {
        if (!idempotent || !(err instanceof WireError) || attempt >= 5) throw this.failure(err, op, path);
        if (err.rc === RC.connectionLoss) continue;
        if (err.rc === RC.sessionExpired && (await this.renew(session))) continue;
        throw this.failure(err, op, path);
      }
    }
  }

  /** A new session in place of an expired one, while renewals are left (readers only); answers whether there is one. */
  private async renew(expired: WireSession): Promise<boolean> {
    if (this.closed) return false;
    if (this.session !== expired) return true;
    if (this.renewals >= (this.opts.retryReads ?? 0)) return false;
    this.renewing ??= (async () => {
      this.renewals++;
      this.own.push("the session expired; a new one was opened and the reads sent again (its watches are gone)");
      this.session = await this.start();
    })().finally(() => (this.renewing = undefined));
    await this.renewing;
    return true;
  }

  pathBytes(path: string): number {
    return Buffer.byteLength(this.session.serverPath(path));
  }

  private p(path: string): string {
    return this.session.serverPath(path);
  }

  async exists(path: string): Promise<Stat | undefined> {
    try {
      return await this.call("exists", path, Op.exists, (w) => w.string(this.p(path)).bool(false), (r) => r.stat(), true);
    } catch (err) {
      if (err instanceof ZkCallError && err.rc === ZkCode.noNode) return undefined;
      throw err;
    }
  }

  private getData(path: string, watch: boolean): Promise<{ data: Buffer; stat: Stat }> {
    return this.call("get", path, Op.getData, (w) => w.string(this.p(path)).bool(watch), (r) => ({ data: r.buffer() ?? Buffer.alloc(0), stat: r.stat() }), true);
  }

  private getChildren(path: string, watch: boolean): Promise<{ children: string[]; stat: Stat }> {
    return this.call("children", path, Op.getChildren2, (w) => w.string(this.p(path)).bool(watch), (r) => ({ children: r.strings(), stat: r.stat() }), true);
  }

  get(path: string): Promise<{ data: Buffer; stat: Stat }> {
    return this.getData(path, false);
  }

  children(path: string): Promise<{ children: string[]; stat: Stat }> {
    return this.getChildren(path, false);
  }

  getAcl(path: string): Promise<{ acl: Acl[]; stat: Stat }> {
    return this.call("acl", path, Op.getACL, (w) => w.string(this.p(path)), (r) => ({ acl: r.acls(), stat: r.stat() }), true);
  }

  /**
   * Data, stat and ACL of one node, asked together, then its children when asked and it has any.
   * With watch, the data and children are asked with a watch (a child watch needs the list asked even when empty).
   */
  async read(path: string, opts: { children?: boolean; watch?: boolean } = {}): Promise<{ data: Buffer; stat: Stat; acl: Acl[]; children: string[] }> {
    const watch = opts.watch ?? false;
    const data = this.getData(path, watch);
    const acl = this.getAcl(path);
    acl.catch(() => undefined);
    const got = await data;
    const { acl: list } = await acl;
    let stat = got.stat;
    let children: string[] = [];
    if (((opts.children ?? true) && got.stat.numChildren > 0) || watch) {
      const c = await this.getChildren(path, watch);
      if (opts.children ?? true) children = c.children;
      stat = c.stat;
    }
    return { data: got.data, stat, acl: list, children };
  }

  async create(path: string, data: Buffer, opts: { mode?: CreateMode; ttlMs?: number; acl?: readonly Acl[]; sequential?: boolean } = {}): Promise<string> {
    const mode = opts.mode ?? "persistent";
    if (mode === "ttl" && opts.ttlMs === undefined) throw new ZkCallError(ZkCode.badArguments, "create", path, this.label, "a ttl node needs ttlMs");
    const code = createOp(mode);
    const created = await this.call("create", path, code, (w) => {
      w.string(this.p(path)).buffer(data).acls(opts.acl ?? OPEN).int(flagsOf(mode, opts.sequential ?? false));
      if (mode === "ttl") w.long(opts.ttlMs!);
    }, (r) => r.string() ?? "", false, data.length + path.length + 64);
    return this.session.clientPath(created);
  }

  set(path: string, data: Buffer, version = -1): Promise<Stat> {
    return this.call("set", path, Op.setData, (w) => w.string(this.p(path)).buffer(data).int(version), (r) => r.stat(), false, data.length + path.length + 16);
  }

  async setAcl(path: string, acl: Acl[], version = -1): Promise<void> {
    await this.call("setAcl", path, Op.setACL, (w) => w.string(this.p(path)).acls(acl).int(version), () => undefined, false);
  }

  async delete(path: string, version = -1): Promise<void> {
    await this.call("delete", path, Op.delete, (w) => w.string(this.p(path)).int(version), () => undefined, false);
  }

  async sync(path: string): Promise<void> {
    await this.call("sync", path, Op.sync, (w) => w.string(this.p(path)), () => undefined, true);
  }

  async multi(ops: readonly MultiOp[]): Promise<MultiOutcome> {
    if (ops.length === 0) return { ok: true };
    const size = ops.reduce((n, o) => n + o.path.length + ("data" in o ? o.data.length : 0) + 64, 32);
    return this.call("multi", ops[0]!.path, Op.multi, (w) => writeMulti(w, ops, (p) => this.p(p)), (r) => multiOutcome(r), false, size);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.renewing?.catch(() => undefined);
    await Promise.all([this.session?.close(), ...this.peers.map((p) => p.close())]);
  }
}

/** A MultiTransactionRecord: each op behind its MultiHeader, then the header that ends it. */
export function writeMulti(w: JuteWriter, ops: readonly MultiOp[], serverPath: (path: string) => string): void {
  for (const o of ops) {
    if (o.op === "create") {
      const mode = o.mode ?? "persistent";
      w.int(createOp(mode)).bool(false).int(-1);
      w.string(serverPath(o.path)).buffer(o.data).acls(o.acl).int(flagsOf(mode, false));
      if (mode === "ttl") w.long(o.ttlMs!);
    } else if (o.op === "delete") {
      w.int(Op.delete).bool(false).int(-1).string(serverPath(o.path)).int(o.version ?? -1);
    } else {
      w.int(Op.setData).bool(false).int(-1).string(serverPath(o.path)).buffer(o.data).int(o.version ?? -1);
    }
  }
  w.int(-1).bool(true).int(-1);
}

/** Reads a MultiResponse: the first op whose result is an error (the server rolls back every op of a failed multi). */
export function multiOutcome(r: JuteReader): MultiOutcome {
  let failed: MultiOutcome | undefined;
  for (let index = 0; ; index++) {
    const type = r.int();
    const done = r.bool();
    r.int(); // the op's error, also in its ErrorResponse
    if (done) break;
    switch (type) {
      case Op.create:
        r.string();
        break;
      case 15: case Op.createContainer: case Op.createTTL:
        r.string();
        r.stat();
        break;
      case Op.setData:
        r.stat();
        break;
      case Op.error: {
        const rc = r.int();
        if (!failed && rc !== 0) failed = { ok: false, index, rc };
        break;
      }
      default:
        break;
    }
  }
  return failed ?? { ok: true };
}

export type { SessionGone };
