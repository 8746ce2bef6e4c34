// The writer's multi transactions against a real 3.4.13 ensemble (the
// oldest version zkfleet supports; multi came in 3.4.0), seen from outside
// through ZooKeeper's own tools: nodes one multi created share its zxid
// (czxid, read by zkCli), the tree is compared by ZooKeeper's Java client
// (TreeDigest.java) with the digest the export file carries.
// - A batch the server refuses because one of its nodes exists is written
//   node by node under --on-conflict (skip, then overwrite), while the
//   batches without such a node are multis; ACLs and sequence counters
//   come out exact.
// - A node whose create is near the servers' jute.maxbuffer goes alone; one
//   past it is refused by path before anything is written.
// - An import killed mid-way resumes from its --checkpoint: what the killed
//   run wrote is neither written again nor changed, the rest is created.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TreeNode } from "../../controller/data/format.js";
import { closedBy } from "../../controller/data/writer.js";
import { comparePaths } from "../../controller/zk/paths.js";
import { runCli } from "../helpers/cli.js";
import { useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";
import { zkCli } from "../helpers/zkcli.js";
import { exportLines, node, writeLines } from "./fixtures.js";
import { javaDigest } from "./independent.js";
import { spawnCli, until } from "./sync-lab.js";

const t = useTestLab("data-batches", subnet("data-batches"), 3, "3.4.13");
const work = mkdtempSync(join(tmpdir(), "zkfleet-batches-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const AUTH = "digest:alice:secret";
const ALICE = `alice:${createHash("sha1").update("alice:secret").digest("base64")}`;
let target: string;
let server: string;

beforeAll(async () => {
  const r = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(r.code, r.err).toBe(2);
  target = t.lab.hosts.map((h) => `${h.address}:2181`).join(",");
  server = `${t.lab.hosts[1]!.address}:2181`;
}, 300_000);

/** An export file of these nodes (depth-first), and the digest it carries. */
function file(name: string, nodes: TreeNode[]): { path: string; digest: string } {
  const lines = exportLines(nodes[0]!.path, [...nodes].sort((a, b) => comparePaths(a.path, b.path)));
  return { path: writeLines(join(work, name), lines), digest: (JSON.parse(lines.at(-1)!) as { digest: string }).digest };
}

/** A parent with `children` children whose counter stands at `counter` (servers report cversion = 2 * creates - children). */
function parent(path: string, children: number, o: { counter?: number; acl?: TreeNode["acl"]; data?: string } = {}): TreeNode {
  const n = node(path, o.data ?? "", { cversion: 2 * (o.counter ?? children) - children, ...(o.acl ? { acl: o.acl } : {}) });
  return { ...n, stat: { ...n.stat, numChildren: children } };
}

const kids = (p: string, n: number, bytes = 100) => Array.from({ length: n }, (_, i) => node(`${p}/n${String(i).padStart(4, "0")}`, "x".repeat(bytes)));
const pad = (i: number) => String(i).padStart(2, "0");

/** The czxid zkCli reports for each path: nodes one multi created share it. */
async function czxids(paths: string[]): Promise<Map<string, string>> {
  const out = await zkCli(server, paths.map((p) => `stat ${p}`), 300_000);
  const found = [...out.matchAll(/cZxid = (0x[0-9a-f]+)/g)].map((m) => m[1]!);
  expect(found.length, out.slice(-2000)).toBe(paths.length);
  return new Map(paths.map((p, i) => [p, found[i]!]));
}

const import_ = (f: string, ...args: string[]) => runCli(["import", "--zk", target, "-f", f, "--auth", AUTH, ...args], t.env);

describe("imports in multi transactions into 3.4.13", () => {
  it("a batch refused because a node exists is written node by node under --on-conflict; batches without one are multis; ACLs and counters exact", async () => {
    const locked = [{ perms: 1, scheme: "world", id: "anyone" }, { perms: 31, scheme: "digest", id: ALICE }];
    const nodes = [
      parent("/batch", 4, { data: "root" }),
      // A parent whose ACL denies CREATE: its 1,000 children go first.
      parent("/batch/a", 1000, { acl: locked }), ...kids("/batch/a", 1000),
      // 1,000 children left of 1,003 created: the next sequential child is 1003.
      parent("/batch/b", 1000, { counter: 1003, data: "b" }), ...kids("/batch/b", 1000),
      parent("/batch/c", 6000), ...kids("/batch/c", 6000),
      // A leaf with an ACL of its own: created with it.
      node("/batch/d", "only alice", { acl: [{ perms: 31, scheme: "digest", id: ALICE }] }),
    ];
    const f = file("batch.jsonl", nodes);
    // On the target already: /batch as in the file, /batch/b/n0500 with other data.
    const pre = await zkCli(server, ["create /batch root", "create /batch/b b", "create /batch/b/n0500 theirs"]);
    expect(pre.match(/^Created /gm)?.length, pre).toBe(3);

    const skipped = await import_(f.path, "--on-conflict", "skip");
    expect(skipped.code, skipped.err).toBe(2);
    // /batch and /batch/b exist as in the file (b's counter is the target's own: moved on to the file's).
    expect(skipped.out).toMatch(/8005 node\(s\) into .*: 8002 created, 0 updated, 2 already as in the file/);
    expect(skipped.out).toMatch(/1 existing node\(s\) differ from the file, left as they are:\n\s+\/batch\/b\/n0500 \(data\)/);
    const near = kids("/batch/b", 1000).slice(450, 550).filter((n) => n.path !== "/batch/b/n0500");
    const ids = await czxids([...near, ...kids("/batch/c", 6000).slice(-1000)].map((n) => n.path));
    // The batch holding n0500 (and /batch/b: ops 1,000-1,999 of the file) was refused and written node by node: one transaction each.
    expect(new Set(near.map((n) => ids.get(n.path))).size).toBe(near.length);
    // Once a batch created all it held, multis again (a few batches later: three are in flight): /batch/c's
    // last 1,000 children in at most two transactions.
    expect(new Set(kids("/batch/c", 6000).slice(-1000).map((n) => ids.get(n.path))).size).toBeLessThanOrEqual(2);
    const acl = await zkCli(server, ["addauth digest alice:secret", "getAcl /batch/a", "getAcl /batch/d", "create -s /batch/b/s- x", "create -s /batch/c/s- x"]);
    expect(acl).toContain(`'digest,'${ALICE}`);
    expect(acl).toMatch(/Created \/batch\/b\/s-0000001003/);
    expect(acl).toMatch(/Created \/batch\/c\/s-0000006000/);
    await zkCli(server, ["delete /batch/b/s-0000001003", "delete /batch/c/s-0000006000"]);

    const replaced = await import_(f.path, "--on-conflict", "overwrite");
    expect(replaced.code, replaced.err).toBe(2);
    expect(replaced.out).toMatch(/0 created, 1 updated, 8004 already as in the file/);
    const d = await runCli(["diff", f.path, target, "--auth", AUTH], t.env);
    // The two scratch-free sequential creates above moved the counters of b and c on: the only differences left.
    expect(d.out.split("\n").filter((l) => /^\S+\s+\/batch/.test(l))).toEqual([
      expect.stringMatching(/^counter\s+\/batch\/b\s+next sequence number 1003 vs 1004/),
      expect.stringMatching(/^counter\s+\/batch\/c\s+next sequence number 6000 vs 6001/),
    ]);
  }, 600_000);

  it("a node whose create is near the servers' jute.maxbuffer is alone in its transaction; one past it is refused before anything is written", async () => {
    // 1 MiB - 1 less zkfleet's margin of 128 (packet-size.ts): a plain create of 1,048,300 bytes fits,
    // and nothing else fits beside it in a multi.
    const big = Buffer.alloc(1_048_300, 7);
    const nodes = [parent("/near", 300), ...kids("/near", 300).slice(0, 150), { ...node("/near/n0150", ""), data: big }, ...kids("/near", 300).slice(151)];
    const f = file("near.jsonl", nodes);
    const r = await import_(f.path);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toMatch(/301 node\(s\) into .*: 301 created/);
    const ids = await czxids(nodes.slice(1).map((n) => n.path));
    const bigId = ids.get("/near/n0150")!;
    expect([...ids.entries()].filter(([, id]) => id === bigId).map(([p]) => p)).toEqual(["/near/n0150"]);
    // Its neighbours before and after went in multis of their own.
    expect(ids.get("/near/n0149")).toBe(ids.get("/near/n0000"));
    expect(ids.get("/near/n0151")).toBe(ids.get("/near/n0299"));
    expect((await javaDigest(server, "/near")).digest).toBe(f.digest);

    const over = file("over.jsonl", [parent("/over", 2000), ...kids("/over", 2000).slice(0, 1000), { ...node("/over/n1000", ""), data: Buffer.alloc(1 << 20) }, ...kids("/over", 2000).slice(1001)]);
    const before = (await javaDigest(server, "/", AUTH)).state;
    const refused = await import_(over.path);
    expect(refused.code).toBe(3);
    expect(refused.err).toMatch(/1 node\(s\) too large for .*: \/over\/n1000 \(1048576 bytes of data, a 10486\d\d-byte request\); jute.maxbuffer 1048575 bytes .*; nothing was written/);
    expect((await javaDigest(server, "/", AUTH)).state).toBe(before);
  }, 600_000);

  it("an import killed mid-way resumes from its checkpoint: nothing the killed run wrote is written again, the rest is created", async () => {
    const PARENTS = 40;
    const nodes = [parent("/killed", PARENTS), ...Array.from({ length: PARENTS }, (_, p) => [parent(`/killed/p${pad(p)}`, 1000), ...kids(`/killed/p${pad(p)}`, 1000, 200)]).flat()];
    const f = file("killed.jsonl", nodes);
    const ckpt = join(work, "killed.ckpt");
    const args = ["import", "--zk", target, "-f", f.path, "--checkpoint", ckpt, "--json"];
    const first = spawnCli(args, t.env);
    const mark = () => (existsSync(ckpt) ? JSON.parse(readFileSync(ckpt, "utf8")) as { created: string | null; closed: string | null } : undefined);
    // Killed once a few batches are written, well before the end.
    await until("a checkpoint past the fifth parent", () => (mark()?.created ?? "") > "/killed/p05/");
    first.proc.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    const at = mark()!;
    expect(at.created).not.toBe(nodes.at(-1)!.path);
    // Parents the checkpoint counts closed: written whole by the killed run. Their state (zxids, versions) must not move.
    const done = Array.from({ length: PARENTS }, (_, p) => `/killed/p${pad(p)}`).filter((p) => at.closed !== null && closedBy(p, at.closed));
    expect(done.length).toBeGreaterThan(0);
    const states = await Promise.all(done.map(async (p) => (await javaDigest(server, p)).state));
    // A multi the killed run had sent is applied all the same: count once nothing moves any more.
    let onTarget = -1;
    await until("the target's count to settle", async () => {
      const n = (await javaDigest(server, "/killed")).nodes;
      const settled = n === onTarget;
      onTarget = n;
      return settled;
    }, 120_000);

    const second = await runCli(args, t.env);
    expect(second.code, second.err).toBe(2);
    const r = JSON.parse(second.out) as { created: number; updated: number; resumed: number; unchanged: number };
    // Every node the target lacked is created; of those it had, what the checkpoint covers is passed over unread,
    // and what the killed run wrote after its last save is found as it should be: none is written again.
    expect(r.created).toBe(nodes.length - onTarget);
    expect(r.updated).toBe(0);
    expect(r.resumed).toBe(nodes.filter((n) => comparePaths(n.path, at.created!) <= 0).length);
    expect(r.resumed + r.unchanged).toBe(onTarget);
    expect(await Promise.all(done.map(async (p) => (await javaDigest(server, p)).state))).toEqual(states);
    expect((await javaDigest(server, "/killed")).digest).toBe(f.digest);
    // A completed import leaves no checkpoint.
    expect(existsSync(ckpt)).toBe(false);
    console.info(`killed with ${onTarget}/${nodes.length} nodes on the target (checkpoint at ${at.created}); the resumed run created ${r.created}, passed over ${r.resumed}, found ${r.unchanged} as they should be`);
  }, 600_000);
});
