// The controller's peak memory while `zkfleet export` streams a tree of
// 1,000,000 znodes (issue 8's goal: under 256 MB), beside the same export of
// 100,000 znodes in the same run: the export holds no tree in memory, so the
// two peaks should be about the same. Also the export's rate and the raw
// read ceiling of the same client (zkfleet's own, controller/zk/wire-client.ts)
// against the same server, measured in the same run (512 nodes' reads in
// flight, no file). The tree is seeded in multis of 1,000 creates.
// Run after `npm run build`, as root:
//   node bench/export-memory.mjs [COUNT ...]      (default: 100000 1000000)
// A 1-host lab on 127.73.0 (ZooKeeper 3.8.0, 3 GB heap), znodes of 100 bytes
// under 1,000 parents. About 10 minutes on 2 cores. The lab is brought down
// at the end, on Ctrl-C and after an hour.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { cleanUpOnAbort, commandRunner, measuredCli } from "./lib.mjs";

const COUNTS = (process.argv.slice(2).length ? process.argv.slice(2) : ["100000", "1000000"]).map(Number);
if (COUNTS.some((n) => !Number.isInteger(n) || n < 1000)) throw new Error("each COUNT is a whole number of znodes, at least 1000");
const PARENTS = 1000;
const BYTES = 100;
const WINDOW = 512;
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
const { WireClient } = await import(join(root, "dist/controller/zk/wire-client.js"));
const OPEN = [{ perms: 31, scheme: "world", id: "anyone" }];
const labDir = "/var/tmp/zkfleet-bench/export-memory";
const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-export-memory-"));
const env = { ...process.env, ZKFLEET_JOURNAL: join(work, "journal") };
const children = new Set();
const run = commandRunner(env, children);
const zkfleet = measuredCli(cli, env, children);

async function cleanUp() {
  for (const c of children) c.kill("SIGKILL");
  await run(["node", cli, "lab", "down", "--dir", labDir], { timeoutMs: 120_000 });
  rmSync(work, { recursive: true, force: true });
}
const cancelDeadline = cleanUpOnAbort(cleanUp, 3600_000);

function must(what, r, ...codes) {
  if (!codes.includes(r.code)) throw new Error(`${what} failed (exit ${r.code}):\n${(r.stderr ?? "").trim() || (r.stdout ?? "").slice(0, 2000)}`);
  return r;
}

const paths = (rootPath, count) => {
  const parents = Array.from({ length: PARENTS }, (_, p) => `${rootPath}/p${String(p).padStart(4, "0")}`);
  return { parents, leaves: Array.from({ length: count }, (_, i) => `${parents[i % PARENTS]}/n${String(i).padStart(7, "0")}`) };
};

async function seed(connect, rootPath, count) {
  const c = await WireClient.open({ connect });
  const { parents, leaves } = paths(rootPath, count);
  const data = Buffer.alloc(BYTES, 0x61);
  const nodes = [{ path: rootPath, data: Buffer.alloc(0) }, ...parents.map((path) => ({ path, data: Buffer.alloc(0) })), ...leaves.map((path) => ({ path, data }))];
  const t0 = performance.now();
  for (let i = 0; i < nodes.length; i += 1000) {
    const r = await c.multi(nodes.slice(i, i + 1000).map((n) => ({ op: "create", path: n.path, data: n.data, acl: OPEN })));
    if (!r.ok) throw new Error(`seeding failed at ${nodes[i + r.index].path}: ${r.rc}`);
  }
  await c.close();
  return performance.now() - t0;
}

/** What an export reads (every node's data, ACL, and a parent's children), 512 nodes in flight. */
async function rawRead(connect, rootPath, count) {
  const c = await WireClient.open({ connect });
  const { parents, leaves } = paths(rootPath, count);
  const nodes = [rootPath, ...parents, ...leaves];
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < nodes.length) await c.read(nodes[next++]);
  }));
  await c.close();
  return performance.now() - t0;
}

const rate = (n, ms) => Math.round((n / ms) * 1000);
/** The export's own time, from its summary line ("in 12.3s"): without process start and session set-up. */
const ownMs = (text) => Number(/ in (\d+(?:\.\d+)?)s/.exec(text)?.[1] ?? NaN) * 1000;

try {
  await run(["node", cli, "lab", "down", "--dir", labDir]); // a lab left by a bench that was killed
  console.error(`lab up: 1 host in ${labDir}`);
  must("lab up", await run(["node", cli, "lab", "up", "--hosts", "1", "--dir", labDir, "--subnet", "127.73.0"], { timeoutMs: 600_000 }), 0);
  const lab = parse(readFileSync(join(labDir, "inventory.yml"), "utf8"));
  const inventory = join(work, "inventory.yml");
  writeFileSync(inventory, stringify({ ...lab, ensemble: "export-memory", zookeeper: { ...lab.zookeeper, version: "3.8.0", heap_mb: 3072 } }));
  must("apply", await zkfleet("apply", "-i", inventory, "--yes", "--no-canary"), 0, 2);
  const connect = `${lab.hosts[0].address}:2181`;
  const rows = [];
  for (const count of COUNTS) {
    const rootPath = `/m${count}`;
    const nodes = count + PARENTS + 1;
    console.error(`\n${rootPath}: ${count} znodes of ${BYTES} bytes under ${PARENTS} parents`);
    const seedMs = await seed(connect, rootPath, count);
    console.error(`  seeded in ${(seedMs / 1000).toFixed(0)} s (${rate(nodes, seedMs)}/s)`);
    const readMs = await rawRead(connect, rootPath, count);
    const file = join(work, `${rootPath.slice(1)}.jsonl`);
    const ex = must("export", await zkfleet("export", "--zk", connect, "--path", rootPath, "-o", file), 0);
    const row = {
      count, nodes, readCeiling: rate(nodes, readMs), export: rate(nodes, ownMs(ex.stdout)), wallS: ex.ms / 1000,
      controllerMb: ex.controllerMb, workerMb: ex.workerMb, fileMb: statSync(file).size / 2 ** 20,
    };
    rows.push(row);
    rmSync(file, { force: true });
    console.error(`  raw read ${row.readCeiling}/s; export ${row.export}/s (${row.wallS.toFixed(0)} s whole run), peak RSS controller ${row.controllerMb.toFixed(0)} MB, worker ${row.workerMb.toFixed(0)} MB, file ${row.fileMb.toFixed(0)} MB`);
  }
  console.log("\n| znodes (+parents) | raw read ceiling | export (% of raw) | export wall time | peak RSS controller | peak RSS client worker | file |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.count} (+${PARENTS + 1}) | ${r.readCeiling}/s | ${r.export}/s (${Math.round((100 * r.export) / r.readCeiling)} %) | ${r.wallS.toFixed(0)} s | ` +
      `${r.controllerMb.toFixed(0)} MB | ${r.workerMb.toFixed(0)} MB | ${r.fileMb.toFixed(0)} MB |`);
  }
  if (rows.length > 1) console.log(`controller peak, largest / smallest tree: ${(rows.at(-1).controllerMb / rows[0].controllerMb).toFixed(2)}x for ${(rows.at(-1).count / rows[0].count).toFixed(0)}x the znodes`);
} finally {
  cancelDeadline();
  await cleanUp();
}
