// A whole migration of a 3-server ensemble holding 50,000 znodes to three
// other hosts (A,B,C -> D,E,F by dynamic reconfiguration, ZooKeeper 3.9.3):
// the wall time of `apply`, every step's time by stage, the canary's
// figures, and how long each joiner took from its start to the moment
// zkfleet counted it caught up. Beside that, measured in the same run, the
// time ZooKeeper itself needs for the same join without zkfleet around it:
// a second lab with the same loaded ensemble, where zk4, zk5 and zk6 in turn
// get the files zkfleet would write for them (zkfleet plans each join in
// check mode, which touches nothing), are started by hand over ssh, and are
// polled with `srvr` every 50 ms until they follow with the leader's zxid.
// The baseline runs first, so that a migration that fails still leaves it
// measured; a failed migration is reported (the step, the error, what the
// servers say afterwards) and ends the bench: nothing is retried or resumed.
// With --keep-names the servers keep their names (a whole
// migration keeping host names): the inventory lists zk1..zk3 twice, the old entries absent,
// the new ones at the last three hosts' addresses with myids 4..6.
// Run after `npm run build`, as root:  node bench/migrate.mjs [--keep-names]
// Labs of 6 hosts on 127.99.1 (baseline) and 127.99.0 (migration), one
// after the other; about 3 to 4 minutes on 2 cores, 20 at the most.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { commandRunner } from "./lib.mjs";

const KEEP_NAMES = process.argv.includes("--keep-names");
const COUNT = 50_000;
const BYTES = 100;
const POLL_MS = 50;
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
const dist = (path) => import(join(root, "dist", path));
const { sendWord, parseSrvr, parseConf } = await dist("common/four-letter.js");
const { TreeDigest } = await dist("controller/data/digest.js");
const { FORMAT, FORMAT_VERSION, toLine } = await dist("controller/data/format.js");
const { runApply } = await dist("controller/usecases/apply.js");
const { loadInventory } = await dist("controller/inventory/load.js");

const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-migrate-"));
const journalDir = join(work, "journal");
const env = { ...process.env, ZKFLEET_JOURNAL: journalDir };
const children = new Set();
const labs = new Set();
const GIVE_UP_MS = 20 * 60_000;
const runner = commandRunner(env, children);
const run = (argv, opts = {}) => runner(argv, { timeoutMs: 300_000, ...opts });
// A zkfleet command killed alone leaves its canary and ZooKeeper client workers running, orphaned: so no
// zkfleet command is given a time limit of its own; a hang lasts until the bench gives up, which kills the whole tree.
const zkfleet = (args) => run(["node", cli, ...args], { timeoutMs: GIVE_UP_MS * 2 });
const must = (what, r, ...codes) => {
  if (!codes.includes(r.code)) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim().slice(-3000) || r.stdout.slice(0, 2000)}`);
  return r;
};

/** Every process below `pid` (from each of its threads' children lists), deepest first. */
function descendants(pid) {
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const direct = tasks.flatMap((task) => {
    try {
      return readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
  return direct.flatMap((child) => [...descendants(child), child]);
}

let cleaned = false;
function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) {
    // Listed before the parent dies: once it has, its children belong to init and can no longer be told from others'.
    const below = descendants(c.pid);
    c.kill("SIGKILL");
    for (const pid of below) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  for (const dir of labs) {
    try {
      execFileSync("node", [cli, "lab", "down", "--dir", dir], { stdio: "ignore", timeout: 120_000 });
    } catch {
      console.error(`lab down ${dir} failed; check with: node bin/zkfleet.js lab status --dir ${dir}`);
    }
  }
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => (console.error(`${sig}: bringing the labs down`), cleanUp(), process.exit(130)));
const giveUp = setTimeout(() => (console.error(`the bench ran for ${GIVE_UP_MS / 60_000} minutes: stopping`), cleanUp(), process.exit(1)), GIVE_UP_MS);

const s = (ms) => (ms === undefined || Number.isNaN(ms) ? "?" : `${(ms / 1000).toFixed(1)} s`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const shq = (v) => `'${String(v).replace(/'/g, `'\\''`)}'`;
const machine = () => execFileSync("uptime", { encoding: "utf8" }).trim();

async function srvr(address) {
  const reply = await sendWord(address, 2181, "srvr", 1000);
  if (reply.kind !== "answer") return { answered: false };
  return { answered: true, ...parseSrvr(reply.text) };
}
const zxidOf = (f) => (f.zxid ? BigInt(f.zxid.hex) : undefined);
const serving = (f) => f.mode === "follower" || f.mode === "observer" || f.mode === "leader";

async function labUp(dir, hosts, subnet) {
  labs.add(dir);
  must(`lab up ${subnet}`, await zkfleet(["lab", "up", "--hosts", String(hosts), "--subnet", subnet, "--zk-version", "3.9.3", "--dir", dir]), 0);
  return parse(readFileSync(join(dir, "inventory.yml"), "utf8"));
}
async function labDown(dir) {
  must(`lab down ${dir}`, await zkfleet(["lab", "down", "--dir", dir]), 0);
  labs.delete(dir);
}

/**
 * The lab's inventory with these hosts: [name, myid, "absent"?]; reconfig on, as membership changes on 3.9.3 need.
 * Each lab gets its own ensemble name: zkfleet refuses to start an ensemble the journal saw running on other hosts.
 */
function inventory(lab, ensemble, file, hosts) {
  const password = join(work, "super.txt");
  writeFileSync(password, "bench-migrate-super\n", { mode: 0o600 });
  const byName = new Map(lab.hosts.map((h) => [h.name, h]));
  const path = join(work, file);
  writeFileSync(path, stringify({
    ...lab,
    ensemble,
    zookeeper: { ...lab.zookeeper, heap_mb: 512, reconfig: true, super_password_file: password },
    hosts: hosts.map(([name, myid, state, on = name]) => ({ name, address: byName.get(on).address, myid, ...(state ? { state } : {}) })),
  }));
  return path;
}

/**
 * The tree as an export file, so that zkfleet's own `import` loads it. The
 * digest and line format come from zkfleet's modules: the file must pass
 * the same checks as one `zkfleet export` wrote.
 */
function writeLoadFile(path) {
  const digest = new TreeDigest();
  const stat = (dataLength, children) => ({
    czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: children, aversion: 0, dataLength, numChildren: children, ephemeralOwner: "0",
  });
  const lines = [JSON.stringify({ format: FORMAT, version: FORMAT_VERSION, root: "/load", source: "generated by bench/migrate.mjs", started: new Date().toISOString() })];
  const add = (p, data, st) => {
    const n = { path: p, data, acl: [{ perms: 31, scheme: "world", id: "anyone" }], ephemeral: false, stat: st };
    digest.push(n);
    lines.push(JSON.stringify(toLine(n)));
  };
  add("/load", Buffer.alloc(0), stat(0, COUNT));
  // Zero-padded names keep file order (siblings sorted by name) equal to creation order.
  for (let i = 0; i < COUNT; i++) add(`/load/n${String(i).padStart(5, "0")}`, Buffer.from(`node ${i} `.padEnd(BYTES, "x")), stat(BYTES, 0));
  lines.push(JSON.stringify({ end: true, nodes: digest.nodes, digest: digest.finish(), finished: new Date().toISOString() }));
  writeFileSync(path, lines.join("\n") + "\n");
}

async function load(lab, loadFile) {
  const connect = lab.hosts.slice(0, 3).map((h) => `${h.address}:2181`).join(",");
  const r = must("import", await zkfleet(["import", "--zk", connect, "-f", loadFile, "--no-counters"]), 2);
  // A follower may still be applying the last creates when import returns (it is acknowledged by a quorum).
  for (let i = 0; ; i++) {
    const counts = await Promise.all(lab.hosts.slice(0, 3).map(async (h) => (await srvr(h.address)).node_count));
    if (counts.every((c) => c > COUNT)) return { ms: r.ms, nodes: Math.min(...counts) };
    if (i > 300) throw new Error(`60 s after the import the servers count ${counts.join("/")} znodes, expected more than ${COUNT}`);
    await sleep(200);
  }
}

async function leaderOf(hosts) {
  const modes = await Promise.all(hosts.map(async (h) => (await srvr(h.address)).mode));
  return hosts[modes.indexOf("leader")];
}

/** Runs `cmd` on a lab host through the lab's ssh_config (and a master connection, when one is open for it). */
function ssh(dir, host, cmd, control) {
  return run(["ssh", "-F", join(dir, "ssh_config"), "-o", "BatchMode=yes", ...(control ? ["-o", `ControlPath=${control}`] : []), host, cmd], { timeoutMs: 120_000 });
}
const writeScript = (files) => files.map((f) => {
  const tmp = `${f.path}.bench-tmp`;
  return `mkdir -p ${shq(f.path.replace(/\/[^/]*$/, "") || "/")} && printf %s ${shq(Buffer.from(f.content).toString("base64"))} | base64 -d > ${shq(tmp)} && chmod ${f.mode.toString(8)} ${shq(tmp)} && mv ${shq(tmp)} ${shq(f.path)}`;
}).join(" && ");

/** An ssh master connection to a lab host, so that timed commands pay no SSH handshake (zkfleet's agent session does not either). */
async function sshMaster(dir, host) {
  const control = join(work, `cm-${host}`);
  const master = spawn("ssh", ["-F", join(dir, "ssh_config"), "-o", "BatchMode=yes", "-o", "ControlMaster=yes", "-o", `ControlPath=${control}`, "-N", host], { stdio: "ignore" });
  children.add(master);
  master.on("close", () => children.delete(master));
  for (let i = 0; (await run(["ssh", "-o", `ControlPath=${control}`, "-O", "check", host])).code !== 0; i++) {
    if (i > 100) throw new Error(`the ssh master connection to ${host} did not come up`);
    await sleep(100);
  }
  return { control, close: () => master.kill("SIGTERM") };
}

/**
 * What zkfleet would do to add `joiner` to {zk1,zk2,zk3}, from its own plan in
 * check mode: the names every server must resolve first, the release, the
 * joiner's files (the committed configuration plus itself), its start.
 */
async function plannedJoin(lab, joiner, myid) {
  const file = inventory(lab, "baseline", `base-add-${joiner}.yml`, [["zk1", 1], ["zk2", 2], ["zk3", 3], [joiner, myid]]);
  const { plan } = await runApply({ file, inventory: await loadInventory(file), check: true, journalDir, inventoryHash: "", confirm: async () => false });
  const stage = plan.stages.find((st) => st.title.startsWith(`add ${joiner} `));
  if (!stage) throw new Error(`zkfleet planned no "add ${joiner}" stage: ${plan.stages.map((st) => st.title).join("; ")}`);
  return {
    // The membership record the first stage also writes is zkfleet's own, not ZooKeeper's.
    hostsFiles: plan.stages[0].steps.filter((st) => st.kind === "write_file" && st.path === "/etc/hosts"),
    files: stage.steps.filter((st) => st.kind === "write_file"),
    install: stage.steps.find((st) => st.kind === "install"),
    start: stage.steps.find((st) => st.kind === "start").args,
  };
}

/**
 * ZooKeeper alone: zk4, zk5 and zk6 of the second lab join its loaded
 * ensemble one after another, each on a host where ZooKeeper never ran, as
 * in the migration; each is started by hand with the files zkfleet plans for
 * it, timed from the start command to the server following with the
 * leader's zxid, and stopped again so the next joins three servers too.
 */
async function baseline(loadFile) {
  const dir = "/var/tmp/zkfleet-bench/migrate-baseline";
  console.error(`baseline: lab of 6 hosts on 127.99.1 in ${dir}`);
  const lab = await labUp(dir, 6, "127.99.1");
  const members = lab.hosts.slice(0, 3);
  must("apply zk1..zk3", await zkfleet(["apply", "-i", inventory(lab, "baseline", "base-abc.yml", [["zk1", 1], ["zk2", 2], ["zk3", 3]]), "--yes"]), 2);
  const loaded = await load(lab, loadFile);
  console.error(`  loaded ${COUNT} znodes with zkfleet import in ${s(loaded.ms)}`);
  const leader = await leaderOf(members);
  const joins = [];
  for (const [k, h] of lab.hosts.slice(3).entries()) {
    const p = await plannedJoin(lab, h.name, 4 + k);
    // Untimed, as zkfleet's install and file writes are not part of its joiner's sync either.
    for (const f of p.hostsFiles) must(`/etc/hosts on ${f.host}`, await ssh(dir, f.host, writeScript([f])), 0);
    must("scp release", await run(["scp", "-F", join(dir, "ssh_config"), "-q", p.install.tarball, `${h.name}:/tmp/zk.tar.gz`]), 0);
    const release = `${p.install.installDir}/releases/${p.install.version}`;
    must(`files on ${h.name}`, await ssh(dir, h.name, `mkdir -p ${shq(release)} && tar -xzf /tmp/zk.tar.gz -C ${shq(release)} --strip-components=1 --no-same-owner && ` +
      `ln -sfn releases/${p.install.version} ${shq(`${p.install.installDir}/current`)} && rm /tmp/zk.tar.gz && mkdir -p ${shq(p.start.log_dir ?? "/tmp")} && ${writeScript(p.files)}`), 0);
    const envs = { ZOOPIDFILE: `${p.start.data_dir}/zookeeper_server.pid`, ...(p.start.log_dir ? { ZOO_LOG_DIR: p.start.log_dir } : {}), ...(p.start.java_home ? { JAVA_HOME: p.start.java_home } : {}), ...(p.start.env ?? {}) };
    const zkServer = `${Object.entries(envs).map(([key, v]) => `${key}=${shq(v)}`).join(" ")} ${shq(`${p.start.install_dir}/current/bin/zkServer.sh`)} --config ${shq(p.start.config_dir)}`;
    const master = await sshMaster(dir, h.name);

    const target = zxidOf(await srvr(leader.address));
    const t0 = performance.now();
    let startMs, startFailed;
    const started = ssh(dir, h.name, `${zkServer} start >/dev/null`, master.control).then((x) => {
      if (x.code !== 0) startFailed = x;
      startMs = performance.now() - t0;
    });
    let listening, servingAt, synced, nodes;
    while (synced === undefined) {
      if (startFailed) must(`zkServer.sh start on ${h.name}`, startFailed, 0);
      if (performance.now() - t0 > 180_000) throw new Error(`${h.name} did not sync within 180 s in the baseline`);
      const [j, l] = await Promise.all([srvr(h.address), srvr(leader.address)]);
      const now = performance.now() - t0;
      if (j.answered) listening ??= now;
      if (serving(j)) servingAt ??= now;
      if (serving(j) && zxidOf(j) !== undefined && zxidOf(j) >= (zxidOf(l) ?? target)) {
        synced = now;
        nodes = j.node_count;
      } else await sleep(POLL_MS);
    }
    await started;
    if (startFailed) must(`zkServer.sh start on ${h.name}`, startFailed, 0);
    must(`stop ${h.name}`, await ssh(dir, h.name, `${zkServer} stop >/dev/null`, master.control), 0);
    master.close();
    joins.push({ host: h.name, startMs, listening, serving: servingAt, synced, nodes });
    console.error(`  ${h.name}: zkServer.sh start returned after ${s(startMs)}, client port answering ${s(listening)}, following ${s(servingAt)}, zxid at the leader's ${s(synced)} (${nodes} znodes)`);
  }
  const loadAvg = machine();
  await labDown(dir);
  return { joins, loaded, leader: leader.name, loadAvg };
}

/** Each joiner's own answers during the migration: when its client port first answers and when it first serves. */
function watchJoiners(hosts) {
  const seen = new Map(hosts.map((h) => [h.name, {}]));
  let on = true;
  const loop = (async () => {
    while (on) {
      await Promise.all(hosts.map(async (h) => {
        const f = await srvr(h.address);
        const mark = seen.get(h.name);
        if (f.answered) mark.listening ??= Date.now();
        if (serving(f)) mark.serving ??= Date.now();
      }));
      await sleep(POLL_MS);
    }
  })();
  return async () => {
    on = false;
    await loop;
    return seen;
  };
}

/** The journal records of the runs that began after `before` (a listing of the journal folder). */
function journalRuns(ensemble, before) {
  const folder = join(journalDir, ensemble);
  return readdirSync(folder).filter((f) => !before.has(f)).sort()
    .map((f) => readFileSync(join(folder, f), "utf8").trim().split("\n").map((l) => JSON.parse(l)));
}

const CATEGORY = (st) => st.kind === "await_healthy" ? (st.role === "gate" ? "gate" : st.caughtUp ? "catch-up check" : "check") : st.kind === "write_file" ? "files" : st.kind;

try {
  console.log(`machine at the start: ${machine()} (${readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm).length} cores)`);
  const loadFile = join(work, "load.jsonl");
  writeLoadFile(loadFile);

  const base = await baseline(loadFile);
  const baseSynced = base.joins.map((r) => r.synced);
  console.log(`\nBaseline, ZooKeeper alone (second lab, 3 servers holding ${base.loaded.nodes} znodes, leader ${base.leader}): zk4, zk5, zk6 each started by hand ` +
    `over ssh with zkfleet's files, one at a time, on a host where ZooKeeper never ran; srvr polled every ${POLL_MS} ms:`);
  for (const r of base.joins) {
    console.log(`  ${r.host}: start to synced ${s(r.synced)} (zkServer.sh start returned ${s(r.startMs)}, client port answering ${s(r.listening)}, following ${s(r.serving)})`);
  }
  console.log(`  median start to synced ${s(median(baseSynced))}; machine after the baseline: ${base.loadAvg}`);

  const dir = "/var/tmp/zkfleet-bench/migrate";
  console.error(`migration: lab of 6 hosts on 127.99.0 in ${dir}`);
  const lab = await labUp(dir, 6, "127.99.0");
  const created = must("apply zk1..zk3", await zkfleet(["apply", "-i", inventory(lab, "migrate", "abc.yml", [["zk1", 1], ["zk2", 2], ["zk3", 3]]), "--yes"]), 2);
  const loaded = await load(lab, loadFile);
  console.error(`  ensemble created in ${s(created.ms)}, ${COUNT} znodes imported in ${s(loaded.ms)}`);
  const old = lab.hosts.slice(0, 3), joiners = lab.hosts.slice(3);
  const leaderBefore = (await leaderOf(old)).name;
  // The name zkfleet knows each joiner by: its lab name, or with --keep-names the name it takes over.
  const nameOf = (h) => (KEEP_NAMES ? `zk${Number(h.name.slice(2)) - 3}` : h.name);
  const moved = inventory(lab, "migrate", "def.yml", [
    ["zk1", 1, "absent"], ["zk2", 2, "absent"], ["zk3", 3, "absent"],
    ...joiners.map((h, i) => [nameOf(h), 4 + i, undefined, h.name]),
  ]);
  const journalsBefore = new Set(readdirSync(join(journalDir, "migrate")));
  const machineBefore = machine();
  const stopWatching = watchJoiners(joiners);
  const m = await zkfleet(["apply", "-i", moved, "--yes", "--json"]);
  const watched = await stopWatching();
  const machineAfter = machine();

  // Figures come from the journal, which has them whether the run finished or not (--json prints nothing on failure).
  const runs = journalRuns("migrate", journalsBefore);
  // A dynamic migration is one plan; should apply ever need more rounds, the canary's step indexes are those of the last.
  let steps = [];
  const events = [];
  for (const records of runs) {
    const plan = records.find((x) => x.event === "plan").plan;
    steps = plan.stages.flatMap((stage) => stage.steps.map((st) => ({ ...st, stage: stage.title, concurrent: stage.concurrent })));
    for (const x of records) if (x.index !== undefined && x.event.startsWith("step-")) events.push({ ...x, step: steps[x.index], time: Date.parse(x.at) });
  }
  const canary = runs.flatMap((records) => records.filter((x) => x.event === "canary").map((x) => x.report)).at(-1);
  const failed = events.find((x) => x.event === "step-failed");

  console.log(`\nMigration zk1,zk2,zk3 -> ${KEEP_NAMES ? "the hosts zk4,zk5,zk6 keeping the names zk1,zk2,zk3" : "zk4,zk5,zk6"} (${loaded.nodes} znodes, leader before: ${leaderBefore}), one \`apply --yes --json\` in ${runs.length} run(s):`);
  console.log(`  wall time of the command: ${s(m.ms)}, exit ${m.code}`);
  console.log(`  machine before: ${machineBefore}\n  machine after:  ${machineAfter}`);

  // Stage times come from the journal's timestamps, so that what lies between a stage's steps (agent round trips, fsyncs) counts too.
  console.log("\n  per stage (wall) and step:");
  const byCategory = new Map();
  const byStage = new Map();
  for (const e of events) {
    const k = e.step.stage;
    if (!byStage.has(k)) byStage.set(k, []);
    byStage.get(k).push(e);
  }
  let inStages = 0;
  for (const [title, es] of byStage) {
    const t0 = Math.min(...es.map((e) => e.time)), t1 = Math.max(...es.map((e) => e.time));
    inStages += t1 - t0;
    const parts = new Map();
    for (const e of es.filter((x) => x.event === "step-done")) {
      const c = CATEGORY(e.step);
      const p = parts.get(c) ?? { ms: 0, n: 0 };
      parts.set(c, { ms: p.ms + e.ms, n: p.n + 1 });
      const total = byCategory.get(c) ?? { ms: 0, n: 0 };
      byCategory.set(c, { ms: total.ms + e.ms, n: total.n + 1 });
    }
    const failedHere = es.find((x) => x.event === "step-failed");
    console.log(`    ${s(t1 - t0).padStart(7)}  ${title.replace(/: voters .*/, "").replace(/;.*/, "")}${es[0].step.concurrent ? " (hosts in parallel; step times summed)" : ""}: ` +
      [...parts].map(([c, p]) => `${c} ${s(p.ms)}${p.n > 1 ? ` (${p.n})` : ""}`).join(", ") +
      (failedHere ? `; FAILED: ${failedHere.step.kind} on ${failedHere.host}` : ""));
  }
  console.log(`  by kind of step (sum over the run): ${[...byCategory].sort((a, b) => b[1].ms - a[1].ms).map(([c, p]) => `${c} ${s(p.ms)} (${p.n})`).join(", ")}`);
  console.log(`  outside the stages (process start, lock, observing, planning, canary start and final check, between stages): ${s(m.ms - inStages)}`);

  console.log("\n  joiners, start to synced: zkfleet (its start step's start to the end of the catch-up check that counted it caught up), " +
    "ZooKeeper in the same migration (to the joiner's first srvr answer as a follower, polled every 50 ms by the bench), ZooKeeper alone (the baseline, same host name):");
  const joinerSync = [], zkInRun = [];
  for (const h of joiners) {
    const startStep = events.find((e) => e.event === "step-start" && e.step.kind === "start" && e.host === nameOf(h));
    const startDone = events.find((e) => e.event === "step-done" && e.step.kind === "start" && e.host === nameOf(h));
    const check = events.find((e) => e.event === "step-done" && e.step.kind === "await_healthy" && e.step.caughtUp === nameOf(h));
    if (!startStep || !startDone || !check) {
      console.log(`    ${h.name}: not synced by zkfleet in this run`);
      continue;
    }
    const w = watched.get(h.name);
    const rel = (t) => (t === undefined ? undefined : t - startStep.time);
    const alone = base.joins.find((r) => r.host === h.name);
    joinerSync.push(check.time - startStep.time);
    if (w.serving !== undefined) zkInRun.push(rel(w.serving));
    console.log(`    ${h.name}: zkfleet ${s(check.time - startStep.time)} (start step ${s(startDone.ms)}, catch-up check ${s(check.ms)}); ` +
      `in the migration its client port answered at ${s(rel(w.listening))} and it followed at ${s(rel(w.serving))}; alone ${s(alone?.synced)}`);
  }
  if (joinerSync.length) {
    const zk = median(joinerSync), alone = median(baseSynced), inRun = median(zkInRun);
    console.log(`  medians: zkfleet ${s(zk)}, ZooKeeper in the same migration ${s(inRun)}, ZooKeeper alone ${s(alone)}; ` +
      `ratio zkfleet / ZooKeeper alone ${(zk / alone).toFixed(2)}, zkfleet / ZooKeeper in the migration ${(zk / inRun).toFixed(2)}`);
  }

  if (canary) {
    const t = canary.total;
    console.log(`\n  canary (via ${canary.via}): ${t.ops} ops, ${t.failed} failed, longest unavailability on the full connect string ${s(t.longestGapMs)}, ` +
      `p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms, sessions expired ${t.expired}, acknowledged writes lost ${t.lost}`);
    for (const c of canary.clients) {
      console.log(`    ${c.label.padEnd(4)} ${String(c.ops).padStart(5)} ops, ${String(c.failed).padStart(3)} failed, longest gap ${s(c.longestGapMs).padStart(7)}, p50/p99 ${c.p50Ms}/${c.p99Ms} ms, expired ${c.expired}, lost ${c.lost}${c.problem ? `, ${c.problem}` : ""}`);
    }
    const gapAt = new Map(canary.steps.map((x) => [x.index, x]));
    // A step during which no canary op started had every client blocked (or it was too short to see one).
    console.log("    the full connect string's longest gap during each reconfig, await_config and stop, and any other step with a gap of 1 s or more:");
    const leaderId = old.findIndex((h) => h.name === leaderBefore) + 1;
    for (const [i, st] of steps.entries()) {
      const g = gapAt.get(i);
      if (!["reconfig", "await_config", "stop"].includes(st.kind) && !(g?.longestGapMs >= 1000)) continue;
      const ran = events.find((e) => e.index === i && e.event !== "step-start");
      if (!ran) continue;
      const what = st.kind === "reconfig" ? `${st.add.length ? `add ${st.add[0].replace(/=.*/, "")}` : `remove server.${st.remove[0]}`} via ${st.host}`
        : st.kind === "stop" ? `stop ${st.host}` : `${CATEGORY(st)} (${st.stage.replace(/ \(myid.*|, which left.*|;.*/, "")})`;
      const mark = st.kind === "reconfig" && st.remove[0] === leaderId ? "   <- the leader's removal" : "";
      console.log(`      ${what.padEnd(40)} ${g ? `gap ${s(g.longestGapMs).padStart(6)}, ${g.ops} ops, ${g.failed} failed` : `no canary op started during its ${s(ran.ms)}`}${mark}`);
    }
  }

  if (m.code !== 2 || failed) {
    console.log(`\nzkfleet FAILED the migration (exit ${m.code}) at step ${failed?.index ?? "?"} (${failed?.step?.kind ?? "?"} on ${failed?.host ?? "?"}, stage "${failed?.step?.stage ?? "?"}"):`);
    console.log(`  ${failed?.error ?? m.stderr.trim().slice(-2000)}`);
    console.log(`  stderr: ${m.stderr.trim().split("\n").slice(-4).join("\n          ")}`);
    const after = await Promise.all(lab.hosts.map(async (h) => `${h.name} ${(await srvr(h.address)).mode ?? "not serving"}`));
    const confOf = lab.hosts.find((h) => after.find((a) => a.startsWith(`${h.name} `) && !a.endsWith("not serving")));
    const conf = confOf ? await sendWord(confOf.address, 2181, "conf", 1000) : undefined;
    const members = conf?.kind === "answer" ? Object.entries(parseConf(conf.text)).filter(([k]) => k.startsWith("server.")).map(([k, v]) => `${k}=${v.replace(/;.*/, "")}`) : [];
    console.log(`  the servers afterwards: ${after.join(", ")}; ${confOf?.name ?? "none"} reports ${members.join(" ") || "no configuration"}`);
    console.log("  the migration was not resumed or retried: this is the finding.");
    process.exitCode = 1;
  } else {
    const result = JSON.parse(m.stdout);
    const conf = await sendWord(joiners[0].address, 2181, "conf", 1000);
    const members = conf.kind === "answer" ? Object.keys(parseConf(conf.text)).filter((k) => k.startsWith("server.")).sort() : [];
    const counts = await Promise.all(joiners.map(async (h) => (await srvr(h.address)).node_count));
    console.log(`\n  final: ${result.final?.verdict}, leader ${result.final?.leader}; zk4 reports ${members.join(", ")}; znodes on zk4..zk6: ${counts.join("/")}`);
  }
} finally {
  clearTimeout(giveUp);
  cleanUp();
}
