// export, import and diff of whole trees between two 3-server lab ensembles,
// beside the raw ceilings measured in the same run with the same client
// library (the `zookeeper` package, calls pipelined 512 deep, no worker
// process, no file): creates against the target ensemble, reads (data, ACL,
// children) against the source. Also the controller's peak memory.
// Run after `npm run build`:
//   node bench/data-copy.mjs [COUNTxBYTES:PARENTS ...]
// default sets: 50000x100:1 (one parent with 50,000 children, the fidelity
// corpus's wide parent at the size the issue asks; CI's fidelity test keeps
// 5,000), 100000x100:100, 20000x1024:20. Lab on 127.66.0, 6 hosts, two
// 3.8.0 ensembles; about 10 minutes on 2 cores. Rates count every node
// (leaves, parents, root) over the command's own time, without process start.
//
// Measured here, 2 cores shared with another bench (load 6-8, so the
// ceilings themselves moved between sets by 40 %):
//   set                 raw create  import        raw read  export        diff file/live  live/live SSH  peak RSS export ctl/worker
//   50,000 x 100 B / 1    4568/s    3087/s (68 %)  3788/s   3333/s (88 %)  3205/s (85 %)   2165/s         153 / 92 MB
//   100,000 x 100 B/100   2674/s    3326/s (124 %) 3254/s   3282/s (101 %) 3293/s (101 %)  1717/s         126 / 92 MB
//   20,000 x 1 KiB / 20   4302/s    3178/s (74 %)  6564/s   4767/s (73 %)  4767/s (73 %)   2064/s         127 / 88 MB
// and again on 2026-11-29 (two sets, load 8-10 with lab tests running):
//   100,000 x 100 B/100   3298/s    3271/s (99 %)  3981/s   4020/s (101 %) 3512/s (88 %)   2077/s         127 / 93 MB
//   20,000 x 1 KiB / 20   3280/s    3452/s (105 %) 3094/s   3575/s (116 %) 4883/s (158 %)  2176/s         123 / 90 MB
// Through SSH (-i): export 2691-4132/s, import 4086-4546/s. The controller's
// peak memory does not grow much with the tree (126-153 MB from 20,000 to
// 100,000 nodes; 228 MB at 1,000,000 in bench/export-memory.mjs).
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { measuredCli, pipelined as pipelinedCalls, rawSession as openRawSession } from "./lib.mjs";

const SETS = (process.argv.slice(2).length ? process.argv.slice(2) : ["50000x100:1", "100000x100:100", "20000x1024:20"]).map((s) => {
  const m = /^(\d+)x(\d+):(\d+)$/.exec(s);
  if (!m) throw new Error(`a set is COUNTxBYTES:PARENTS, e.g. 100000x100:100; got ${s}`);
  return { count: Number(m[1]), bytes: Number(m[2]), parents: Number(m[3]), root: `/bench-${m[1]}x${m[2]}` };
});
const WINDOW = 512;
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
const ZooKeeper = createRequire(join(root, "package.json"))("zookeeper");
const labDir = "/var/tmp/zkfleet-bench/data-copy";
const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-data-"));
const env = { ...process.env, ZKFLEET_JOURNAL: join(work, "journal") };
const children = new Set();

/** Ends the bench however it ends, stopping only what it started: its children by pid, its own lab. */
let finished = false;
function finish(why) {
  if (finished) return;
  finished = true;
  if (why) console.error(why);
  for (const c of children) c.kill("SIGKILL");
  const down = spawnSync("node", [cli, "lab", "down", "--dir", labDir], { stdio: "ignore", timeout: 120_000 });
  if (down.status !== 0) console.error(`lab down failed; check with: node bin/zkfleet.js lab status --dir ${labDir}`);
  rmSync(work, { recursive: true, force: true });
}
process.once("SIGINT", () => (finish("SIGINT: bringing the lab down"), process.exit(130)));
process.once("SIGTERM", () => (finish("SIGTERM: bringing the lab down"), process.exit(130)));
const giveUp = setTimeout(() => (finish("the bench ran for an hour: stopping"), process.exit(1)), 3600_000);

/** A zkfleet CLI run: exit code, output, wall time, and the peak memory of the controller and of its ZooKeeper worker(s). */
const zkfleet = measuredCli(cli, env, children);
function must(what, r, ...codes) {
  if (!codes.includes(r.code)) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.slice(0, 2000)}`);
  return r;
}

const rawSession = (connect) => openRawSession(ZooKeeper, connect);
const pipelined = (n, call) => pipelinedCalls(n, WINDOW, call);
/** Every path of a set, parents before children: the root, PARENTS parents, COUNT leaves spread over them. */
function shape(set) {
  const parents = Array.from({ length: set.parents }, (_, p) => (set.parents === 1 ? `${set.root}/wide` : `${set.root}/p${String(p).padStart(4, "0")}`));
  const leaves = Array.from({ length: set.count }, (_, i) => `${parents[i % set.parents]}/n${String(i).padStart(7, "0")}`);
  return { parents, leaves };
}
async function rawCreate(connect, set, prefix = "") {
  const zk = await rawSession(connect);
  const { parents, leaves } = shape(set);
  const data = Buffer.alloc(set.bytes, 0x61);
  if (prefix) await pipelined(1, (_, done) => zk.a_create(prefix, "", 0, done));
  const t0 = performance.now();
  await pipelined(1, (_, done) => zk.a_create(prefix + set.root, "", 0, done));
  await pipelined(parents.length, (i, done) => zk.a_create(prefix + parents[i], "", 0, done));
  await pipelined(leaves.length, (i, done) => zk.a_create(prefix + leaves[i], data, 0, done));
  const ms = performance.now() - t0;
  zk.close();
  return ms;
}
/** What an export must read: every node's data and ACL, every parent's children. */
async function rawRead(connect, set) {
  const zk = await rawSession(connect);
  const { parents, leaves } = shape(set);
  const nodes = [set.root, ...parents, ...leaves];
  const t0 = performance.now();
  await pipelined(parents.length + 1, (i, done) => zk.a_get_children2(i === 0 ? set.root : parents[i - 1], false, done));
  await pipelined(nodes.length * 2, (i, done) => (i % 2 === 0 ? zk.a_get(nodes[i >> 1], false, done) : zk.a_get_acl(nodes[i >> 1], done)));
  const ms = performance.now() - t0;
  zk.close();
  return ms;
}
async function rawDelete(connect, set, prefix = "") {
  const zk = await rawSession(connect);
  const { parents, leaves } = shape(set);
  await pipelined(leaves.length, (i, done) => zk.a_delete_(prefix + leaves[i], -1, done));
  await pipelined(parents.length, (i, done) => zk.a_delete_(prefix + parents[i], -1, done));
  await pipelined(1, (_, done) => zk.a_delete_(prefix + set.root, -1, done));
  if (prefix) await pipelined(1, (_, done) => zk.a_delete_(prefix, -1, done));
  zk.close();
}

function inventories() {
  const lab = parse(readFileSync(join(labDir, "inventory.yml"), "utf8"));
  return ["src", "dst"].map((name, i) => {
    const file = join(work, `${name}.yml`);
    writeFileSync(file, stringify({
      ...lab, ensemble: name, zookeeper: { ...lab.zookeeper, version: "3.8.0", heap_mb: 512 },
      hosts: lab.hosts.slice(i * 3, i * 3 + 3).map((h, k) => ({ ...h, myid: k + 1 })),
    }));
    return file;
  });
}

const rate = (n, ms) => Math.round((n / ms) * 1000);
/** The command's own time, from its summary line ("in 12.3s"), without process start and session set-up. */
const ownMs = (text) => Number(/ in (\d+(?:\.\d+)?)s/.exec(text)?.[1] ?? NaN) * 1000;

try {
  console.error(`lab up: 6 hosts in ${labDir}`);
  must("lab up", await zkfleet("lab", "up", "--hosts", "6", "--dir", labDir, "--subnet", "127.66.0"), 0);
  const [src, dst] = inventories();
  for (const inv of [src, dst]) must(`apply ${inv}`, await zkfleet("apply", "-i", inv, "--yes"), 0, 2);
  const lab = parse(readFileSync(join(labDir, "inventory.yml"), "utf8"));
  const srcZk = lab.hosts.slice(0, 3).map((h) => `${h.address}:2181`).join(",");
  const dstZk = lab.hosts.slice(3, 6).map((h) => `${h.address}:2181`).join(",");
  const rows = [];
  for (const set of SETS) {
    const nodes = set.count + set.parents + 1;
    const file = join(work, `${set.root.slice(1)}.jsonl`);
    console.error(`\n${set.root}: ${set.count} znodes of ${set.bytes} bytes under ${set.parents} parent(s)`);
    const seedMs = await rawCreate(srcZk, set);
    console.error(`  seeded the source (raw pipelined creates) in ${(seedMs / 1000).toFixed(1)} s`);
    const createCeiling = await rawCreate(dstZk, set, "/raw");
    await rawDelete(dstZk, set, "/raw");
    const readCeiling = await rawRead(srcZk, set);
    console.error(`  raw ceilings: create ${rate(nodes, createCeiling)}/s (target), read ${rate(nodes, readCeiling)}/s (source)`);

    const ex = must("export", await zkfleet("export", "--zk", srcZk, "--path", set.root, "-o", file), 0);
    const exSsh = must("export -i", await zkfleet("export", "-i", src, "--path", set.root, "-o", `${file}.ssh`), 0);
    const im = must("import", await zkfleet("import", "--zk", dstZk, "-f", file, "--on-conflict", "skip"), 2);
    const df = must("diff", await zkfleet("diff", file, dstZk), 0);
    const dfLive = must("diff live", await zkfleet("diff", src, dst, "--path", set.root), 0);
    await rawDelete(dstZk, set);
    const imSsh = must("import -i", await zkfleet("import", "-i", dst, "-f", file, "--on-conflict", "skip"), 2);
    const row = {
      set: `${set.count} x ${set.bytes} B / ${set.parents} parent(s)`, nodes,
      createCeiling: rate(nodes, createCeiling), readCeiling: rate(nodes, readCeiling),
      import: rate(nodes, ownMs(im.stdout)), importWall: im.ms, importSsh: rate(nodes, ownMs(imSsh.stdout)),
      export: rate(nodes, ownMs(ex.stdout)), exportWall: ex.ms, exportSsh: rate(nodes, ownMs(exSsh.stdout)),
      diff: rate(nodes, ownMs(df.stdout)), diffLive: rate(nodes, ownMs(dfLive.stdout)),
      exportMb: ex.controllerMb, workerMb: ex.workerMb, importMb: im.controllerMb, diffMb: dfLive.controllerMb,
    };
    rows.push(row);
    console.error(`  export ${row.export}/s (${(ex.ms / 1000).toFixed(1)} s whole run; through SSH ${row.exportSsh}/s), import ${row.import}/s (${(im.ms / 1000).toFixed(1)} s; through SSH ${row.importSsh}/s), ` +
      `diff file/live ${row.diff}/s (${(df.ms / 1000).toFixed(1)} s), live/live through SSH ${row.diffLive}/s (${(dfLive.ms / 1000).toFixed(1)} s)`);
    await rawDelete(srcZk, set);
    await rawDelete(dstZk, set);
  }
  const pct = (a, b) => `${Math.round((100 * a) / b)} %`;
  console.log("\n| set | nodes | raw create | import (% of raw) | import via SSH | raw read | export (% of raw) | export via SSH | diff file vs live (% of raw read) | diff live vs live via SSH | peak RSS export: controller / worker | import | diff |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.set} | ${r.nodes} | ${r.createCeiling}/s | ${r.import}/s (${pct(r.import, r.createCeiling)}) | ${r.importSsh}/s | ${r.readCeiling}/s | ${r.export}/s (${pct(r.export, r.readCeiling)}) | ${r.exportSsh}/s | ` +
      `${r.diff}/s (${pct(r.diff, r.readCeiling)}) | ${r.diffLive}/s | ${r.exportMb.toFixed(0)} / ${r.workerMb.toFixed(0)} MB | ${r.importMb.toFixed(0)} MB | ${r.diffMb.toFixed(0)} MB |`);
  }
} finally {
  clearTimeout(giveUp);
  finish();
}
