// Copying a tree between two live 3-server ensembles (ZooKeeper 3.8.0), by
// zkfleet and by its peers, in the same run, alternating, every copy checked:
//   - zkfleet export + import (two CLI runs, each timed whole: process start
//     included), and zkfleet sync --once (one run);
//   - the peer: a zkcopy-style copier on ZooKeeper's Java client
//     (bench/ZkCopy.java, compiled here against the release's jars): async
//     reads of data and children, creates in multis of 1,000 ops cut at
//     900 kB; timed whole, JVM start included (its own clock splits read
//     and write). It copies paths and data only, as zkcopy does;
//   - the `zookeeper` package: the tree read pipelined, then single creates
//     512 in flight, in this process (no process start).
// Also zkfleet diff of the two live trees, and the Java client's read alone
// (ZkCopy read) beside zkfleet's export. With --baseline DIR (a built
// checkout of the code before), that zkfleet's export, import, sync --once
// and diff run once per set, in the same lab, for before/after figures.
// Every copy is checked against the source by ZkCopy digest (ZooKeeper's
// own client): the node count and a digest of paths and data for every
// copy, and for zkfleet's copies also the digest of data, ACLs and sequence
// counters (controller/data/digest.ts); the source's parents have an ACL of
// their own and a counter one past their children, so that check can fail. Each copy goes into an empty
// target; the tree is deleted between copies (not timed).
// Run after `npm run build`, in a lab slot:
//   /work/tools/labslot node bench/data-copy.mjs [--rounds 3] [--package-rounds 1] [--baseline DIR] [COUNTxBYTES:PARENTS ...]
// default sets 20000x1024:20 and 100000x100:100. Lab of 6 hosts on
// 127.66.0; about 50 minutes on 2 cores with --baseline.
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanUpOnAbort, commandRunner, javaPeer, measuredCli, pipelined, multis, rawSession, treeOf, treeSets, twoEnsembles } from "./lib.mjs";

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const [value] = argv.splice(i, 2).slice(1);
  return value;
};
const ROUNDS = Number(option("--rounds", "3"));
// The package's copy is the slowest by far (single creates): by default it runs in the first round only.
const PACKAGE_ROUNDS = Number(option("--package-rounds", "1"));
const BASELINE = option("--baseline", undefined);
const SETS = treeSets(argv, "copy");
const WINDOW = 512;
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
const { WireClient } = await import(join(root, "dist/controller/zk/wire-client.js"));
const ZooKeeper = createRequire(join(root, "package.json"))("zookeeper");
const labDir = "/var/tmp/zkfleet-bench/data-copy";
const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-data-"));
const env = { ...process.env, ZKFLEET_JOURNAL: join(work, "journal") };
const children = new Set();
const run = commandRunner(env, children);
const zkfleet = measuredCli(cli, env, children);
const before = BASELINE ? measuredCli(join(BASELINE, "bin/zkfleet.js"), env, children) : undefined;
const OPEN = [{ perms: 31, scheme: "world", id: "anyone" }];
const PARENT_ACL = [...OPEN, { perms: 1, scheme: "ip", id: "10.0.0.0/8" }];

async function cleanUp() {
  for (const c of children) c.kill("SIGKILL");
  await run(["node", cli, "lab", "down", "--dir", labDir], { timeoutMs: 120_000 });
  rmSync(work, { recursive: true, force: true });
}
const cancelDeadline = cleanUpOnAbort(cleanUp, 3 * 3600_000);
const must = (what, r, ...codes) => {
  if (!codes.includes(r.code)) throw new Error(`${what} failed (exit ${r.code}):\n${(r.stderr ?? "").trim().slice(-3000) || (r.stdout ?? "").slice(0, 2000)}`);
  return r;
};


/**
 * The set's tree on the source, in multis. So that a copy's ACLs and counters are checked, not only its
 * data: every parent gets an ACL of its own (the open one plus an ip entry), and its sequence counter is
 * moved one past its children by a create/delete pair (a plain copy of the tree would get neither right).
 */
async function seed(connect, nodes) {
  const c = await WireClient.open({ connect });
  const parents = new Set(nodes.map((n) => n.path.slice(0, n.path.lastIndexOf("/"))));
  const ops = nodes.flatMap((n) => {
    if (!parents.has(n.path)) return [{ op: "create", path: n.path, data: n.data, acl: OPEN }];
    const scratch = `${n.path}/scratch`;
    return [{ op: "create", path: n.path, data: n.data, acl: PARENT_ACL }, { op: "create", path: scratch, data: Buffer.alloc(0), acl: OPEN }, { op: "delete", path: scratch }];
  });
  try {
    for (const batch of multis(ops)) {
      const r = await c.multi(batch);
      if (!r.ok) throw new Error(`seeding failed at ${batch[r.index].path}: ${r.rc}`);
    }
  } finally {
    await c.close();
  }
}

/** Deletes what a copy wrote below the set's root (children first, in multis; a tree absent is fine). */
async function clear(connect, rootPath) {
  const c = await WireClient.open({ connect });
  try {
    if (!(await c.exists(rootPath))) return;
    const paths = [];
    const visit = async (p) => {
      paths.push(p);
      const { children: names } = await c.children(p);
      await Promise.all(names.map((n) => visit(`${p}/${n}`)));
    };
    await visit(rootPath);
    paths.sort((a, b) => b.split("/").length - a.split("/").length);
    for (const batch of multis(paths.map((path) => ({ op: "delete", path })))) {
      const r = await c.multi(batch);
      if (!r.ok) throw new Error(`clearing ${rootPath} failed: ${r.rc}`);
    }
  } finally {
    await c.close();
  }
}

/** The `zookeeper` package as a copier: the tree read pipelined (children, then data), then single creates pipelined. */
async function packageCopy(srcZk, dstZk, rootPath) {
  const src = await rawSession(ZooKeeper, srcZk);
  const dst = await rawSession(ZooKeeper, dstZk);
  const t0 = performance.now();
  const nodes = [];
  let level = [rootPath];
  while (level.length) {
    const next = [];
    const got = new Array(level.length);
    await pipelined(level.length * 2, WINDOW, (i, done) => {
      const p = level[i >> 1];
      if (i % 2 === 0) {
        src.a_get(p, false, (rc, _e, _stat, data) => {
          got[i >> 1] = { path: p, data: data ?? Buffer.alloc(0) };
          done(rc);
        });
      } else {
        src.a_get_children(p, false, (rc, _e, names) => {
          for (const n of names ?? []) next.push(`${p}/${n}`);
          done(rc);
        });
      }
    });
    nodes.push(...got);
    level = next;
  }
  const read = performance.now() - t0;
  await pipelined(nodes.length, WINDOW, (i, done) => dst.a_create(nodes[i].path, nodes[i].data, 0, done));
  const ms = performance.now() - t0;
  src.close();
  dst.close();
  return { ms, readMs: read, writeMs: ms - read };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sec = (ms) => (ms / 1000).toFixed(1);

try {
  const { src: { connect: srcZk }, dst: { connect: dstZk } } = await twoEnsembles(run, cli, labDir, "127.66.0", work);
  const java = await javaPeer(run, root, work);
  const digest = async (connect, rootPath) => {
    const r = must("ZkCopy digest", await java("digest", connect.split(",")[0], rootPath), 0);
    const m = /^nodes (\d+) persistent \d+ data (sha256:\w+) full (sha256:\w+)/.exec(r.stdout);
    if (!m) throw new Error(`ZkCopy digest said: ${r.stdout}`);
    return { nodes: Number(m[1]), data: m[2], full: m[3] };
  };
  const loads = [];
  const results = [];
  for (const set of SETS) {
    const nodes = treeOf(set);
    const file = join(work, `${set.root.slice(1)}.jsonl`);
    console.error(`\n${set.root}: ${set.count} znodes of ${set.bytes} bytes under ${set.parents} parents (${nodes.length} nodes)`);
    await seed(srcZk, nodes);
    const want = await digest(srcZk, set.root);
    if (want.nodes !== nodes.length) throw new Error(`the source holds ${want.nodes} nodes, not ${nodes.length}`);
    const check = async (tool, full) => {
      const got = await digest(dstZk, set.root);
      if (got.nodes !== want.nodes || got.data !== want.data || (full && got.full !== want.full)) {
        throw new Error(`${tool}'s copy differs from the source: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
      }
      await clear(dstZk, set.root);
    };
    const times = { peer: [], peerRead: [], peerWrite: [], javaRead: [], exportImport: [], export: [], exportOwn: [], import: [], sync: [], pkg: [], pkgRead: [], pkgWrite: [], diff: [], exportMb: [] };
    const tools = {
      peer: async () => {
        const r = must("ZkCopy copy", await java("copy", srcZk, dstZk, set.root, "1000", "900000", "1"), 0);
        const m = /read (\d+) nodes in (\d+) ms; wrote \d+ nodes in (\d+) ms/.exec(r.stdout);
        times.peer.push(r.ms);
        times.peerRead.push(Number(m[2]));
        times.peerWrite.push(Number(m[3]));
        await check("the peer", false);
        const rd = must("ZkCopy read", await java("read", srcZk, set.root), 0);
        times.javaRead.push(rd.ms);
        return `${sec(r.ms)} s (read ${sec(Number(m[2]))}, write ${sec(Number(m[3]))}); its read alone ${sec(rd.ms)} s`;
      },
      zkfleet: async () => {
        rmSync(file, { force: true });
        const ex = must("export", await zkfleet("export", "--zk", srcZk, "--path", set.root, "-o", file), 0);
        const im = must("import", await zkfleet("import", "--zk", dstZk, "-f", file), 2);
        times.export.push(ex.ms);
        times.exportOwn.push(Number(/ in (\d+(?:\.\d+)?)s/.exec(ex.stdout)?.[1] ?? NaN) * 1000);
        times.exportMb.push(ex.controllerMb);
        times.import.push(im.ms);
        times.exportImport.push(ex.ms + im.ms);
        const df = must("diff", await zkfleet("diff", srcZk, dstZk, "--path", set.root), 0);
        times.diff.push(df.ms);
        await check("zkfleet export + import", true);
        return `${sec(ex.ms + im.ms)} s (export ${sec(ex.ms)}, import ${sec(im.ms)}); diff of the two live trees ${sec(df.ms)} s`;
      },
      sync: async () => {
        const r = must("sync --once", await zkfleet("sync", "--from", srcZk, "--to", dstZk, "--once"), 2);
        times.sync.push(r.ms);
        await check("zkfleet sync --once", true);
        return `${sec(r.ms)} s`;
      },
      pkg: async () => {
        const r = await packageCopy(srcZk, dstZk, set.root);
        times.pkg.push(r.ms);
        times.pkgRead.push(r.readMs);
        times.pkgWrite.push(r.writeMs);
        await check("the package's copy", false);
        return `${sec(r.ms)} s (read ${sec(r.readMs)}, write ${sec(r.writeMs)})`;
      },
    };
    // The servers' JIT warms up on a copy that is not counted.
    must("warm-up sync", await zkfleet("sync", "--from", srcZk, "--to", dstZk, "--once"), 2);
    await clear(dstZk, set.root);
    const order = Object.keys(tools);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < order.length; k++) {
        const name = order[(k + round) % order.length];
        if (name === "pkg" && round >= PACKAGE_ROUNDS) continue;
        const said = await tools[name]();
        loads.push(Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]));
        console.error(`  round ${round + 1}, ${name}: ${said}`);
      }
    }
    let baseline;
    if (before) {
      const ex = must("export (before)", await before("export", "--zk", srcZk, "--path", set.root, "-o", `${file}.before`), 0);
      const im = must("import (before)", await before("import", "--zk", dstZk, "-f", `${file}.before`), 2);
      const df = must("diff (before)", await before("diff", srcZk, dstZk, "--path", set.root), 0);
      await check("zkfleet before: export + import", true);
      const sy = must("sync --once (before)", await before("sync", "--from", srcZk, "--to", dstZk, "--once"), 2);
      await check("zkfleet before: sync --once", true);
      baseline = { export: ex.ms, import: im.ms, diff: df.ms, sync: sy.ms, exportMb: ex.controllerMb };
      console.error(`  before: export ${sec(ex.ms)} s, import ${sec(im.ms)} s, diff ${sec(df.ms)} s, sync --once ${sec(sy.ms)} s`);
    }
    results.push({ set, nodes: nodes.length, times, baseline, fileMb: statSync(file).size / 2 ** 20 });
    await clear(srcZk, set.root);
  }

  const loadRange = `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`;
  console.log(`\n${ROUNDS} rounds per tool (the package: ${Math.min(ROUNDS, PACKAGE_ROUNDS)}), alternating; medians; load average ${loadRange} during the rounds; every copy checked by ZooKeeper's Java client`);
  for (const r of results) {
    const t = Object.fromEntries(Object.entries(r.times).map(([k, v]) => [k, median(v)]));
    const rate = (ms) => Math.round((r.nodes / ms) * 1000);
    const vsPeer = (ms) => (t.peer / ms).toFixed(2);
    const vsPkg = (ms) => (t.pkg / ms).toFixed(2);
    console.log(`\n${r.set.count} x ${r.set.bytes} B under ${r.set.parents} parents (${r.nodes} nodes)`);
    console.log("| tool | wall s (median) | nodes/s | peer's time / this | package's time / this |\n|---|---|---|---|---|");
    console.log(`| zkfleet export + import | ${sec(t.exportImport)} (${sec(t.export)} + ${sec(t.import)}) | ${rate(t.exportImport)} | ${vsPeer(t.exportImport)} | ${vsPkg(t.exportImport)} |`);
    console.log(`| zkfleet sync --once | ${sec(t.sync)} | ${rate(t.sync)} | ${vsPeer(t.sync)} | ${vsPkg(t.sync)} |`);
    console.log(`| zkcopy-style Java peer (JVM start included) | ${sec(t.peer)} (read ${sec(t.peerRead)}, write ${sec(t.peerWrite)}) | ${rate(t.peer)} | 1.00 | ${vsPkg(t.peer)} |`);
    console.log(`| the package, pipelined single creates (in-process) | ${sec(t.pkg)} (read ${sec(t.pkgRead)}, write ${sec(t.pkgWrite)}) | ${rate(t.pkg)} | ${vsPeer(t.pkg)} | 1.00 |`);
    console.log(`reads: zkfleet export ${sec(t.export)} s whole run (${sec(t.exportOwn)} s its own), the Java client's async read ${sec(t.javaRead)} s whole run (${sec(t.peerRead)} s its own): Java / export ${(t.javaRead / t.export).toFixed(2)} (own times ${(t.peerRead / t.exportOwn).toFixed(2)})`);
    console.log(`diff of the two live trees: ${sec(t.diff)} s; export peak RSS ${t.exportMb.toFixed(0)} MB; export file ${r.fileMb.toFixed(0)} MB`);
    if (r.baseline) {
      const b = r.baseline;
      console.log(`before (--baseline, once): export ${sec(b.export)} s, import ${sec(b.import)} s (export + import ${sec(b.export + b.import)} s: ${((b.export + b.import) / t.exportImport).toFixed(1)}x), ` +
        `sync --once ${sec(b.sync)} s (${(b.sync / t.sync).toFixed(1)}x), diff ${sec(b.diff)} s (${(b.diff / t.diff).toFixed(1)}x), export peak RSS ${b.exportMb.toFixed(0)} MB`);
    }
  }
} finally {
  cancelDeadline();
  await cleanUp();
}
