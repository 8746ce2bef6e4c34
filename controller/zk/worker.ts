// One ZooKeeper session, in a process of its own: the `zookeeper` package is
// a native addon known to crash (DESIGN.md), and a crash here must cost the
// controller one typed error, never the run. Speaks protocol.ts: requests on
// stdin, answers on fd 3, because the native client logs to stdout and
// stderr. Every line in is validated, every line out is built from the same
// schemas. Exits when stdin closes, when told to close, or when the session
// is gone for good (expired, authentication refused).
import { createRequire } from "node:module";
import { Socket } from "node:net";
import { createInterface } from "node:readline";
import { type Acl, type Call, type FromWorker, type Init, type Stat, type Value, type ValueOf, ToWorker, WatchEvent, ZkCode } from "./protocol.js";

interface NativeStat {
  czxid: number; mzxid: number; pzxid: number; ctime: Date; mtime: Date;
  version: number; cversion: number; aversion: number; dataLength: number; numChildren: number; ephemeralOwner: string;
}
interface NativeAcl { perms: number; scheme: string; auth: string }
type Cb<A extends unknown[]> = (rc: number, error: string, ...rest: A) => void;
interface NativeClient {
  on(event: "connect" | "connecting" | "close" | WatchEvent, fn: (...args: unknown[]) => void): void;
  init(config: Record<string, unknown>): void;
  close(): void;
  add_auth(scheme: string, auth: string, cb: Cb<[]>): void;
  a_exists(path: string, watch: boolean, cb: Cb<[NativeStat | null]>): void;
  a_get(path: string, watch: boolean, cb: Cb<[NativeStat | null, Buffer | null]>): void;
  a_get_children2(path: string, watch: boolean, cb: Cb<[string[] | null, NativeStat | null]>): void;
  a_get_acl(path: string, cb: Cb<[NativeAcl[] | null, NativeStat | null]>): void;
  a_create(path: string, data: Buffer, flags: number, cb: Cb<[string]>): void;
  a_createTtl(path: string, data: Buffer, flags: number, ttl: number, cb: Cb<[string]>): void;
  a_set(path: string, data: Buffer, version: number, cb: Cb<[NativeStat | null]>): void;
  a_set_acl(path: string, version: number, acl: { perms: number; scheme: string; auth: string }[], cb: Cb<[]>): void;
  a_delete_(path: string, version: number, cb: Cb<[]>): void;
}
type NativeCtor = (new (config: Record<string, unknown>) => NativeClient) & { constants: Record<string, number> };

class Failed extends Error {
  constructor(readonly rc: number, message: string) {
    super(message);
  }
}

const answers = new Socket({ fd: 3, readable: false, writable: true });
// Output is coalesced per turn of the event loop: a walk produces thousands of small lines.
let pending: string[] = [];
function send(msg: FromWorker): void {
  if (pending.length === 0) setImmediate(flush);
  pending.push(JSON.stringify(msg));
}
function flush(): void {
  if (pending.length === 0) return;
  const text = pending.join("\n") + "\n";
  pending = [];
  answers.write(text);
}
function exit(code: number): never {
  flush();
  // Let the answers drain before the process goes.
  answers.end(() => process.exit(code));
  return undefined as never;
}

const toStat = (s: NativeStat): Stat => ({
  czxid: s.czxid, mzxid: s.mzxid, pzxid: s.pzxid, ctime: s.ctime.getTime(), mtime: s.mtime.getTime(),
  version: s.version, cversion: s.cversion, aversion: s.aversion, dataLength: s.dataLength, numChildren: s.numChildren,
  ephemeralOwner: s.ephemeralOwner,
});
const toAcl = (a: NativeAcl): Acl => ({ perms: a.perms, scheme: a.scheme, id: a.auth });

function perform(zk: NativeClient, flags: Record<string, number>, call: Call): Promise<Value> {
  const { path } = call;
  return new Promise<Value>((resolve, reject) => {
    const answer = (rc: number, error: string, value: () => Value) => {
      if (rc !== ZkCode.ok) return reject(new Failed(rc, error));
      try {
        resolve(value());
      } catch (err) {
        reject(new Failed(ZkCode.marshallingError, String((err as Error).message ?? err)));
      }
    };
    switch (call.op) {
      case "exists":
        // ZNONODE is an answer here, not a failure.
        return zk.a_exists(path, false, (rc, error, stat) =>
          rc === ZkCode.noNode ? resolve({ op: "exists", stat: null }) : answer(rc, error, () => ({ op: "exists", stat: toStat(stat!) })));
      case "get":
        return getData(zk, path, false).then(resolve, reject);
      case "children":
        return getChildren(zk, path, false).then(resolve, reject);
      case "acl":
        return getAcl(zk, path).then((v) => resolve({ op: "acl", ...v }), reject);
      case "create": {
        const data = Buffer.from(call.data, "base64");
        const cb = (rc: number, error: string, created: string) => answer(rc, error, () => ({ op: "create", path: created }));
        if (call.mode === "ttl") {
          if (call.ttlMs === undefined) return reject(new Failed(ZkCode.badArguments, "a ttl node needs ttlMs"));
          return zk.a_createTtl(path, data, call.sequential ? flags.ZOO_PERSISTENT_SEQUENTIAL_WITH_TTL! : flags.ZOO_PERSISTENT_WITH_TTL!, call.ttlMs, cb);
        }
        if (call.mode === "container" && call.sequential) return reject(new Failed(ZkCode.badArguments, "a container node cannot be sequential"));
        const base = { persistent: 0, ephemeral: flags.ZOO_EPHEMERAL!, container: flags.ZOO_CONTAINER! }[call.mode];
        return zk.a_create(path, data, base | (call.sequential ? flags.ZOO_SEQUENCE! : 0), cb);
      }
      case "set":
        return zk.a_set(path, Buffer.from(call.data, "base64"), call.version, (rc, error, stat) => answer(rc, error, () => ({ op: "set", stat: toStat(stat!) })));
      case "setAcl":
        return zk.a_set_acl(path, call.version, call.acl.map((a) => ({ perms: a.perms, scheme: a.scheme, auth: a.id })),
          (rc, error) => answer(rc, error, () => ({ op: "setAcl" })));
      case "delete":
        return zk.a_delete_(path, call.version, (rc, error) => answer(rc, error, () => ({ op: "delete" })));
      case "read":
        return performRead(zk, flags, path, call.children, call.watch ?? false).then(resolve, reject);
    }
  });
}

function getData(zk: NativeClient, path: string, watch: boolean): Promise<ValueOf<"get">> {
  return new Promise((resolve, reject) => zk.a_get(path, watch, (rc, error, stat, data) =>
    rc === ZkCode.ok ? resolve({ op: "get", stat: toStat(stat!), data: (data ?? Buffer.alloc(0)).toString("base64") }) : reject(new Failed(rc, error))));
}

function getChildren(zk: NativeClient, path: string, watch: boolean): Promise<ValueOf<"children">> {
  return new Promise((resolve, reject) => zk.a_get_children2(path, watch, (rc, error, children, stat) =>
    rc === ZkCode.ok ? resolve({ op: "children", children: children!, stat: toStat(stat!) }) : reject(new Failed(rc, error))));
}

/**
 * The package's ACL completion frees the ACL vector it is given, and it is
 * given none when the call fails (node-zk.cpp acl_completion): asking for the
 * ACL of a node that does not exist crashes the process. So the ACL is only
 * asked for right after the node was seen; a node deleted in between still
 * crashes it, which the controller survives (client.ts).
 */
function getAcl(zk: NativeClient, path: string): Promise<{ acl: Acl[]; stat: Stat }> {
  return new Promise((resolve, reject) => {
    zk.a_exists(path, false, (rc, error) => {
      if (rc !== ZkCode.ok) return reject(new Failed(rc, error));
      zk.a_get_acl(path, (rc2, error2, acl, stat) => (rc2 === ZkCode.ok ? resolve({ acl: acl!.map(toAcl), stat: toStat(stat!) }) : reject(new Failed(rc2, error2))));
    });
  });
}

/**
 * read: data first (which says whether the node is there), then its ACL, then its children when asked and it has any.
 * With watch, the data and children are asked with the session's watcher (a child watch needs the list asked even when empty).
 */
async function performRead(zk: NativeClient, flags: Record<string, number>, path: string, withChildren: boolean, watch: boolean): Promise<Value> {
  const got = await getData(zk, path, watch);
  const acl = await new Promise<NativeAcl[]>((resolve, reject) =>
    zk.a_get_acl(path, (rc, error, a) => (rc === ZkCode.ok ? resolve(a!) : reject(new Failed(rc, error)))));
  let children: string[] = [];
  let stat = got.stat;
  if ((withChildren && got.stat.numChildren > 0) || watch) {
    const c = await getChildren(zk, path, watch);
    if (withChildren) children = c.children;
    stat = c.stat;
  }
  return { op: "read", data: got.data, stat, acl: acl.map(toAcl), children };
}

function start(init: Init, lines: AsyncIterable<string>): void {
  const ZooKeeper = createRequire(import.meta.url)("zookeeper") as NativeCtor;
  const flags = ZooKeeper.constants;
  const zk = new ZooKeeper({
    connect: init.connect, timeout: init.sessionTimeoutMs,
    debug_level: flags.ZOO_LOG_LEVEL_ERROR ?? 1, host_order_deterministic: false,
  });
  let ready = false;
  let closing = false;
  zk.on("connect", (client) => {
    if (ready) return send({ type: "state", state: "connected" });
    ready = true;
    const c = client as { client_id?: string; timeout?: number };
    const hello: FromWorker = { type: "ready", sessionId: c.client_id ?? "", sessionTimeoutMs: c.timeout ?? 0 };
    let waiting = init.auth.length;
    if (waiting === 0) return send(hello);
    for (const a of init.auth) {
      zk.add_auth(a.scheme, a.credential, (rc, error) => {
        if (rc !== ZkCode.ok) {
          send({ type: "fatal", message: `adding ${a.scheme} authentication failed: ${error} (${rc})` });
          return exit(3);
        }
        if (--waiting === 0) send(hello);
      });
    }
  });
  zk.on("connecting", () => ready && send({ type: "state", state: "connecting" }));
  // Watches left by reads (the session's default watcher) fire here, once each.
  for (const event of WatchEvent.options) zk.on(event, (_client, path) => send({ type: "watch", event, path: String(path) }));
  zk.on("close", (_client, code) => {
    if (closing) return exit(0);
    send({ type: "state", state: code === flags.ZOO_AUTH_FAILED_STATE ? "auth_failed" : "expired" });
    exit(3);
  });
  // Large replies take many polls of the socket (DESIGN.md): never call a slow reply a dead session.
  zk.init({ response_counter_limit: init.responseCounterLimit });

  void (async () => {
    for await (const line of lines) {
      const msg = parseLine(line);
      if (!msg) continue;
      if (msg.type === "close") break;
      if (msg.type !== "call") continue;
      const { id, call } = msg;
      perform(zk, flags, call).then(
        (value) => send({ type: "result", id, value }),
        (err: unknown) => send(err instanceof Failed
          ? { type: "failure", id, rc: err.rc, message: err.message }
          : { type: "failure", id, rc: ZkCode.marshallingError, message: String((err as Error)?.message ?? err) }),
      );
    }
    closing = true;
    zk.close();
    // close emits "close" synchronously when a handle exists; otherwise nothing else will end us.
    setTimeout(() => exit(0), 200).unref();
  })();
}

function parseLine(line: string): ToWorker | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    send({ type: "fatal", message: `not JSON: ${line.slice(0, 200)}` });
    return undefined;
  }
  const parsed = ToWorker.safeParse(raw);
  if (parsed.success) return parsed.data;
  const id = (raw as { id?: unknown })?.id;
  const message = `invalid request: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
  if (typeof id === "number") send({ type: "failure", id, rc: ZkCode.badArguments, message });
  else send({ type: "fatal", message });
  return undefined;
}

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) return exit(0);
  const init = parseLine(first.value);
  if (!init || init.type !== "init") {
    send({ type: "fatal", message: "the first line must be init" });
    return exit(2);
  }
  start(init, { [Symbol.asyncIterator]: () => lines });
}

main().catch((err: unknown) => {
  send({ type: "fatal", message: String((err as Error)?.message ?? err) });
  exit(1);
});
