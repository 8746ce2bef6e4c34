// The data plane's own ZooKeeper records (pure: no server): jute values
// round-trip, a multi's bytes are exactly what the writer counts against the
// servers' jute.maxbuffer, a MultiResponse names the op that failed, and the
// post-order test the import checkpoint resumes by.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JuteReader, JuteWriter } from "../../controller/zk/jute.js";
import { type MultiOp, multiOutcome, writeMulti } from "../../controller/zk/wire-client.js";
import { parseConnectString } from "../../controller/zk/wire.js";
import { MULTI_EMPTY_BYTES, type WriteOp, multiOpBytes, multiRequestBytes, requestBytes } from "../../controller/data/packet-size.js";
import { closedBy } from "../../controller/data/writer.js";
import { ahead } from "../../controller/data/diff.js";
import { childPath, comparePaths } from "../../controller/zk/paths.js";

const OPEN = [{ perms: 31, scheme: "world", id: "anyone" }];
const ALICE = [{ perms: 31, scheme: "digest", id: "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=" }, { perms: 1, scheme: "ip", id: "10.0.0.0/8" }];

describe("jute records", () => {
  it("round-trips ints, longs, booleans, buffers (null too), UTF-8 strings, ACLs and a Stat, each in the layout the server uses", () => {
    const w = new JuteWriter(4).int(0).int(-7).long(2 ** 40 + 5).bool(true).buffer(Buffer.from([0, 255])).buffer(null).string("ünï 名").acls(ALICE);
    // A Stat as the server writes it: czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid.
    w.long(0x100000001).long(0x100000002).long(1_700_000_000_000).long(1_700_000_000_001).int(3).int(14).int(2).long(-1n).int(9).int(0).long(0x100000003);
    const framed = w.framed();
    expect(framed.readInt32BE(0)).toBe(framed.length - 4);
    const r = new JuteReader(framed.subarray(4));
    expect([r.int(), r.long(), r.bool()]).toEqual([-7, 2 ** 40 + 5, true]);
    expect(r.buffer()).toEqual(Buffer.from([0, 255]));
    expect(r.buffer()).toBeNull();
    expect(r.string()).toBe("ünï 名");
    expect(r.acls()).toEqual(ALICE);
    expect(r.stat()).toEqual({
      czxid: 0x100000001, mzxid: 0x100000002, ctime: 1_700_000_000_000, mtime: 1_700_000_000_001, version: 3, cversion: 14, aversion: 2,
      // A session id with the top bit set (server ids past 127) is an unsigned hex number, as the native client printed it.
      ephemeralOwner: "ffffffffffffffff", dataLength: 9, numChildren: 0, pzxid: 0x100000003,
    });
    expect(() => r.int()).toThrow(/runs past the end/);
  });

  it("a multi's request is exactly as long as packet-size.ts counts it, op by op as the writer fills it, and a single request too", () => {
    const ops: MultiOp[] = [
      { op: "create", path: "/a/ünï", data: Buffer.alloc(1000, 1), acl: OPEN },
      { op: "create", path: "/a/t", data: Buffer.alloc(3), acl: ALICE, mode: "ttl", ttlMs: 60_000 },
      { op: "create", path: "/a/box", data: Buffer.alloc(0), acl: OPEN, mode: "container" },
      { op: "delete", path: "/a/gone" },
      { op: "set", path: "/a", data: Buffer.from("new") },
    ];
    const measured = (o: MultiOp): WriteOp => (o.op === "create" ? { op: "create", path: o.path, data: o.data, acl: o.acl, ttl: o.mode === "ttl" } : o);
    const w = new JuteWriter().int(0).int(1).int(14);
    writeMulti(w, ops, (p) => p);
    // What the server compares with jute.maxbuffer: the packet without its length prefix.
    expect(w.framed().length - 4).toBe(multiRequestBytes(ops.map(measured)));
    expect(multiRequestBytes(ops.map(measured))).toBe(MULTI_EMPTY_BYTES + ops.reduce((n, o) => n + multiOpBytes(measured(o)), 0));
    // A chroot lengthens every path the server gets.
    const chrooted = new JuteWriter().int(0).int(1).int(14);
    writeMulti(chrooted, ops, (p) => "/some/chroot" + p);
    expect(chrooted.framed().length - 4).toBe(multiRequestBytes(ops.map(measured)) + ops.length * "/some/chroot".length);
    const plain = new JuteWriter().int(0).int(1).int(1).string("/x").buffer(Buffer.alloc(10)).acls(ALICE).int(0);
    expect(plain.framed().length - 4).toBe(requestBytes({ op: "create", path: "/x", data: Buffer.alloc(10), acl: ALICE }));
  });

  it("a MultiResponse says which op failed (the ops before it answer 0, those after runtimeInconsistency), or that all were applied", () => {
    const failed = new JuteWriter().int(0);
    for (const [type, err] of [[-1, 0], [-1, -110], [-1, -2]] as const) failed.int(type).bool(false).int(err).int(err);
    failed.int(-1).bool(true).int(-1);
    expect(multiOutcome(new JuteReader(failed.framed().subarray(4)))).toEqual({ ok: false, index: 1, rc: -110 });
    const applied = new JuteWriter().int(0).int(1).bool(false).int(0).string("/a").int(2).bool(false).int(0).int(5).bool(false).int(0);
    applied.long(1).long(2).long(3).long(4).int(1).int(0).int(0).long(0).int(3).int(0).long(5);
    applied.int(-1).bool(true).int(-1);
    expect(multiOutcome(new JuteReader(applied.framed().subarray(4)))).toEqual({ ok: true });
  });

  it("reads a connect string's servers and chroot", () => {
    expect(parseConnectString("10.0.0.1:2181,[::1]:2182/app/x/")).toEqual({ servers: [{ host: "10.0.0.1", port: 2181 }, { host: "::1", port: 2182 }], chroot: "/app/x" });
    expect(parseConnectString("h:1")).toEqual({ servers: [{ host: "h", port: 1 }] });
  });
});

describe("where a write resumes", () => {
  it("closedBy(a, b) holds exactly when a's subtree is closed no later than b's in a depth-first walk", () => {
    const names = fc.constantFrom("a", "b", "a-b", "a.b", "é");
    const tree = fc.uniqueArray(fc.array(names, { minLength: 1, maxLength: 4 }).map((segs) => "/" + segs.join("/")), { maxLength: 25 });
    fc.assert(fc.property(tree, (paths) => {
      // Every ancestor present, as in a stream; then the post-order of that tree.
      const all = new Set<string>(["/"]);
      for (const p of paths) for (let q = p; q !== "/"; q = q.slice(0, q.lastIndexOf("/")) || "/") all.add(q);
      const pre = [...all].sort(comparePaths);
      const post: string[] = [];
      const visit = (p: string) => {
        for (const c of pre.filter((x) => x !== p && x.startsWith(p === "/" ? "/" : p + "/") && !x.slice(p === "/" ? 1 : p.length + 1).includes("/"))) visit(c);
        post.push(p);
      };
      visit("/");
      for (const a of pre) for (const b of pre) expect(closedBy(a, b), `${a} vs ${b}`).toBe(post.indexOf(a) <= post.indexOf(b));
    }), { numRuns: 200 });
    expect(childPath("/", "x")).toBe("/x");
  });
});

describe("a side of diff read ahead", () => {
  it("asks the source for values while the consumer waits elsewhere, hands them out in order, and passes a failure on", async () => {
    let produced = 0;
    async function* source(fail: boolean) {
      for (let i = 0; i < 10; i++) {
        produced = i + 1;
        yield i;
      }
      if (fail) throw new Error("the walk failed");
    }
    const it = ahead(source(false), 4)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    // Nothing pulls: the source still went on ahead of the consumer, as far as the window allows.
    await new Promise((r) => setTimeout(r, 20));
    expect(produced).toBeGreaterThanOrEqual(4);
    expect(produced).toBeLessThanOrEqual(6);
    const rest: number[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const failing: number[] = [];
    await expect((async () => {
      for await (const v of ahead(source(true), 3)) failing.push(v);
    })()).rejects.toThrow("the walk failed");
    expect(failing).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
