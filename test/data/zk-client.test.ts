// The controller's ZooKeeper client against real servers (a three-host lab
// ensemble, 3.8.0): typed calls, nodes near the 1 MB limit read and written
// many times over, the worker process crashing or hanging (the controller
// gets a typed error naming the server and the call, and carries on), and a
// cluster reached through SSH by inventory.
import { beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { ZkCallError, ZkClient } from "../../controller/zk/client.js";
import { ZkCode } from "../../controller/zk/protocol.js";
import { walkTree } from "../../controller/zk/walk.js";
import { openCluster } from "../../controller/data/cluster.js";
import { runCli } from "../helpers/cli.js";
import { useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("data-client", subnet("data-client"), 3);
let connect: string;

beforeAll(async () => {
  const r = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(r.code, r.err).toBe(2);
  connect = `${t.lab.hosts[0]!.address}:2181`;
});

async function withClient<T>(fn: (c: ZkClient) => Promise<T>, opts: Partial<Parameters<typeof ZkClient.open>[0]> = {}): Promise<T> {
  const c = await ZkClient.open({ connect, ...opts });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

const NEAR_1MB = 1_048_000;

describe("ZkClient", () => {
  it("creates, reads, lists, sets, guards ACLs and deletes, with typed errors", () => withClient(async (c) => {
    await c.create("/t", Buffer.from("top"));
    expect((await c.get("/t")).data.toString()).toBe("top");
    const seq = await c.create("/t/s-", Buffer.alloc(0), { sequential: true });
    expect(seq).toBe("/t/s-0000000000");
    await c.create("/t/eph", Buffer.from([0, 255]), { mode: "ephemeral" });
    await c.create("/t/box", Buffer.alloc(0), { mode: "container" });
    const listed = await c.children("/t");
    expect(listed.children.sort()).toEqual(["box", "eph", "s-0000000000"]);
    expect(listed.stat.cversion).toBe(3);
    expect((await c.exists("/t/eph"))!.ephemeralOwner).not.toBe("0");
    expect(await c.exists("/t/none")).toBeUndefined();
    const stat = await c.set("/t", Buffer.from("again"));
    expect(stat.version).toBe(1);
    await c.setAcl("/t/s-0000000000", [{ perms: 1, scheme: "world", id: "anyone" }, { perms: 31, scheme: "ip", id: "127.0.0.1" }]);
    expect((await c.getAcl("/t/s-0000000000")).acl).toEqual([{ perms: 1, scheme: "world", id: "anyone" }, { perms: 31, scheme: "ip", id: "127.0.0.1" }]);
    const read = await c.read("/t");
    expect({ data: read.data.toString(), children: read.children.length, acl: read.acl }).toEqual({ data: "again", children: 3, acl: [{ perms: 31, scheme: "world", id: "anyone" }] });

    const exists = await c.create("/t", Buffer.alloc(0)).catch((e: unknown) => e);
    expect(exists).toBeInstanceOf(ZkCallError);
    expect((exists as ZkCallError).rc).toBe(ZkCode.nodeExists);
    expect((exists as ZkCallError).message).toContain(`create /t on ${connect}: nodeExists`);
    // The package's ACL completion crashes on a node that is not there; the client asks only after seeing it.
    const missing = await c.getAcl("/t/none").catch((e: unknown) => e);
    expect((missing as ZkCallError).rc).toBe(ZkCode.noNode);
    await expect(c.delete("/t")).rejects.toMatchObject({ rc: ZkCode.notEmpty });
    expect(await c.exists("/")).toBeDefined();
  }));

  it("writes and reads nodes near 1 MB again and again, with small calls in between, and survives", () => withClient(async (c) => {
    const big = Buffer.alloc(NEAR_1MB);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    await c.create("/big", Buffer.alloc(0));
    await Promise.all(Array.from({ length: 4 }, (_, i) => c.create(`/big/n${i}`, big)));
    for (let round = 0; round < 5; round++) {
      const reads = await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => c.get(`/big/n${i}`)),
        ...Array.from({ length: 50 }, () => c.exists("/big")),
      ]);
      for (const r of reads.slice(0, 4)) expect((r as { data: Buffer }).data.equals(big)).toBe(true);
      await c.set(`/big/n${round % 4}`, big);
    }
    const walked: number[] = [];
    for await (const n of walkTree({ read: (path) => c.read(path) }, "/big")) walked.push(n.data.length);
    expect(walked).toEqual([0, NEAR_1MB, NEAR_1MB, NEAR_1MB, NEAR_1MB]);
    // Past the server's jute.maxbuffer the server drops the connection; the client reconnects and says so.
    const tooBig = await c.create("/big/over", Buffer.alloc(1 << 20)).catch((e: unknown) => e);
    expect((tooBig as ZkCallError).rc).toBe(ZkCode.connectionLoss);
    expect((await c.get("/big/n0")).data.equals(big)).toBe(true);
  }));

  it("a crashed client process fails every call in flight with a typed error naming the server and the call", async () => {
    const c = await ZkClient.open({ connect, label: "lab-one" });
    const calls = Array.from({ length: 20 }, () => c.get("/big/n1").then(() => "answered", (e: unknown) => e));
    process.kill(c.pid!, "SIGSEGV");
    const outcomes = await Promise.all(calls);
    const failed = outcomes.filter((o): o is ZkfleetError => o instanceof ZkfleetError);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]!.source).toBe("zookeeper");
    expect(failed[0]!.message).toMatch(/ZooKeeper client for lab-one client process crashed \(SIGSEGV\), during get \/big\/n1/);
    expect(failed[0]!.where).toBe(`server ${connect}`);
    await expect(c.exists("/")).rejects.toThrow(/crashed \(SIGSEGV\)/);
    await c.close();
    // The controller carries on: a new client works.
    expect(await withClient((d) => d.exists("/big"))).toBeDefined();
  });

  it("a reader may have a crashed client process replaced: its reads are sent again on a new session, a bounded number of times", async () => {
    const c = await ZkClient.open({ connect, retryReads: 1 });
    try {
      const reads = Array.from({ length: 40 }, () => c.get("/big/n3"));
      process.kill(c.pid!, "SIGSEGV");
      for (const r of await Promise.all(reads)) expect(r.data.length).toBe(NEAR_1MB);
      expect(c.restarts).toEqual([expect.stringMatching(/crashed \(SIGSEGV\)/)]);
      const again = c.get("/big/n3").catch((e: unknown) => e);
      process.kill(c.pid!, "SIGSEGV");
      expect(await again).toBeInstanceOf(ZkfleetError);
    } finally {
      await c.close();
    }
    // A write outstanding is never sent twice: the crash is the caller's.
    const w = await ZkClient.open({ connect, retryReads: 3 });
    try {
      const write = w.set("/big/n3", Buffer.from("x")).catch((e: unknown) => e);
      process.kill(w.pid!, "SIGSEGV");
      expect(String(await write)).toMatch(/crashed \(SIGSEGV\), during set \/big\/n3/);
      expect(w.restarts).toEqual([]);
    } finally {
      await w.close();
    }
  });

  it("a hung client process is stopped after the stall timeout, its calls failing with a typed error", async () => {
    const c = await ZkClient.open({ connect, stallTimeoutMs: 1500 });
    process.kill(c.pid!, "SIGSTOP");
    const started = Date.now();
    const err = await c.exists("/big").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/did not answer for 2s with 1 call\(s\) outstanding; its process was stopped, during exists \/big/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await c.close();
  });

  it("asks the server for the session timeout it is given, and reports what the server granted", async () => {
    expect(await withClient(async (c) => c.session.timeoutMs, { sessionTimeoutMs: 6000 })).toBe(6000);
    // tickTime 2000: the server grants at most 20 ticks.
    expect(await withClient(async (c) => c.session.timeoutMs, { sessionTimeoutMs: 100_000 })).toBe(40_000);
  });

  it("a server that does not answer is a typed error after the connect timeout", async () => {
    const err = await ZkClient.open({ connect: `${subnet("data-client")}.99:2181`, connectTimeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(new RegExp(`ZooKeeper client for ${subnet("data-client")}.99:2181 no session within 1.5s`));
  });

  it("walks a wide tree in depth-first order with bounded read-ahead", () => withClient(async (c) => {
    await c.create("/wide", Buffer.alloc(0));
    await Promise.all(Array.from({ length: 2000 }, (_, i) => c.create(`/wide/c${i}`, Buffer.from(String(i)))));
    await c.create("/wide/c7/under", Buffer.alloc(0));
    let inFlight = 0;
    let peak = 0;
    const reader = {
      read: async (path: string) => {
        peak = Math.max(peak, ++inFlight);
        try {
          return await c.read(path);
        } finally {
          inFlight--;
        }
      },
    };
    const paths: string[] = [];
    for await (const n of walkTree(reader, "/wide", { window: 64 })) paths.push(n.path);
    expect(paths.length).toBe(2002);
    expect(paths.slice(0, 3)).toEqual(["/wide", "/wide/c0", "/wide/c1"]);
    expect(paths.indexOf("/wide/c7/under")).toBe(paths.indexOf("/wide/c7") + 1);
    expect(peak).toBeLessThanOrEqual(65);
  }));

  it("reaches a cluster named by its inventory through SSH, opening no client port to this machine", async () => {
    const cluster = await openCluster({ kind: "inventory", file: t.lab.inventory });
    try {
      expect(cluster.label).toMatch(/^lab \(.*inventory.yml, through SSH\)$/);
      expect((await cluster.client.get("/big/n2")).data.length).toBe(NEAR_1MB);
      expect(await cluster.versions()).toEqual(["3.8.0", "3.8.0", "3.8.0"]);
    } finally {
      await cluster.close();
    }
  });
});
