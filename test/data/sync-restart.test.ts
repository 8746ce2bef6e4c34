// zkfleet sync killed (SIGKILL) in the middle of its initial copy of 30,000
// nodes and started again with the same checkpoint: it converges (zkfleet's
// diff and ZooKeeper's own Java client find both trees equal), creating
// exactly the nodes the target still lacked and rewriting next to none of
// those already copied, by its own --json report. (Its writes are multis of
// 1,000 creates: a smaller tree would be copied before the first save.)
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { WireClient } from "../../controller/zk/wire-client.js";
import { runCli } from "../helpers/cli.js";
import { javaDigest } from "./independent.js";
import { spawnCli, until, useSyncLab } from "./sync-lab.js";
import { subnet } from "../helpers/subnets.js";

const lab = useSyncLab("data-sync-restart", subnet("data-sync-restart"));
const PARENTS = 30;
const CHILDREN = 1000;
/** /bulk, its parents and their children. */
const TOTAL = 1 + PARENTS + PARENTS * CHILDREN;

const OPEN = [{ perms: 31, scheme: "world", id: "anyone" }];

beforeAll(async () => {
  const c = await WireClient.open({ connect: lab.src });
  try {
    await c.create("/bulk", Buffer.from("bulk"));
    for (let p = 0; p < PARENTS; p++) {
      await c.create(`/bulk/p${p}`, Buffer.from(`parent ${p}`));
      const r = await c.multi(Array.from({ length: CHILDREN }, (_, i) => ({ op: "create" as const, path: `/bulk/p${p}/n${i}`, data: Buffer.alloc(100, (p + i) % 256), acl: OPEN })));
      expect(r.ok).toBe(true);
    }
  } finally {
    await c.close();
  }
}, 300_000);

/** Nodes below / on a cluster (the root itself not counted). */
async function count(connect: string): Promise<number> {
  const c = await WireClient.open({ connect });
  try {
    const below = async (p: string): Promise<number> => {
      const { children } = await c.children(p);
      const counts = await Promise.all(children.filter((n) => p !== "/" || n !== "zookeeper").map((n) => below(p === "/" ? `/${n}` : `${p}/${n}`)));
      return children.length - (p === "/" && children.includes("zookeeper") ? 1 : 0) + counts.reduce((a, b) => a + b, 0);
    };
    return await below("/");
  } finally {
    await c.close();
  }
}

it("killed mid-copy and restarted with its checkpoint, it converges without copying again what it had copied", async () => {
  const ckpt = join(lab.t.lab.dir, "restart.ckpt");
  const args = ["sync", "--from", lab.src, "--to", lab.dst, "--once", "--checkpoint", ckpt, "--checkpoint-every", "1", "--json"];
  const first = spawnCli(args, lab.t.env);
  const saved = () => (existsSync(ckpt) ? JSON.parse(readFileSync(ckpt, "utf8")) as { initialDone: boolean; nodes: Record<string, unknown> } : undefined);
  await until("a checkpoint with some nodes", () => Object.keys(saved()?.nodes ?? {}).length >= 300);
  first.proc.kill("SIGKILL");
  expect(await first.exited).toBe("SIGKILL");
  // A multi the killed sync had sent is applied all the same: the target is counted once nothing more lands.
  let last = -1;
  await until("the target to stop changing", async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const n = await count(lab.dst);
    const settled = n === last;
    last = n;
    return settled;
  });
  const atKill = saved()!;
  // Killed in the middle: the checkpoint says the initial copy had not finished.
  expect(atKill.initialDone).toBe(false);
  const recorded = Object.keys(atKill.nodes).length;
  const onTarget = (await javaDigest(lab.dst, "/")).nodes - 1; // the root is not the copy's

  const second = await runCli(args, lab.t.env);
  expect(second.code, second.err).toBe(2);
  const r = JSON.parse(second.out) as {
    checkpointNodesAtStart: number; initial: { read: number; compared: number; created: number; updated: number; ms: number }; wrote: number;
  };
  expect(r.checkpointNodesAtStart).toBe(recorded);
  // Every node the target lacked is created, none of those it held is created again ...
  expect(r.initial.created).toBe(TOTAL - onTarget);
  // ... and of those it held, only the few copied after the last save are even looked at again, and none rewritten.
  expect(r.initial.updated).toBeLessThan(TOTAL / 20);
  expect(r.initial.compared).toBeLessThan(TOTAL - recorded + 1000);
  console.info(`killed with ${onTarget}/${TOTAL} nodes on the target, ${recorded} in the checkpoint; the restart read ${r.initial.read}, ` +
    `compared ${r.initial.compared} on the target, created ${r.initial.created}, rewrote ${r.initial.updated} in ${(r.initial.ms / 1000).toFixed(1)}s`);

  const d = await runCli(["diff", lab.src, lab.dst], lab.t.env);
  expect(d.code, d.out).toBe(0);
  const [a, b] = await Promise.all([javaDigest(lab.src, "/"), javaDigest(lab.dst, "/")]);
  expect(b.digest).toBe(a.digest);
  expect(a.nodes).toBe(TOTAL + 1);
}, 240_000);
