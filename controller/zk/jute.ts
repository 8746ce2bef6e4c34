// ZooKeeper's wire records (jute: big-endian ints and longs, length-prefixed
// buffers and UTF-8 strings, -1 for null), as the data plane's client
// (wire.ts) sends and reads them. Only what that client uses is here: the
// connect handshake, auth, ping, close, exists, getData, getChildren2,
// getACL, create (plain, container, TTL), setData, setACL, delete, sync and
// multi. The record layouts are those of zookeeper.jute, unchanged from
// 3.4 to 3.9; opcodes a 3.4 server does not know (container, TTL) are only
// sent when the caller asks for such a node.
import type { Acl, Stat } from "./protocol.js";

export const Op = {
  notification: 0, create: 1, delete: 2, exists: 3, getData: 4, setData: 5, getACL: 6, setACL: 7,
  getChildren: 8, sync: 9, ping: 11, getChildren2: 12, check: 13, multi: 14, createContainer: 19, createTTL: 21,
  auth: 100, closeSession: -11, error: -1,
} as const;

/** xids the server uses for what is not an answer to a numbered request. */
export const Xid = { notification: -1, ping: -2, auth: -4 } as const;

/** CreateMode flags as the server reads them. */
export const CreateFlag = { persistent: 0, ephemeral: 1, sequential: 2, container: 4, ttl: 5, ttlSequential: 6 } as const;

/** A growable buffer written front to back. */
export class JuteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  int(v: number): this {
    this.room(4);
    this.at = this.buf.writeInt32BE(v, this.at);
    return this;
  }

  long(v: number | bigint): this {
    this.room(8);
    this.at = this.buf.writeBigInt64BE(BigInt(v), this.at);
    return this;
  }

  bool(v: boolean): this {
    this.room(1);
    this.buf[this.at++] = v ? 1 : 0;
    return this;
  }

  buffer(b: Buffer | null): this {
    if (b === null) return this.int(-1);
    this.int(b.length);
    this.room(b.length);
    this.at += b.copy(this.buf, this.at);
    return this;
  }

  string(s: string): this {
    const n = Buffer.byteLength(s);
    this.int(n);
    this.room(n);
    this.at += this.buf.write(s, this.at);
    return this;
  }

  acls(acl: readonly Acl[]): this {
    this.int(acl.length);
    for (const a of acl) this.int(a.perms).string(a.scheme).string(a.id);
    return this;
  }

  /** The bytes written, with the 4-byte length prefix every packet carries filled in (the writer must have begun with int(0)). */
  framed(): Buffer {
    this.buf.writeInt32BE(this.at - 4, 0);
    return this.buf.subarray(0, this.at);
  }
}

/** Reads one packet front to back; throws on a record that runs past its end. */
export class JuteReader {
  at = 0;

  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new RangeError(`a record runs past the end of its packet (${this.buf.length} bytes)`);
  }

  int(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.at);
    this.at += 4;
    return v;
  }

  long(): number {
    return Number(this.bigLong());
  }

  bigLong(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.at);
    this.at += 8;
    return v;
  }

  bool(): boolean {
    this.need(1);
    return this.buf[this.at++] !== 0;
  }

  /** A copy: the packet's memory is not kept alive by what is read from it. */
  buffer(): Buffer | null {
    const n = this.int();
    if (n < 0) return null;
    this.need(n);
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, this.at, this.at + n);
    this.at += n;
    return out;
  }

  string(): string | null {
    const n = this.int();
    if (n < 0) return null;
    this.need(n);
    const s = this.buf.toString("utf8", this.at, this.at + n);
    this.at += n;
    return s;
  }

  strings(): string[] {
    const n = this.int();
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.string() ?? "");
    return out;
  }

  acls(): Acl[] {
    const n = this.int();
    const out: Acl[] = [];
    for (let i = 0; i < n; i++) {
      const perms = this.int();
      out.push({ perms, scheme: this.string() ?? "", id: this.string() ?? "" });
    }
    return out;
  }

  /** The record order of zookeeper.jute's Stat; ephemeralOwner as unsigned hex, as the native client gave it. */
  stat(): Stat {
    const czxid = this.long();
    const mzxid = this.long();
    const ctime = this.long();
    const mtime = this.long();
    const version = this.int();
    const cversion = this.int();
    const aversion = this.int();
    const ephemeralOwner = BigInt.asUintN(64, this.bigLong()).toString(16);
    const dataLength = this.int();
    const numChildren = this.int();
    const pzxid = this.long();
    return { czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, dataLength, numChildren, ephemeralOwner };
  }
}
