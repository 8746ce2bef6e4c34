// The wire contract between ZkClient (controller) and its worker process.
// Both ends validate every line with these schemas, so a message one side
// accepts is exactly one the other side may send.
//
// Framing: newline-delimited JSON. The controller writes one Init line, then
// Call lines (each with an id, any number in flight) and finally a Close
// line. The worker answers Init with Ready (or Fatal), each Call with a
// Result or a Failure carrying the same id, and reports session changes as
// State lines. Node data travels as base64.
import { z } from "zod";

export const ZkPath = z
  .string()
  .min(1)
  .refine((p) => p === "/" || (p.startsWith("/") && !p.endsWith("/") && !p.includes("//")), "must be an absolute znode path like /a/b")
  .refine((p) => !p.includes("\0"), "must not contain NUL");

export const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64");

export const Acl = z.strictObject({
  perms: z.number().int().min(0).max(31),
  scheme: z.string().min(1),
  id: z.string(),
});
export type Acl = z.infer<typeof Acl>;

/** A znode's stat as the server reports it; times in ms since the epoch, ephemeralOwner in hex (64 bits do not fit a double). */
export const Stat = z.strictObject({
  czxid: z.number(),
  mzxid: z.number(),
  pzxid: z.number(),
  ctime: z.number(),
  mtime: z.number(),
  version: z.number().int(),
  cversion: z.number().int(),
  aversion: z.number().int(),
  dataLength: z.number().int(),
  numChildren: z.number().int(),
  ephemeralOwner: z.string().regex(/^[0-9a-f]{1,16}$/),
});
export type Stat = z.infer<typeof Stat>;

/** How a znode is created. container and ttl need a 3.5.3+ server (ttl also extendedTypesEnabled). */
export const CreateMode = z.enum(["persistent", "ephemeral", "container", "ttl"]);
export type CreateMode = z.infer<typeof CreateMode>;

export const Init = z.strictObject({
  type: z.literal("init"),
  connect: z.string().min(1),
  sessionTimeoutMs: z.number().int().positive(),
  /** Polls in a row without a reply before the native client gives up (its default, 10, fails on large replies). */
  responseCounterLimit: z.number().int().positive(),
  auth: z.array(z.strictObject({ scheme: z.string().min(1), credential: z.string() })),
});
export type Init = z.infer<typeof Init>;

const Path = z.strictObject({ path: ZkPath });
export const Call = z.discriminatedUnion("op", [
  Path.extend({ op: z.literal("exists") }),
  Path.extend({ op: z.literal("get") }),
  Path.extend({ op: z.literal("children") }),
  Path.extend({ op: z.literal("acl") }),
  /** Data, stat and ACL of one node, and (when asked and the stat says it has any) its children: what a walk needs of a node. */
  /** watch: leave a data and a child watch on the node (children are then always asked); each fires once, as a Watch line. */
  Path.extend({ op: z.literal("read"), children: z.boolean(), watch: z.boolean().optional() }),
  Path.extend({
    op: z.literal("create"),
    data: Base64,
    mode: CreateMode,
    sequential: z.boolean(),
    ttlMs: z.number().int().positive().max(2 ** 31 - 1).optional(),
  }),
  Path.extend({ op: z.literal("set"), data: Base64, version: z.number().int() }),
  Path.extend({ op: z.literal("setAcl"), acl: z.array(Acl).min(1), version: z.number().int() }),
  Path.extend({ op: z.literal("delete"), version: z.number().int() }),
]);
export type Call = z.infer<typeof Call>;
export type CallOp = Call["op"];

export const ToWorker = z.discriminatedUnion("type", [
  Init,
  z.strictObject({ type: z.literal("call"), id: z.number().int().nonnegative(), call: Call }),
  z.strictObject({ type: z.literal("close") }),
]);
export type ToWorker = z.infer<typeof ToWorker>;

export const Value = z.discriminatedUnion("op", [
  z.strictObject({ op: z.literal("exists"), stat: Stat.nullable() }),
  z.strictObject({ op: z.literal("get"), data: Base64, stat: Stat }),
  z.strictObject({ op: z.literal("children"), children: z.array(z.string()), stat: Stat }),
  z.strictObject({ op: z.literal("acl"), acl: z.array(Acl), stat: Stat }),
  z.strictObject({ op: z.literal("read"), data: Base64, stat: Stat, acl: z.array(Acl), children: z.array(z.string()) }),
  z.strictObject({ op: z.literal("create"), path: z.string() }),
  z.strictObject({ op: z.literal("set"), stat: Stat }),
  z.strictObject({ op: z.literal("setAcl") }),
  z.strictObject({ op: z.literal("delete") }),
]);
export type Value = z.infer<typeof Value>;
export type ValueOf<K extends CallOp> = Extract<Value, { op: K }>;

export const SessionState = z.enum(["connected", "connecting", "expired", "auth_failed"]);
export type SessionState = z.infer<typeof SessionState>;

export const WatchEvent = z.enum(["created", "deleted", "changed", "child"]);
export type WatchEvent = z.infer<typeof WatchEvent>;

export const FromWorker = z.discriminatedUnion("type", [
  /** sessionTimeoutMs: what the server granted (it bounds the asked value by its min/max session timeout). */
  z.strictObject({ type: z.literal("ready"), sessionId: z.string(), sessionTimeoutMs: z.number().int() }),
  z.strictObject({ type: z.literal("result"), id: z.number().int(), value: Value }),
  /** rc: the ZooKeeper return code (ZNONODE -101, ZNODEEXISTS -110, ...). */
  z.strictObject({ type: z.literal("failure"), id: z.number().int(), rc: z.number().int(), message: z.string() }),
  z.strictObject({ type: z.literal("state"), state: SessionState }),
  /** A watch left by a read fired: the node changed, went, or its children changed. */
  z.strictObject({ type: z.literal("watch"), event: WatchEvent, path: z.string() }),
  z.strictObject({ type: z.literal("fatal"), message: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorker>;

/** The return codes callers act on; the rest are reported by name. */
export const ZkCode = {
  ok: 0,
  connectionLoss: -4,
  marshallingError: -5,
  unimplemented: -6,
  operationTimeout: -7,
  badArguments: -8,
  noNode: -101,
  noAuth: -102,
  badVersion: -103,
  noChildrenForEphemerals: -108,
  nodeExists: -110,
  notEmpty: -111,
  sessionExpired: -112,
  invalidAcl: -114,
  authFailed: -115,
  closing: -116,
} as const;

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ZkCode).map(([k, v]) => [v, k]));

export function codeName(rc: number): string {
  return CODE_NAMES[rc] ?? `error ${rc}`;
}
