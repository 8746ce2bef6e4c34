// Issue 23's exploration: the ways the data plane could write many znodes,
// measured side by side against one 3-server ensemble (ZooKeeper 3.8.0), and
// the ways it could read them from another:
//   writes: the `zookeeper` package's single creates pipelined 512 deep (what
//     import does today, without its worker process), zkfleet's own protocol
//     client (controller/zk/wire-client.ts) doing the same, the same client
//     sending creates in multi transactions (cut by bytes, or at 1,000 ops;
//     1, 2 or 4 multis in flight), and ZooKeeper's Java client doing multis
//     (bench/ZkCopy.java, the bulk loader a host's agent could run: its
//     in-process time, and the JVM's own start besides);
//   reads: what an export asks of every node (data, ACL, children of
//     parents), pipelined 512 nodes deep through the package and through the
//     protocol client, beside the Java client's asynchronous reads of data
//     and children (no ACL).
// Every way writes the same tree into an empty target and is checked by
// count; the tree is deleted again between ways (multi deletes, not timed).
// One untimed copy first warms the servers up.
// Run after `npm run build`, in a lab slot:
//   /work/tools/labslot node bench/multi-ways.mjs [COUNTxBYTES:PARENTS ...]
// default sets 20000x1024:20 and 100000x100:100. Lab of 6 hosts on
// 127.66.1; about 10 minutes on 2 cores.
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanUpOnAbort, commandRunner, javaPeer, pipelined, rawSession, treeOf, treeSets, twoEnsembles } from "./lib.mjs";

const SETS = treeSets(process.argv.slice(2), "ways");
const WINDOW = 512;
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
const { WireClient } = await import(join(root, "dist/controller/zk/wire-client.js"));
const ZooKeeper = createRequire(join(root, "package.json"))("zookeeper");
const labDir = "/var/tmp/zkfleet-bench/multi-ways";
const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-ways-"));
const env = { ...process.env, ZKFLEET_JOURNAL: join(work, "journal") };
const children = new Set();
const run = commandRunner(env, children);
const OPEN = [{ perms: 31, scheme: "world", id: "anyone" }];

async function cleanUp() {
  for (const c of children) c.kill("SIGKILL");
  await run(["node", cli, "lab", "down", "--dir", labDir], { timeoutMs: 120_000 });
  rmSync(work, { recursive: true, force: true });
}
const cancelDeadline = cleanUpOnAbort(cleanUp, 3600_000);
const must = (what, r, ...codes) => {
  if (!codes.includes(r.code)) throw new Error(`${what} failed (exit ${r.code}):\n${(r.stderr ?? "").trim().slice(-3000) || (r.stdout ?? "").slice(0, 2000)}`);
  return r;
};


/** Multis of creates: cut at maxOps or maxBytes (a create's wire size, roughly), `inFlight` at a time. */
async function wireMulti(client, nodes, { maxOps = Infinity, maxBytes = 1_000_000, inFlight = 1 } = {}) {
  const batches = [];
  let batch = [];
  let bytes = 0;
  for (const n of nodes) {
    const size = n.path.length + n.data.length + 60;
    if (batch.length && (batch.length >= maxOps || bytes + size > maxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ op: "create", path: n.path, data: n.data, acl: OPEN });
    bytes += size;
  }
  if (batch.length) batches.push(batch);
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const r = await client.multi(batches[next++]);
      if (!r.ok) throw new Error(`a multi failed at op ${r.index}: ${r.rc}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return batches.length;
}

async function wirePipelined(n, call) {
  let next = 0;
  const lane = async () => {
    while (next < n) await call(next++);
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
}

async function deleteTree(connect, nodes) {
  const c = await WireClient.open({ connect });
  try {
    const reversed = [...nodes].reverse();
    for (let i = 0; i < reversed.length; i += 2000) {
      const r = await c.multi(reversed.slice(i, i + 2000).map((n) => ({ op: "delete", path: n.path })));
      if (!r.ok) throw new Error(`delete multi failed at ${r.index}: ${r.rc}`);
    }
  } finally {
    await c.close();
  }
}

async function countBelow(connect, path) {
  const c = await WireClient.open({ connect });
  try {
    let n = 0;
    const visit = async (p) => {
      n++;
      const { children: names } = await c.children(p);
      await Promise.all(names.map((name) => visit(`${p}/${name}`)));
    };
    await visit(path);
    return n;
  } finally {
    await c.close();
  }
}

const ms = async (fn) => {
  const t0 = performance.now();
  const extra = await fn();
  return { ms: performance.now() - t0, extra };
};

try {
  const { src: { connect: srcZk }, dst: { connect: dstZk } } = await twoEnsembles(run, cli, labDir, "127.66.1", work);
  const zkLib = join(work, "zk", "apache-zookeeper-3.8.0-bin", "lib");
  const java = await javaPeer(run, root, work);

  const rows = [];
  for (const set of SETS) {
    const nodes = treeOf(set);
    console.error(`\n${set.root}: ${set.count} znodes of ${set.bytes} bytes under ${set.parents} parents (${nodes.length} nodes)`);
    const seeder = await WireClient.open({ connect: srcZk });
    await wireMulti(seeder, nodes, { inFlight: 2 });
    await seeder.close();
    const row = { set: `${set.count} x ${set.bytes} B`, nodes: nodes.length, writes: {}, reads: {} };
    const write = async (name, fn) => {
      const t = await ms(fn);
      const counted = await countBelow(dstZk, set.root);
      if (counted !== nodes.length) throw new Error(`${name} left ${counted} of ${nodes.length} nodes`);
      await deleteTree(dstZk, nodes);
      row.writes[name] = t.ms;
      console.error(`  write ${name}: ${(t.ms / 1000).toFixed(2)} s (${Math.round(nodes.length / t.ms * 1000)}/s)${t.extra ? `, ${t.extra}` : ""}`);
    };
    // The servers' JIT warms up on a copy that is not compared.
    {
      const c = await WireClient.open({ connect: dstZk });
      await wireMulti(c, nodes, { inFlight: 2 });
      await c.close();
      await deleteTree(dstZk, nodes);
    }
    await write("package, single creates, 512 in flight", async () => {
      const zk = await rawSession(ZooKeeper, dstZk);
      await pipelined(nodes.length, WINDOW, (i, done) => zk.a_create(nodes[i].path, nodes[i].data, 0, done));
      zk.close();
    });
    await write("protocol client, single creates, 512 in flight", async () => {
      const c = await WireClient.open({ connect: dstZk });
      await wirePipelined(nodes.length, (i) => c.create(nodes[i].path, nodes[i].data));
      await c.close();
    });
    for (const [label, opts] of [
      ["multi <= 1 MB, 1 in flight", { inFlight: 1 }], ["multi <= 1 MB, 2 in flight", { inFlight: 2 }], ["multi <= 1 MB, 4 in flight", { inFlight: 4 }],
      ["multi <= 1,000 ops / 900 kB, 1 in flight", { maxOps: 1000, maxBytes: 900_000, inFlight: 1 }],
      ["multi <= 1,000 ops / 900 kB, 4 in flight", { maxOps: 1000, maxBytes: 900_000, inFlight: 4 }],
    ]) {
      await write(`protocol client, ${label}`, async () => {
        const c = await WireClient.open({ connect: dstZk });
        const n = await wireMulti(c, nodes, opts);
        await c.close();
        return `${n} multis`;
      });
    }
    for (const inFlight of [1, 4]) {
      // The Java copier reads the source and writes the target in one run: its own clock splits the two, the rest is the JVM's start.
      const r = must("ZkCopy copy", await java("copy", srcZk, dstZk, set.root, "1000", "900000", String(inFlight)), 0);
      const m = /read (\d+) nodes in (\d+) ms; wrote \d+ nodes in (\d+) ms in (\d+)/.exec(r.stdout);
      if (!m) throw new Error(`ZkCopy said: ${r.stdout}`);
      const counted = await countBelow(dstZk, set.root);
      if (counted !== nodes.length) throw new Error(`ZkCopy left ${counted} of ${nodes.length} nodes`);
      await deleteTree(dstZk, nodes);
      const [readMs, writeMs] = [Number(m[2]), Number(m[3])];
      row.writes[`Java client, multi <= 1,000 ops / 900 kB, ${inFlight} in flight`] = writeMs;
      row.reads[`Java client: data and children asked together, async (run ${inFlight})`] = readMs;
      row.jvm = [...(row.jvm ?? []), r.ms - readMs - writeMs];
      console.error(`  Java copy, ${inFlight} multi(s) in flight: read ${readMs} ms, write ${writeMs} ms in ${m[4]} multis, whole run ${(r.ms / 1000).toFixed(2)} s`);
    }

    const read = async (name, fn) => {
      const t = await ms(fn);
      row.reads[name] = t.ms;
      console.error(`  read ${name}: ${(t.ms / 1000).toFixed(2)} s (${Math.round(nodes.length / t.ms * 1000)}/s)`);
    };
    const parents = new Set([set.root, ...nodes.slice(1, set.parents + 1).map((n) => n.path)]);
    await read("package: data, ACL, children of parents, 512 nodes in flight", async () => {
      const zk = await rawSession(ZooKeeper, srcZk);
      await pipelined(nodes.length * 3, WINDOW * 3, (i, done) => {
        const p = nodes[Math.floor(i / 3)].path;
        if (i % 3 === 0) zk.a_get(p, false, done);
        else if (i % 3 === 1) zk.a_get_acl(p, done);
        else if (parents.has(p)) zk.a_get_children2(p, false, done);
        else done(0);
      });
      zk.close();
    });
    await read("protocol client: data, ACL, children of parents, 512 nodes in flight", async () => {
      const c = await WireClient.open({ connect: srcZk });
      await wirePipelined(nodes.length, (i) => c.read(nodes[i].path));
      await c.close();
    });
    await deleteTree(srcZk, nodes);
    rows.push(row);
  }
  console.log(`\nload average at the end: ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  for (const r of rows) {
    console.log(`\n${r.set} (${r.nodes} nodes)\n| write | s | nodes/s |\n|---|---|---|`);
    for (const [k, v] of Object.entries(r.writes)) console.log(`| ${k} | ${(v / 1000).toFixed(2)} | ${Math.round(r.nodes / v * 1000)} |`);
    console.log(`| read | s | nodes/s |\n|---|---|---|`);
    for (const [k, v] of Object.entries(r.reads)) console.log(`| ${k} | ${(v / 1000).toFixed(2)} | ${Math.round(r.nodes / v * 1000)} |`);
    console.log(`JVM start, session set-up and exit (a Java copier's run less its reads and writes): ${r.jvm.map((ms) => (ms / 1000).toFixed(2)).join(", ")} s`);
  }
} finally {
  cancelDeadline();
  await cleanUp();
}
