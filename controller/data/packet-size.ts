// How big a write request is on the wire, and whether a target takes it.
//
// A server reads a client's request as one packet whose length (after the
// 4-byte length prefix) may not exceed its `jute.maxbuffer`, a JVM system
// property (default 0xfffff = 1,048,575 bytes): past it, the server logs
// "Len error" and drops the connection, whatever the request. The packet is
// a request header (xid, opcode) and the request's jute encoding: every
// string and buffer as a 4-byte length and its bytes, an ACL as a vector of
// (perms, scheme, id). So a create carries path + data + ACL + flags, not
// data alone.
//
// The figure zkfleet holds writes to is the limit less PACKET_MARGIN: a
// reader gets a node back in a reply 88 bytes longer than its data (reply
// header, data length, stat), and Java clients refuse a reply longer than
// their own jute.maxbuffer (default 0xfffff too), so a node written right at
// the limit could not be read back by them; the servers also wrap each write in a transaction
// header (32 bytes and a few fields) when they log it and propose it, which
// they read back with 1 KiB of slack (3.4.13: maxbuffer + 1024; 3.5+:
// maxbuffer + max(1024, zookeeper.jute.maxbuffer.extrasize)).
//
// Pure, and written for any request shape: a multi transaction (one packet
// holding many ops) is sized by multiRequestBytes from the same op sizes.
import { type ErrorSource, ZkfleetError } from "../../common/errors.js";
import type { Acl } from "../zk/protocol.js";
import { OPEN_ACL } from "./compare.js";
import type { TreeNode } from "./format.js";

/** ZooKeeper's own default for jute.maxbuffer (BinaryInputArchive: 0xfffff). */
export const JUTE_MAXBUFFER_DEFAULT = 0xfffff;
/** Bytes below the target's jute.maxbuffer that a write request must stay (see the file's comment). */
export const PACKET_MARGIN = 128;

/** The request header every packet starts with: xid and opcode. */
const REQUEST_HEADER = 8;
/** A multi's per-op header (type, done, err) and the closing one after the last op. */
const MULTI_HEADER = 9;

const int = 4;
const long = 8;
const bytes = (b: Buffer) => int + b.length;
const text = (s: string) => int + Buffer.byteLength(s, "utf8");
const aclBytes = (acl: readonly Acl[]) => acl.reduce((n, a) => n + int + text(a.scheme) + text(a.id), int);

/** A write as sent: the fields that decide its size. */
export type WriteOp =
  | { op: "create"; path: string; data: Buffer; acl: readonly Acl[]; ttl?: boolean }
  | { op: "set"; path: string; data: Buffer }
  | { op: "setAcl"; path: string; acl: readonly Acl[] }
  | { op: "delete"; path: string };

/** An op's body, without the request header (what a multi carries per op). */
function bodyBytes(w: WriteOp): number {
  switch (w.op) {
    case "create": return text(w.path) + bytes(w.data) + aclBytes(w.acl) + int + (w.ttl ? long : 0);
    case "set": return text(w.path) + bytes(w.data) + int;
    case "setAcl": return text(w.path) + aclBytes(w.acl) + int;
    case "delete": return text(w.path) + int;
  }
}

/** The packet length the server checks against jute.maxbuffer for one request. */
export function requestBytes(w: WriteOp): number {
  return REQUEST_HEADER + bodyBytes(w);
}

/** The packet length of a multi transaction of these ops (all in one packet, checked as one). */
export function multiRequestBytes(ops: readonly WriteOp[]): number {
  return MULTI_EMPTY_BYTES + ops.reduce((n, w) => n + multiOpBytes(w), 0);
}

/** What one op adds to a multi's packet: its op header and body (a writer filling a multi counts as it goes). */
export const multiOpBytes = (w: WriteOp) => MULTI_HEADER + bodyBytes(w);
/** A multi's packet with no op in it: the request header and the closing op header. */
export const MULTI_EMPTY_BYTES = REQUEST_HEADER + MULTI_HEADER;

/**
 * The largest single request that writes this node: its create (the `zookeeper`
 * package creates with the open ACL, a multi with the node's own), a set of its
 * data, or a set of its ACL.
 */
export function nodeWriteBytes(node: Pick<TreeNode, "path" | "data" | "acl" | "ttlMs">): number {
  const ttl = node.ttlMs !== undefined;
  return Math.max(
    requestBytes({ op: "create", path: node.path, data: node.data, acl: node.acl, ttl }),
    requestBytes({ op: "create", path: node.path, data: node.data, acl: OPEN_ACL, ttl }),
    requestBytes({ op: "set", path: node.path, data: node.data }),
    requestBytes({ op: "setAcl", path: node.path, acl: node.acl }),
  );
}

/** A target's limit: its servers' jute.maxbuffer, and where that figure comes from. */
export interface WriteLimit {
  maxBuffer: number;
  /** Said with the figure: read from which servers, given by the operator, or the default. */
  from: string;
}

/** The largest write request zkfleet sends to a target with this limit. */
export const packetLimit = (l: WriteLimit) => l.maxBuffer - PACKET_MARGIN;

export function describeLimit(l: WriteLimit): string {
  return `jute.maxbuffer ${l.maxBuffer} bytes (${l.from}); zkfleet keeps every write request to ${packetLimit(l)} bytes, ${PACKET_MARGIN} below it`;
}

export interface Oversized {
  path: string;
  bytes: number;
  dataBytes: number;
}

/** The node when a write of it would not fit the limit, else undefined. */
export function oversized(node: Pick<TreeNode, "path" | "data" | "acl" | "ttlMs">, limit: WriteLimit): Oversized | undefined {
  const n = nodeWriteBytes(node);
  return n > packetLimit(limit) ? { path: node.path, bytes: n, dataBytes: node.data.length } : undefined;
}

const LISTED = 10;

/**
 * The refusal of nodes too large for a target, by path. `source` says what it
 * is to the command: bad input (an import's file, checked whole, nothing
 * written) or a refusal along the way (sync, which reads its source as it goes).
 */
export function oversizeError(nodes: readonly Oversized[], limit: WriteLimit, target: string, source: ErrorSource, outcome: string): ZkfleetError {
  const listed = nodes.slice(0, LISTED).map((n) => `${n.path} (${n.dataBytes} bytes of data, a ${n.bytes}-byte request)`).join(", ");
  const more = nodes.length > LISTED ? `, and ${nodes.length - LISTED} more` : "";
  return new ZkfleetError(source, `${nodes.length} node(s) too large for ${target}: ${listed}${more}; ${describeLimit(limit)}; ${outcome}`, {
    where: nodes[0]?.path,
    hint: "the servers would drop the connection on such a request (\"Len error\" in their log): raise -Djute.maxbuffer on every server " +
      "of the target (SERVER_JVMFLAGS, e.g. in conf/java.env; clients that read these nodes need it too) and run again " +
      "(a target named by a connect string: give the figure with --jute-maxbuffer BYTES), or leave these nodes out",
  });
}

/**
 * The value Java gives a `-Djute.maxbuffer=` flag (Integer.getInteger: decimal,
 * 0x/#-hex or 0-octal; the last flag wins; one it cannot parse means the
 * default), or undefined when the command line has none.
 */
export function juteMaxBufferOf(argv: readonly string[]): number | undefined {
  const flag = [...argv].reverse().find((a) => a.startsWith("-Djute.maxbuffer="));
  if (flag === undefined) return undefined;
  return decodeJavaInt(flag.slice("-Djute.maxbuffer=".length)) ?? JUTE_MAXBUFFER_DEFAULT;
}

/** java.lang.Integer.decode, or undefined where it would throw. */
export function decodeJavaInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|#[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const [, sign, digits] = m as unknown as [string, string, string];
  const value = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16)
    : digits.startsWith("#") ? parseInt(digits.slice(1), 16)
      : digits.length > 1 && digits.startsWith("0") ? parseInt(digits.slice(1), 8)
        : parseInt(digits, 10);
  const signed = sign === "-" ? -value : value;
  return signed >= -(2 ** 31) && signed <= 2 ** 31 - 1 ? signed : undefined;
}
