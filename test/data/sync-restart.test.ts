// zkfleet sync killed (SIGKILL) in the middle of its initial copy of 6,000
// nodes and started again with the same checkpoint: it converges (zkfleet's
// diff and ZooKeeper's own Java client find both trees equal), creating
// exactly the nodes the target still lacked and rewriting next to none of
// those already copied, by its own --json report.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { ZkClient } from "../../controller/zk/client.js";
import { runCli } from "../helpers/cli.js";
import { javaDigest } from "./independent.js";
import { spawnCli, until, useSyncLab } from "./sync-lab.js";
import { subnet } from "../helpers/subnets.js";

const lab = useSyncLab("data-sync-restart", subnet("data-sync-restart"));
const PARENTS = 30;
const CHILDREN = 200;
/** /bulk, its parents and their children. */
const TOTAL = 1 + PARENTS + PARENTS * CHILDREN;

beforeAll(async () => {
  const c = await ZkClient.open({ connect: lab.src });
  try {
    await c.create("/bulk", Buffer.from("bulk"));
    for (let p = 0; p < PARENTS; p++) {
      await c.create(`/bulk/p${p}`, Buffer.from(`parent ${p}`));
      await Promise.all(Array.from({ length: CHILDREN }, (_, i) => c.create(`/bulk/p${p}/n${i}`, Buffer.alloc(100, (p + i) % 256))));
    }
  } finally {
    await c.close();
  }
}, 300_000);

it("killed mid-copy and restarted with its checkpoint, it converges without copying again what it had copied", async () => {
  const ckpt = join(lab.t.lab.dir, "restart.ckpt");
  const args = ["sync", "--from", lab.src, "--to", lab.dst, "--once", "--checkpoint", ckpt, "--checkpoint-every", "1", "--json"];
  const first = spawnCli(args, lab.t.env);
  const saved = () => (existsSync(ckpt) ? JSON.parse(readFileSync(ckpt, "utf8")) as { initialDone: boolean; nodes: Record<string, unknown> } : undefined);
  await until("a checkpoint with some nodes", () => Object.keys(saved()?.nodes ?? {}).length >= 300);
  // Its ZooKeeper client processes outlive it until they see their stdin close: wait for them, so that
  // no write of the killed sync lands after the target is counted.
  const workers = execFileSync("ps", ["-o", "pid=", "--ppid", String(first.proc.pid)], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
  first.proc.kill("SIGKILL");
  expect(await first.exited).toBe("SIGKILL");
  await until("the killed sync's client processes to exit", () => workers.every((pid) => !existsSync(`/proc/${pid}`)));
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
