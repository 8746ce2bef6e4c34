// zkfleet's own protocol client (controller/zk/wire-client.ts), which the
// data plane runs on, against a 3-server 3.9.3 lab ensemble; what it wrote
// is read back by zkCli (ZooKeeper's own client). Calls and typed errors, a
// create's ACL, chroot, watches, nodes near 1 MB and a request past the
// servers' limit; multi applied whole or not at all, and its scratch
// create/delete pairs moving a counter; a frozen server (SIGSTOP): the
// session goes on through another, reads in flight are answered there and a
// write in flight fails typed; a session the servers expire: a reader gets a
// new one, a writer a typed error; a walk spread over a session per server;
// credentials refused.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { ZkCallError } from "../../controller/zk/client.js";
import { ZkCode } from "../../controller/zk/protocol.js";
import { type WireClientOptions, WireClient } from "../../controller/zk/wire-client.js";
import { labFault } from "../../lab/lab.js";
import { liveTree } from "../../controller/data/export.js";
import { runCli } from "../helpers/cli.js";
import { fourLetterWord, modeOf, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";
import { zkCli } from "../helpers/zkcli.js";

const t = useTestLab("data-wire", subnet("data-wire"), 3, "3.9.3");
const OPEN = [{ perms: 31, scheme: "world", id: "anyone" }];
const ALICE = `alice:${createHash("sha1").update("alice:secret").digest("base64")}`;
let all: string;
let followers: { name: string; server: string }[];
const thaw = new Set<string>();

beforeAll(async () => {
  const r = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(r.code, r.err).toBe(2);
  all = t.lab.hosts.map((h) => `${h.address}:2181`).join(",");
  const modes = await Promise.all(t.lab.hosts.map(async (h) => ({ name: h.name, server: `${h.address}:2181`, mode: modeOf(await fourLetterWord(h.address, 2181, "srvr")) })));
  followers = modes.filter((m) => m.mode === "follower");
  expect(followers.length).toBe(2);
}, 300_000);

afterAll(async () => {
  for (const h of thaw) await labFault("thaw", h, t.lab.dir).catch(() => undefined);
});

async function withClient<T>(opts: Partial<WireClientOptions>, fn: (c: WireClient) => Promise<T>): Promise<T> {
  const c = await WireClient.open({ connect: all, ...opts });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe("WireClient", () => {
  it("creates with ACLs, reads, lists, sets, deletes, with typed errors; a chroot; watches fire once with the client's paths", () => withClient({}, async (c) => {
    await c.create("/w", Buffer.from("top"));
    await c.create("/w/acl", Buffer.from("x"), { acl: [{ perms: 31, scheme: "digest", id: ALICE }, { perms: 1, scheme: "world", id: "anyone" }] });
    expect(await c.create("/w/s-", Buffer.alloc(0), { sequential: true })).toBe("/w/s-0000000001");
    await c.create("/w/eph", Buffer.from([0, 255]), { mode: "ephemeral" });
    await c.create("/w/box", Buffer.alloc(0), { mode: "container" });
    // As alice: 3.5.5+ show a digest id only to a session with ADMIN on the node.
    const seen = await zkCli(all, ["addauth digest alice:secret", "getAcl /w/acl", "stat /w/eph", "ls /w"]);
    expect(seen).toContain(`'digest,'${ALICE}`);
    expect(seen).toMatch(/ephemeralOwner = 0x[1-9a-f]/);
    expect(seen).toContain("[acl, box, eph, s-0000000001]");
    const read = await c.read("/w");
    expect({ data: read.data.toString(), children: [...read.children].sort(), cversion: read.stat.cversion }).toEqual({ data: "top", children: ["acl", "box", "eph", "s-0000000001"], cversion: 4 });
    // The native client's ACL read crashed on a node that is not there; this one answers noNode.
    const missing = await c.getAcl("/w/none").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ZkCallError);
    expect((missing as ZkCallError).rc).toBe(ZkCode.noNode);
    const exists = await c.create("/w", Buffer.alloc(0)).catch((e: unknown) => e);
    expect((exists as ZkCallError).message).toBe(`create /w on ${all}: nodeExists (node exists, -110)`);
    await expect(c.delete("/w")).rejects.toMatchObject({ rc: ZkCode.notEmpty });
    expect((await c.set("/w", Buffer.from("again"))).version).toBe(1);
    expect(await c.exists("/w/none")).toBeUndefined();

    const events: string[] = [];
    await withClient({ connect: `${all}/w`, onWatch: (e, p) => events.push(`${e} ${p}`) }, async (r) => {
      expect((await r.get("/")).data.toString()).toBe("again");
      // Four creates below /w so far.
      expect(await r.create("/q-", Buffer.alloc(0), { sequential: true })).toBe("/q-0000000004");
      await r.read("/acl", { watch: true });
      await zkCli(all, ["addauth digest alice:secret", "set /w/acl changed", "create /w/acl/under x"]);
      await r.sync("/");
      for (let i = 0; i < 50 && events.length < 2; i++) await new Promise((res) => setTimeout(res, 100));
    });
    expect(events.sort()).toEqual(["changed /acl", "child /acl"]);
    expect(await zkCli(all, ["ls /w"])).toContain("q-0000000004");
  }));

  it("nodes near 1 MB go both ways; a request past jute.maxbuffer makes the server drop the connection, and the client goes on", () => withClient({}, async (c) => {
    const big = Buffer.alloc(1_048_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    await c.create("/big", Buffer.alloc(0));
    await Promise.all(Array.from({ length: 3 }, (_, i) => c.create(`/big/n${i}`, big)));
    const reads = await Promise.all([...Array.from({ length: 3 }, (_, i) => c.get(`/big/n${i}`)), ...Array.from({ length: 30 }, () => c.exists("/big"))]);
    for (const r of reads.slice(0, 3)) expect((r as { data: Buffer }).data.equals(big)).toBe(true);
    const over = await c.create("/big/over", Buffer.alloc(1 << 20)).catch((e: unknown) => e);
    expect((over as ZkCallError).rc).toBe(ZkCode.connectionLoss);
    expect((await c.get("/big/n0")).data.equals(big)).toBe(true);
    expect(c.restarts.length).toBe(1);
  }));

  it("a multi is applied whole, in one transaction, or refused naming its op with nothing applied; its create/delete pairs move a counter", () => withClient({}, async (c) => {
    await c.create("/m", Buffer.alloc(0));
    const ok = await c.multi([
      ...Array.from({ length: 5 }, (_, i) => ({ op: "create" as const, path: `/m/n${i}`, data: Buffer.from(`v${i}`), acl: OPEN })),
      { op: "set", path: "/m", data: Buffer.from("set") },
    ]);
    expect(ok).toEqual({ ok: true });
    const stats = await zkCli(all, ["stat /m/n0", "stat /m/n4", "get /m"]);
    const czxids = [...stats.matchAll(/cZxid = (0x[0-9a-f]+)/g)].map((m) => m[1]);
    expect(czxids.length).toBe(2);
    expect(czxids[0]).toBe(czxids[1]);
    expect(stats).toContain("set");
    const refused = await c.multi([
      { op: "create", path: "/m/new", data: Buffer.alloc(0), acl: OPEN },
      { op: "create", path: "/m/n2", data: Buffer.alloc(0), acl: OPEN },
      { op: "delete", path: "/m/n3" },
    ]);
    expect(refused).toEqual({ ok: false, index: 1, rc: ZkCode.nodeExists });
    expect(await zkCli(all, ["ls /m"])).toContain("[n0, n1, n2, n3, n4]");
    const pair = [{ op: "create" as const, path: "/m/scratch", data: Buffer.alloc(0), acl: OPEN }, { op: "delete" as const, path: "/m/scratch" }];
    expect(await c.multi(Array.from({ length: 7 }, () => pair).flat())).toEqual({ ok: true });
    // Five children, then seven scratch creates: the next sequential child is number 12.
    expect(await zkCli(all, ["create -s /m/q- x"])).toContain("Created /m/q-0000000012");
  }));

  it("a frozen server: the session goes on through another, reads in flight are answered there, a write in flight fails typed", async () => {
    const connect = followers.map((f) => f.server).join(",");
    await withClient({ connect, sessionTimeoutMs: 6000, retryReads: 1 }, async (c) => {
      await c.set("/w", Buffer.from("before"));
      const on = followers.find((f) => f.server === c.server)!;
      expect(on).toBeDefined();
      await labFault("freeze", on.name, t.lab.dir);
      thaw.add(on.name);
      try {
        const write = c.set("/w", Buffer.from("while frozen")).catch((e: unknown) => e);
        const reads = Array.from({ length: 20 }, () => c.get("/w"));
        const err = await write;
        expect(err).toBeInstanceOf(ZkCallError);
        expect((err as ZkCallError).rc).toBe(ZkCode.connectionLoss);
        expect((err as ZkCallError).message).toMatch(/^set \/w on .*: connectionLoss/);
        // The frozen server may still apply the write it had read once it runs again.
        for (const r of await Promise.all(reads)) expect(r.data.toString()).toMatch(/^(before|while frozen)$/);
        expect(c.server).not.toBe(on.server);
        expect(c.restarts).toEqual([expect.stringMatching(new RegExp(`connection to ${on.server} was lost`))]);
      } finally {
        await labFault("thaw", on.name, t.lab.dir);
        thaw.delete(on.name);
      }
    });
  });

  it("a session the servers expire: a reader opens a new one and is answered, a writer gets a typed error", async () => {
    const one = followers[0]!;
    const reader = await WireClient.open({ connect: one.server, sessionTimeoutMs: 4000, retryReads: 1 });
    const writer = await WireClient.open({ connect: one.server, sessionTimeoutMs: 4000 });
    try {
      const before = reader.sessionInfo.id;
      await labFault("freeze", one.name, t.lab.dir);
      thaw.add(one.name);
      const read = reader.get("/w");
      const write = writer.set("/w", Buffer.from("late")).catch((e: unknown) => e);
      // Past the session timeout with the only server frozen: the leader expires both sessions.
      await new Promise((r) => setTimeout(r, 9000));
      await labFault("thaw", one.name, t.lab.dir);
      thaw.delete(one.name);
      expect((await read).data.length).toBeGreaterThan(0);
      expect(reader.sessionInfo.id).not.toBe(before);
      expect(reader.restarts.some((r) => /expired; a new one was opened/.test(r))).toBe(true);
      const err = await write;
      expect(err).toBeInstanceOf(ZkfleetError);
      expect((err as ZkfleetError).message).toMatch(/connectionLoss|lost its session \(expired\)/);
      await expect(writer.exists("/")).rejects.toThrow(/lost its session \(expired\)/);
    } finally {
      await reader.close();
      await writer.close();
    }
  }, 120_000);

  it("a walk spreads its reads over a session per server: each answers a share of a wide parent's children, and the walk is whole and in order", async () => {
    const names = Array.from({ length: 900 }, (_, i) => `c${String(i).padStart(3, "0")}`);
    await withClient({}, async (c) => {
      await c.create("/spread", Buffer.alloc(0));
      for (let i = 0; i < names.length; i += 300) {
        expect(await c.multi(names.slice(i, i + 300).map((n) => ({ op: "create" as const, path: `/spread/${n}`, data: Buffer.from(n), acl: OPEN })))).toEqual({ ok: true });
      }
    });
    const received = async () => Promise.all(t.lab.hosts.map(async (h) => Number(/^Received: (\d+)/m.exec(await fourLetterWord(h.address, 2181, "srvr"))?.[1])));
    const before = await received();
    const paths = await withClient({ readSessions: 3 }, async (c) => {
      expect(c.readers!.length).toBe(3);
      const seen: string[] = [];
      for await (const n of liveTree(c, "/spread")) {
        expect(n.data.toString()).toBe(n.path === "/spread" ? "" : n.path.slice("/spread/".length));
        seen.push(n.path);
      }
      return seen;
    });
    expect(paths).toEqual(["/spread", ...names.map((n) => `/spread/${n}`)]);
    // Each child costs its server two requests (data, ACL): every server answered a third or so.
    const after = await received();
    for (const [i, b] of before.entries()) expect(after[i]! - b, t.lab.hosts[i]!.name).toBeGreaterThan(300);
  });

  it("credentials the servers refuse are a typed error at open", async () => {
    const err = await WireClient.open({ connect: all, auth: [{ scheme: "nosuch", credential: "x" }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/was refused authentication/);
  });
});
