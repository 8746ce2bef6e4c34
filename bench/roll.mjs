// How long zkfleet takes to roll a configuration change and a version
// upgrade through a live ensemble of 3 and of 5 servers, split into the time
// ZooKeeper itself needed (each server's stop, start and sync, as the
// journalled steps measured them) and the time the controller added
// (connecting, observing, planning, gates, agent round trips). Baseline in
// the same run: the same roll done by hand as the manual rolling-restart procedure does it, one ssh per
// server (zkServer.sh stop, start) and a four-letter-word poll until the server
// follows again, followers first, the leader last.
// Run after `npm run build`:  node bench/roll.mjs [rounds]
import { execFileSync } from "node:child_process";
import { commandRunner } from "./lib.mjs";
import { connect } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";

const ROUNDS = Number(process.argv[2] ?? 3);
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-roll-"));
const env = { ...process.env };
const children = new Set();
const labs = [];

const run = (argv, { env: extra = {}, ...opts } = {}) => commandRunner({ ...env, ...extra }, children)(argv, { timeoutMs: 600_000, ...opts });
const fail = (what, r) => { throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim().slice(-3000) || r.stdout.slice(0, 2000)}`); };
const zkfleet = (...args) => run(["node", cli, ...args]);
/** zkfleet, and the CPU time its own process used (bench/cpu-at-exit.cjs), in ms. */
let timedRuns = 0;
async function zkfleetTimed(...args) {
  const file = join(work, `cpu-${timedRuns++}.json`);
  const r = await run(["node", "--require", join(root, "bench/cpu-at-exit.cjs"), cli, ...args], { env: { ZKFLEET_BENCH_CPU: file } });
  return { ...r, cpuMs: JSON.parse(readFileSync(file, "utf8")).ms };
}

function cleanUp() {
  for (const c of children) c.kill("SIGKILL");
  for (const dir of labs) {
    try { execFileSync("node", [cli, "lab", "down", "--dir", dir], { stdio: "ignore", timeout: 120_000 }); } catch { console.error(`lab down ${dir} failed`); }
  }
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => { cleanUp(); process.exit(130); });

function word(address, w, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port: 2181 });
    let out = "";
    const done = () => { sock.destroy(); resolve(out); };
    sock.setTimeout(timeoutMs, done);
    sock.on("connect", () => sock.write(w));
    sock.on("data", (d) => (out += d));
    sock.on("end", done);
    sock.on("error", done);
  });
}
const modeOf = async (address) => /^Mode: (\S+)/m.exec(await word(address, "srvr"))?.[1];

function inventory(dir, version, config) {
  const lab = parse(readFileSync(join(dir, "inventory.yml"), "utf8"));
  const file = join(work, `${lab.hosts.length}-${version}-${Object.values(config).join("-") || "base"}.yml`);
  writeFileSync(file, stringify({ ...lab, zookeeper: { ...lab.zookeeper, version, heap_mb: 256, config } }));
  return file;
}

const waitsOnZooKeeper = (result, r) => ["stop", "start"].includes(r.kind) || (r.kind === "await_healthy" && result.steps[r.index]?.role === "settle");

/**
 * A run whose controller time is far off the usual is explained, not just counted: its slowest steps that count
 * as the controller's (a gate that had to wait, a slow file write), and any canary client that could not check
 * its writes (its "lost 0" would prove nothing).
 */
function oddities(result) {
  const slow = result.results.filter((r) => !waitsOnZooKeeper(result, r) && r.ms >= 1000)
    .map((r) => `step ${r.index + 1} ${r.kind}${r.host === "*" ? "" : ` ${r.host}`} took ${r.ms} ms: ${r.message}${r.data?.waitedFor?.length ? ` (waited for ${r.data.waitedFor.join("; ")})` : ""}`);
  const unverified = (result.canary?.clients ?? []).filter((c) => c.problem).map((c) => `canary ${c.label}: ${c.problem}`);
  return [...slow, ...unverified];
}

/** From apply --json: per roll stage, what the steps that wait on ZooKeeper took. */
function split(result) {
  const steps = result.results;
  const zk = steps.filter((r) => waitsOnZooKeeper(result, r)).reduce((sum, r) => sum + r.ms, 0);
  // What clients saw: the canary on the full connect string (longest time without a successful write), all clients' failures.
  const c = result.canary?.total;
  const leaderStop = result.steps.findLast((st) => st.kind === "stop");
  const perStep = result.canary?.steps ?? [];
  const followerGaps = perStep.filter((st) => result.steps[st.index]?.kind === "stop" && result.steps[st.index] !== leaderStop).map((st) => st.longestGapMs);
  // The push (install steps, hosts in parallel): the longest, since the stage takes as long as it.
  const push = Math.max(0, ...steps.filter((r) => r.kind === "install").map((r) => r.ms));
  return { zk, push, odd: oddities(result), stages: result.stages.length, gap: c?.longestGapMs, failed: c?.failed, lost: c?.lost, expired: c?.expired, p99: c?.p99Ms,
    followerGap: followerGaps.length ? Math.max(...followerGaps) : undefined };
}

/**
 * Where the controller's time went, from the run's journal (its clock, to the millisecond): before the plan was
 * journalled (process start, SSH, agents, lock, observation, planning), between the ZooKeeper steps (gates, file
 * writes, the agent round trips between steps) and after the last record (lock release, closing, process exit).
 */
function phases(run, result, zk) {
  const recs = readFileSync(result.journal, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const before = Date.parse(recs[0].at) - run.startedAt;
  const after = run.startedAt + run.ms - Date.parse(recs.at(-1).at);
  return { before, between: run.ms - zk - before - after, after };
}

/** The manual rolling-restart procedure, by hand: ssh to each server, restart it, poll srvr until it serves; followers first, leader last. */
async function manualRoll(dir, hosts) {
  const t0 = performance.now();
  const modes = await Promise.all(hosts.map((h) => modeOf(h.address)));
  const order = hosts.map((h, i) => ({ ...h, mode: modes[i] })).sort((a, b) => (a.mode === "leader") - (b.mode === "leader"));
  for (const h of order) {
    const r = await run(["ssh", "-F", join(dir, "ssh_config"), "-o", "BatchMode=yes", h.name,
      // zkServer.sh restart forgets --config when it calls itself again, so stop then start.
      "Z=/opt/zookeeper/current/bin/zkServer.sh; $Z --config /etc/zookeeper/conf stop >/dev/null 2>&1; $Z --config /etc/zookeeper/conf start >/dev/null 2>&1"], { timeoutMs: 120_000 });
    if (r.code !== 0) fail(`manual restart ${h.name}`, r);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const m = await modeOf(h.address);
      if (m === "follower" || m === "leader") break;
      if (Date.now() > deadline) throw new Error(`${h.name} did not come back in the manual roll`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  return performance.now() - t0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;

try {
  for (const [n, subnet] of [[3, "127.76.3"], [5, "127.76.5"]]) {
    // A journal per lab: both ensembles are called lab, and apply refuses to start one where the journal says the other runs.
    env.ZKFLEET_JOURNAL = join(work, `journal-${n}`);
    const dir = `/var/tmp/zkfleet-bench/roll-${n}`;
    labs.push(dir);
    const up = await zkfleet("lab", "up", "--hosts", String(n), "--dir", dir, "--subnet", subnet);
    if (up.code !== 0) fail("lab up", up);
    const hosts = parse(readFileSync(join(dir, "inventory.yml"), "utf8")).hosts;
    const base = await zkfleet("apply", "-i", inventory(dir, "3.8.0", {}), "--yes");
    if (base.code !== 2) fail("apply", base);

    const rolls = [], bare = [], manual = [];
    for (let r = 0; r < ROUNDS; r++) {
      // Without the canary: what the controller itself adds. With it (the default): what clients saw.
      const b = await zkfleetTimed("apply", "-i", inventory(dir, "3.8.0", { maxClientCnxns: 200 + r }), "--yes", "--json", "--no-canary");
      if (b.code !== 2) fail("config roll", b);
      const bResult = JSON.parse(b.stdout);
      const bSplit = split(bResult);
      bare.push({ wall: b.ms, ...bSplit, phases: phases(b, bResult, bSplit.zk), cpuMs: b.cpuMs });
      const a = await zkfleet("apply", "-i", inventory(dir, "3.8.0", { maxClientCnxns: 100 + r }), "--yes", "--json");
      if (a.code !== 2) fail("config roll", a);
      rolls.push({ wall: a.ms, ...split(JSON.parse(a.stdout)) });
      manual.push(await manualRoll(dir, hosts));
      console.error(`  ${n} servers, round ${r + 1}: zkfleet ${s(b.ms)} (ZooKeeper ${s(bare.at(-1).zk)}, controller ${Math.round(b.ms - bare.at(-1).zk)} ms), ` +
        `with canary ${s(a.ms)}, by hand ${s(manual.at(-1))}`);
      for (const line of [...bare.at(-1).odd, ...rolls.at(-1).odd]) console.log(`${n} servers, round ${r + 1}, note: ${line}`);
    }
    // Staged first (apply --stage: the push alone, as before a window), then the upgrade itself, which then only restarts.
    const upInventory = inventory(dir, "3.9.3", { maxClientCnxns: 100 + ROUNDS - 1 });
    const staged = await zkfleet("apply", "-i", upInventory, "--stage", "--yes", "--json");
    if (staged.code !== 2) fail("apply --stage", staged);
    const up39 = await zkfleetTimed("apply", "-i", upInventory, "--yes", "--json");
    if (up39.code !== 2) fail("upgrade", up39);
    const upResult = JSON.parse(up39.stdout);
    const upSplit = split(upResult);
    const upgrade = { wall: up39.ms, stagedMs: staged.ms, ...upSplit, push: split(JSON.parse(staged.stdout)).push, phases: phases(up39, upResult, upSplit.zk), cpuMs: up39.cpuMs };

    const wall = median(bare.map((x) => x.wall)), zk = median(bare.map((x) => x.zk)), hand = median(manual);
    console.log(`${n} servers, configuration roll without canary (${ROUNDS} rounds, medians): zkfleet ${s(wall)} of which ZooKeeper stop+start+sync ${s(zk)}; ` +
      `controller added ${s(wall - zk)} (${(((wall - zk) / wall) * 100).toFixed(0)} %); with the canary ${s(median(rolls.map((x) => x.wall)))}`);
    // Per round, so that a difference of tens of milliseconds is not lost in the medians' rounding to 0.1 s.
    const added = bare.map((x) => x.wall - x.zk);
    console.log(`${n} servers, controller per round without canary: ${added.map((ms) => `${Math.round(ms)} ms`).join(", ")}; ` +
      `median ${Math.round(median(added))} ms, ${((median(added) / (median(added) + zk)) * 100).toFixed(1)} % of a roll whose ZooKeeper part is the median ${Math.round(zk)} ms`);
    const part = (k) => Math.round(median(bare.map((x) => x.phases[k])));
    console.log(`${n} servers, controller time by phase (medians): before the plan ${part("before")} ms (process start, SSH, agents, lock, observation, planning), ` +
      `between the ZooKeeper steps ${part("between")} ms (gates, file writes, agent round trips), after the last step ${part("after")} ms (lock release, closing, exit)`);
    // The added time is the controller's and the hosts' (sshd sessions, agents), all on this machine's cores; this is the controller's alone.
    const cpu = bare.map((x) => x.cpuMs);
    console.log(`${n} servers, the controller process's own CPU time per roll without canary: ${cpu.map((ms) => `${Math.round(ms)} ms`).join(", ")}; ` +
      `median ${Math.round(median(cpu))} ms, ${((median(cpu) / wall) * 100).toFixed(1)} % of the roll's wall time`);
    const gaps = rolls.map((x) => x.gap);
    console.log(`${n} servers, canary during the rolls: longest unavailability (full connect string) median ${s(median(gaps))} [${gaps.map(s).join(", ")}], ` +
      `worst follower step ${s(Math.max(...rolls.map((x) => x.followerGap ?? 0)))}; failed ops ${rolls.map((x) => x.failed).join("/")}, ` +
      `p99 ${rolls.map((x) => x.p99).join("/")} ms, sessions expired ${rolls.reduce((a, x) => a + x.expired, 0)}, acknowledged writes lost ${rolls.reduce((a, x) => a + x.lost, 0)}`);
    console.log(`${n} servers, baseline by hand (ssh stop+start + srvr poll, leader last): ${s(hand)}; ratio zkfleet/by hand ${(wall / hand).toFixed(2)}`);
    const upAdded = upgrade.wall - upgrade.zk;
    console.log(`${n} servers, upgrade 3.8.0 -> 3.9.3 staged by apply --stage in ${s(upgrade.stagedMs)} (the push ${Math.round(upgrade.push)} ms), then the upgrade ` +
      `(with the canary): ${s(upgrade.wall)} of which ZooKeeper ${s(upgrade.zk)}; controller added ${Math.round(upAdded)} ms (${((upAdded / upgrade.wall) * 100).toFixed(0)} %); ` +
      `canary: longest unavailability ${s(upgrade.gap)}, expired ${upgrade.expired}, lost ${upgrade.lost}`);
    const ph = upgrade.phases;
    console.log(`${n} servers, upgrade, controller time by phase: before the plan ${Math.round(ph.before)} ms, between the ZooKeeper steps ${Math.round(ph.between)} ms ` +
      `(the canary's start and final check among them), after the last record ${Math.round(ph.after)} ms; ` +
      `the controller process's own CPU time ${Math.round(upgrade.cpuMs)} ms (${((upgrade.cpuMs / upgrade.wall) * 100).toFixed(1)} %; its canary clients are processes of their own)`);
    for (const line of upgrade.odd) console.log(`${n} servers, upgrade, note: ${line}`);
  }
} finally {
  cleanUp();
}
