// What clients feel while one server of a 3-server ensemble restarts, and
// what shortens it (issue 7): how the server is stopped (SIGTERM as zkfleet's
// stop does, SIGKILL, zkServer.sh stop), the clients' session timeout,
// closing a server's client connections before it stops (JMX
// terminateConnection: 3.8/3.9 have no drain command), and handing
// leadership to a synced follower before the leader restarts (reconfig
// -remove, restart, reconfig -add). Each is compared with the plain case
// measured in the same run, in interleaved rounds.
//
// Client side and server side are measured apart, because the `zookeeper`
// package (the canary's client) waits a third of its session timeout once it
// reaches the end of its server list, so the gap a client feels is not the
// time the ensemble could not serve:
// - eight clients on the full connect string, each in its own process,
//   setting its znode and reading it back every 50 ms: six (one per order of
//   the three servers) moved onto the server that is restarted, where it
//   stands first, in the middle or last in their lists, and one new client
//   on each other server; longest gap between successful operations, failed
//   operations, disconnects, expiries;
// - `srvr` on every server every 50 ms (how long no leader served with a
//   follower, how long the restarted server was not serving), and a session
//   created and closed on every server every 50 ms over ZooKeeper's wire
//   protocol (how long no write could be committed anywhere).
//
// Run after `npm run build`, as root:  node bench/unavailability.mjs [reps] [filter]
// (filter: a regular expression matched against "VERSION CASE", e.g. "3.9.3" or "leader").
// Labs on 127.93.0 (3.8.0) and 127.93.1 (3.9.3) in /var/tmp/zkfleet-bench/;
// everything it started is stopped by pid and the labs brought down at the
// end, on Ctrl-C or on its own time limit too. BENCH_JSON=prefix keeps the raw figures.
import { execFileSync, spawn } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parse, stringify } from "yaml";
import { cleanUpOnAbort, commandRunner } from "./lib.mjs";

const REPS = Number(process.argv[2] ?? 4);
const FILTER = new RegExp(process.argv[3] ?? ".");
const TIME_LIMIT_MS = 30 * 60_000;
const root = new URL("..", import.meta.url).pathname;
const cli = join(root, "bin/zkfleet.js");
const clientScript = join(root, "bench/unavailability-client.mjs");
const work = mkdtempSync(join(tmpdir(), "zkfleet-bench-unavail-"));
const env = { ...process.env, ZKFLEET_JOURNAL: join(work, "journal") };
const children = new Set();
const labs = [];
const run = (argv, opts = {}) => commandRunner(env, children)(argv, { timeoutMs: 120_000, ...opts });
const fail = (what, r) => { throw new Error(`${what} failed (exit ${r.code}):\n${(r.stderr.trim() || r.stdout).slice(-3000)}`); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const log = (...a) => console.error(...a);

let cleaned = false;
function cleanUp() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) c.kill("SIGKILL");
  for (const dir of labs) {
    try { execFileSync("node", [cli, "lab", "down", "--dir", dir], { stdio: "ignore", timeout: 120_000 }); } catch { log(`lab down ${dir} failed`); }
  }
  rmSync(work, { recursive: true, force: true });
}
const cancelDeadline = cleanUpOnAbort(cleanUp, TIME_LIMIT_MS);

// ---------------------------------------------------------------- lab

const PIDFILE = "/var/lib/zookeeper/zookeeper_server.pid";
const ZK = "/opt/zookeeper/current/bin/zkServer.sh";
const CLI = "/opt/zookeeper/current/bin/zkCli.sh";
// As zkfleet's start op runs it (agent/ops/start.ts): the pid file pinned where stop looks for it.
const START = `ZOOPIDFILE=${PIDFILE} ZOO_LOG_DIR=/var/log/zookeeper ${ZK} --config /etc/zookeeper/conf start >/dev/null 2>&1 || { echo START FAILED; exit 1; }`;
const stamp = (label) => `echo "${label} $(date +%s%3N)"`;
// SIGTERM, then wait for the process to be gone (polled every 100 ms as agent/ops/stop.ts does, SIGKILL after 30 s).
const STOP_TERM = `P=$(cat ${PIDFILE}); ${stamp("signal")}; kill -TERM $P; i=0; while [ -d /proc/$P ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; ` +
  `[ -d /proc/$P ] && kill -KILL $P; j=0; while [ -d /proc/$P ] && [ $j -lt 100 ]; do sleep 0.1; j=$((j+1)); done; ${stamp("gone")}; rm -f ${PIDFILE}`;
const STOP_KILL = `P=$(cat ${PIDFILE}); ${stamp("signal")}; kill -KILL $P; j=0; while [ -d /proc/$P ] && [ $j -lt 100 ]; do sleep 0.1; j=$((j+1)); done; ${stamp("gone")}; rm -f ${PIDFILE}`;
// The manual rolling-restart procedure's way: zkServer.sh stop sends SIGTERM, removes the pid file and sleeps 1 s without waiting for the process.
const STOP_SCRIPT = `${stamp("signal")}; ${ZK} --config /etc/zookeeper/conf stop >/dev/null 2>&1; ${stamp("gone")}`;

async function labUp(subnet, version) {
  const dir = `/var/tmp/zkfleet-bench/unavail-${subnet.split(".").at(-1)}`;
  labs.push(dir);
  const up = await run(["node", cli, "lab", "up", "--hosts", "3", "--dir", dir, "--subnet", subnet]);
  if (up.code !== 0) fail("lab up", up);
  const lab = parse(readFileSync(join(dir, "inventory.yml"), "utf8"));
  const file = join(work, `${version}.yml`);
  // skipACL lets zkCli run reconfig without a super digest: the simplest authorisation for a bench, never for production.
  writeFileSync(file, stringify({
    ...lab, ensemble: `unavail-${version.replaceAll(".", "")}`,
    zookeeper: { ...lab.zookeeper, version, heap_mb: 256, reconfig: true, config: { skipACL: "yes", "4lw.commands.whitelist": "*" } },
  }));
  const applied = await run(["node", cli, "apply", "-i", file, "--yes", "--no-canary"], { timeoutMs: 300_000 });
  if (applied.code !== 2) fail("apply", applied);
  const hosts = lab.hosts.map((h) => ({ name: h.name, address: h.address, id: h.myid }));
  const ssh = async (host, script, timeoutMs = 90_000) => {
    const r = await run(["ssh", "-F", join(dir, "ssh_config"), "-o", "BatchMode=yes", host.name, script], { timeoutMs });
    return { ...r, stamps: Object.fromEntries([...r.stdout.matchAll(/^(\w+) (\d{13})$/gm)].map((m) => [m[1], Number(m[2])])) };
  };
  return { dir, version, hosts, ssh };
}

function word(address, w, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port: 2181 });
    let out = "";
    const done = (extra = "") => { sock.destroy(); resolve(out + extra); };
    sock.setTimeout(timeoutMs, () => done("\n#timeout"));
    sock.on("connect", () => sock.write(w));
    sock.on("data", (d) => (out += d));
    sock.on("end", () => done());
    sock.on("error", (e) => done(`\n#${e.code}`));
  });
}
async function modeOf(address, timeoutMs) {
  const out = await word(address, "srvr", timeoutMs);
  const m = /^Mode: (\S+)/m.exec(out)?.[1];
  if (m) return m;
  if (/not currently serving/.test(out)) return "notserving";
  return /#(\w+)/.exec(out)?.[1] ?? "none";
}

/**
 * Creates a session on the server and closes it again, in ZooKeeper's wire
 * protocol: both are transactions the leader must commit, so a probe that
 * succeeds proves the ensemble commits writes through that server. Unlike a
 * client library it has no back-off of its own, so a probe every 50 ms sees
 * the server side alone.
 */
function sessionProbe(address, timeoutMs) {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port: 2181 });
    let buf = Buffer.alloc(0);
    let granted = false;
    const done = () => { sock.destroy(); resolve(granted); };
    sock.setTimeout(timeoutMs, done);
    sock.on("connect", () => {
      // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (16 bytes), readOnly.
      const req = Buffer.alloc(4 + 45);
      req.writeInt32BE(45, 0); req.writeInt32BE(4000, 16); req.writeInt32BE(16, 28);
      sock.write(req);
    });
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (granted || buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) {
        if (granted) done();
        return;
      }
      // ConnectResponse: protocolVersion, timeOut, sessionId, ...; a zero timeout or session id means none was granted.
      if (buf.length < 20 || buf.readInt32BE(8) <= 0 || buf.readBigInt64BE(12) === 0n) return done();
      granted = true;
      resolve(true);
      // closeSession (xid 1, type -11), so that probes do not pile up sessions; its reply ends the probe.
      const close = Buffer.alloc(12);
      close.writeInt32BE(8, 0); close.writeInt32BE(1, 4); close.writeInt32BE(-11, 8);
      sock.write(close);
    });
    sock.on("close", done);
    sock.on("error", done);
  });
}
/** A probe loop per server, each every 50 ms: when the sessions it asked for were granted. */
function startProbes(lab) {
  let stopped = false;
  const granted = [];
  const loops = lab.hosts.map(async (h) => {
    while (!stopped) {
      const t = now();
      if (await sessionProbe(h.address, 3000)) granted.push(now());
      await sleep(Math.max(0, 50 - (now() - t)));
    }
  });
  return { granted, stop: async () => { stopped = true; await Promise.all(loops); } };
}
const serves = (m) => m === "leader" || m === "follower";

/** srvr on every server every 50 ms, in rounds; each round remembers when it started. */
function startPoller(lab) {
  const rounds = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const t = now();
      const modes = await Promise.all(lab.hosts.map((h) => modeOf(h.address, 300)));
      rounds.push({ t, modes });
      await sleep(Math.max(0, 50 - (now() - t)));
    }
  })();
  return { rounds, latest: () => rounds.at(-1), stop: async () => { stopped = true; await done; } };
}
async function until(what, pred, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(25);
  }
}
const quorumServes = (r) => r.modes.includes("leader") && r.modes.includes("follower");

// ---------------------------------------------------------------- clients

const ORDERS = [[0, 1, 2], [0, 2, 1], [1, 2, 0], [1, 0, 2], [2, 0, 1], [2, 1, 0]];
let clientSerial = 0;

async function startClients(lab, sessionTimeoutMs, orders) {
  const clients = orders.map((order) => {
    const config = {
      connect: order.map((i) => `${lab.hosts[i].address}:2181`).join(","), sessionTimeoutMs, intervalMs: 50,
      path: `/zkfleet-bench-unavail-${process.pid}-${++clientSerial}`, deterministic: true, maxRunMs: 180_000,
    };
    const child = spawn(process.execPath, [clientScript, JSON.stringify(config)], { stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    let stderr = "";
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-1000)));
    const c = { order, child, sid: undefined, last: 0 };
    const lines = createInterface({ input: child.stdout });
    c.ready = new Promise((resolve, reject) => {
      c.final = new Promise((fin) => {
        lines.on("line", (line) => {
          let msg;
          try { msg = JSON.parse(line); } catch { return; }
          if (msg.type === "ready") { c.sid = msg.sid; resolve(); }
          else if (msg.type === "last") c.last = msg.t;
          else if (msg.type === "sid") c.sid = msg.sid;
          else if (msg.type === "error") reject(new Error(msg.message));
          else if (msg.type === "final") fin(msg);
        });
        child.on("exit", (code, signal) => {
          children.delete(child);
          const problem = `client exited (${signal ?? code}) ${stderr.trim().split("\n").at(-1) ?? ""}`;
          reject(new Error(problem));
          fin({ problem });
        });
      });
    });
    return c;
  });
  await Promise.race([Promise.all(clients.map((c) => c.ready)), sleep(30_000).then(() => { throw new Error("clients did not connect within 30 s"); })]);
  return clients;
}
async function stopClients(clients) {
  for (const c of clients) if (c.child.stdin.writable) c.child.stdin.end("stop\n");
  return Promise.all(clients.map((c) => Promise.race([c.final, sleep(15_000).then(() => { c.child.kill("SIGKILL"); return { problem: "no report within 15 s" }; })])));
}
/** Which server holds each client's session, from `cons` (the session id is the client's). */
async function placeClients(lab, clients) {
  const cons = await Promise.all(lab.hosts.map((h) => word(h.address, "cons", 2000)));
  for (const c of clients) {
    const i = cons.findIndex((out) => out.includes(`sid=0x${c.sid}`));
    c.server = i >= 0 ? lab.hosts[i].name : undefined;
  }
}
/** Waits until every client has succeeded after `since` (bounded: a client may be waiting a third of its session timeout). */
async function clientsRecovered(clients, since, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const c of clients) if (c.child.stdin.writable) c.child.stdin.write("last\n");
    await sleep(100);
    if (clients.every((c) => c.last > since)) return true;
  }
  return false;
}

function clientFigures(final, from, to, phases) {
  if (!final.ops) return { problem: final.problem };
  const ok = final.ops.filter((o) => o.ok).map((o) => o.t1).sort((a, b) => a - b);
  let last = ok.filter((t) => t <= from).at(-1) ?? from;
  let gap = 0, gapFrom = last;
  const byPhase = {};
  const note = (start, len) => {
    const phase = phases ? phases.findLast((p) => p.t <= start)?.name ?? phases[0].name : "all";
    byPhase[phase] = Math.max(byPhase[phase] ?? 0, len);
  };
  for (const t of ok) {
    if (t <= from) continue;
    if (t > to) break;
    note(last, t - last);
    if (t - last > gap) { gap = t - last; gapFrom = last; }
    last = t;
  }
  if (to - last > gap) { gap = to - last; gapFrom = last; }
  const inWindow = (x) => x.t >= from && x.t <= to;
  return {
    gap, gapFrom, byPhase,
    failed: final.ops.filter((o) => !o.ok && o.t0 >= from && o.t0 <= to).length,
    disconnects: final.events.filter((e) => e.kind === "disconnected" && inWindow(e)).length,
    expired: final.events.filter((e) => e.kind === "expired" && inWindow(e)).length,
  };
}
/** Longest time between two granted sessions anywhere, over the window. */
function longestWithout(times, from, to) {
  const ts = [...times].sort((a, b) => a - b);
  let last = ts.filter((t) => t <= from).at(-1) ?? from, worst = 0;
  for (const t of ts) {
    if (t <= from) continue;
    if (t > to) break;
    worst = Math.max(worst, t - last);
    last = t;
  }
  return Math.max(worst, to - last);
}
/** Longest stretch of rounds where `good` is false: from the first bad round to the next good one. */
function longestBad(rounds, good, from, to) {
  let worst = 0, start = null;
  for (const r of rounds) {
    if (r.t < from - 100 || r.t > to) continue;
    if (!good(r)) start ??= r.t;
    else if (start !== null) { worst = Math.max(worst, r.t - start); start = null; }
  }
  if (start !== null) worst = Math.max(worst, to - start);
  return worst;
}

// ---------------------------------------------------------------- actions

async function roles(lab) {
  const modes = await Promise.all(lab.hosts.map((h) => modeOf(h.address, 2000)));
  const leader = lab.hosts[modes.indexOf("leader")];
  const followers = lab.hosts.filter((_, i) => modes[i] === "follower");
  if (!leader || followers.length !== 2) throw new Error(`ensemble not healthy before a case: ${modes.join(", ")}`);
  return { leader, followers };
}
let followerTurn = 0;
const pickFollower = (r) => r.followers[followerTurn++ % r.followers.length];

async function restart(lab, host, stop, before = "") {
  const r = await lab.ssh(host, `${stop}; ${before}${START}; ${stamp("started")}`);
  if (r.code !== 0 || !r.stamps.started) fail(`restart ${host.name}`, r);
  return r.stamps;
}
const countLooking = async (lab, host) => Number((await lab.ssh(host, "grep -c 'QuorumPeer@[0-9]*\\] - LOOKING' /var/log/zookeeper/zookeeper.log || true")).stdout.trim() || 0);
const lastElection = async (lab, host) => /ELECTION TOOK - (\d+) MS/.exec((await lab.ssh(host, "grep 'ELECTION TOOK' /var/log/zookeeper/zookeeper.log | tail -1")).stdout)?.[1];

// Closes client connections of a server through its JMX connection beans
// (all, or those of the sessions listed), `rounds` times `pauseMs` apart:
// the session survives and its client moves on along its list. 3.8 and 3.9
// have no four-letter word or AdminServer command that does this (cons
// lists, crst only resets counters).
const DROP_JAVA = `
import com.sun.tools.attach.VirtualMachine;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
public class Drop {
  public static void main(String[] args) throws Exception {
    VirtualMachine vm = VirtualMachine.attach(args[0]);
    String address = vm.startLocalManagementAgent();
    vm.detach();
    int rounds = Integer.parseInt(args[1]);
    java.util.Set<String> only = args.length > 3 ? new java.util.HashSet<>(java.util.Arrays.asList(args[3].split(","))) : null;
    try (JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(address))) {
      MBeanServerConnection s = c.getMBeanServerConnection();
      int n = 0;
      for (int round = 0; round < rounds; round++) {
        if (round > 0) Thread.sleep(Long.parseLong(args[2]));
        for (ObjectName o : s.queryNames(new ObjectName("org.apache.ZooKeeperService:*"), null)) {
          // Client connections only: the learners' connections to the leader are Learner_Connections.
          if (!o.getKeyPropertyList().containsValue("Connections") || o.getKeyPropertyList().size() < 6) continue;
          if (only != null && !only.contains(o.getKeyProperty("name5"))) continue;
          try {
            s.invoke(o, "terminateConnection", null, null);
            n++;
          } catch (javax.management.InstanceNotFoundException gone) {
            // Closed meanwhile (the bench's session probes come and go).
          }
        }
      }
      System.out.println("terminated " + n);
    }
  }
}`;
const DROP_DIR = "/tmp/zkfleet-bench-drop";
async function compileDrop(lab) {
  await Promise.all(lab.hosts.map(async (h) => {
    // The runner gives ssh no stdin: the source travels in the command line.
    const r = await lab.ssh(h, `mkdir -p ${DROP_DIR} && echo ${Buffer.from(DROP_JAVA).toString("base64")} | base64 -d > ${DROP_DIR}/Drop.java && javac -d ${DROP_DIR} ${DROP_DIR}/Drop.java`, 120_000);
    if (r.code !== 0) fail(`javac on ${h.name}`, r);
  }));
}
async function drop(lab, host, rounds = 1, pauseMs = 0, sessions = []) {
  const r = await lab.ssh(host, `java -cp ${DROP_DIR} Drop $(cat ${PIDFILE}) ${rounds} ${pauseMs} ${sessions.map((sid) => `0x${sid}`).join(",")}`, 60_000);
  if (r.code !== 0) fail(`dropping the connections of ${host.name}`, r);
  return Number(/terminated (\d+)/.exec(r.stdout)?.[1] ?? 0);
}

/**
 * Moves clients' sessions onto `target`, so that it stands first in some
 * clients' lists, in the middle or last in others'. A new client starts on
 * the first server of its list, but a long-lived one may sit anywhere in it,
 * and the place matters: the client library fails over at once from the
 * first or middle server of its list but waits a third of its session
 * timeout when the last one goes (see the README). A client dropped by its
 * server moves on along its list, so clients elsewhere are dropped until
 * they reach `target`, but never from the last server of their list (that
 * would cost the wait); those left elsewhere are the other servers' clients.
 */
async function bringTo(lab, clients, target) {
  const ti = lab.hosts.indexOf(target);
  const place = (c) => c.order.indexOf(lab.hosts.findIndex((h) => h.name === c.server));
  for (const c of clients) { c.dropped = 0; c.path = []; }
  const due = (c) => !c.stay && c.server && c.server !== target.name && place(c) !== 2 && c.dropped < 4;
  for (let round = 0; round < 6; round++) {
    await placeClients(lab, clients);
    for (const c of clients) c.path.push(c.server ?? "-");
    if (!clients.some(due)) break;
    await Promise.all(lab.hosts.map(async (h) => {
      const here = clients.filter((c) => due(c) && c.server === h.name);
      if (here.length === 0) return;
      await drop(lab, h, 1, 0, here.map((c) => c.sid));
      for (const c of here) c.dropped += 1;
    }));
    await sleep(150);
  }
  // A client in its back-off lands later.
  for (let i = 0; i < 100 && clients.some((c) => !c.server); i++) { await sleep(200); await placeClients(lab, clients); }
  if (process.env.BENCH_DEBUG) log(`  placed on ${target.name}: ${clients.map((c) => `${c.order.join("")}: ${c.path.join(">")}>${c.server}`).join(", ")}`);
  // Seen now and then after a closed connection: the client never reconnects (no error, no retry for 20 s and more). It is left out of the figures and counted.
  for (const stuck of clients.filter((c) => !c.server)) log(`  a client stuck after a dropped connection: ${stuck.order.join("")} (session ${stuck.sid}), path ${stuck.path.join(">")}`);
  for (const c of clients) c.group = !c.server ? "stuck" : c.server === target.name ? ["first", "middle", "last"][c.order.indexOf(ti)] : "other";
}

// ---------------------------------------------------------------- one repetition

/**
 * Clients up and on the target, poller and probes up, the action, wait until
 * the ensemble serves with the restarted server and every client has
 * succeeded again, then the figures.
 */
async function measure(lab, spec) {
  const r = await roles(lab);
  const target = spec.role === "leader" ? r.leader : pickFollower(r);
  const ti = lab.hosts.indexOf(target);
  // The six orders are moved onto the target; two more clients, one new on each other server, stay where they are.
  const stay = lab.hosts.map((_, i) => i).filter((i) => i !== ti).map((i) => [i, ti, 3 - i - ti]);
  const clients = await startClients(lab, spec.sessionTimeoutMs, [...ORDERS, ...stay]);
  clients.forEach((c, i) => { c.stay = i >= ORDERS.length; });
  let rep;
  let looking = [];
  try {
    await bringTo(lab, clients, target);
    const poller = startPoller(lab);
    const probes = startProbes(lab);
    looking = spec.role === "leader" ? await Promise.all(lab.hosts.filter((h) => h !== target).map((h) => countLooking(lab, h))) : [];
    await sleep(600);
    const from = now();
    let info = {};
    try {
      info = (await spec.action(lab, target, r, clients)) ?? {};
      await until(`${target.name} serving again`, () => { const x = poller.latest(); return serves(x.modes[ti]) && quorumServes(x); }, 90_000);
      info.recovered = await clientsRecovered(clients.filter((c) => c.group !== "stuck"), now(), spec.sessionTimeoutMs / 2 + 5_000);
      await sleep(500);
    } finally {
      await Promise.all([poller.stop(), probes.stop()]);
    }
    const to = now();
    const finals = await stopClients(clients);
    rep = {
      target: target.name, role: spec.role, ...info, from,
      clients: finals.map((f, i) => ({
        ...clientFigures(f, from, to, info.phases), order: clients[i].order.join(""), group: clients[i].group,
        events: f.events?.filter((e) => e.t >= from && e.t <= to).map((e) => ({ ...e, t: Math.round(e.t - from) })),
      })),
      leaderless: longestBad(poller.rounds, quorumServes, from, to),
      noSession: longestWithout(probes.granted, from, to),
      targetDown: longestBad(poller.rounds, (x) => serves(x.modes[ti]), from, to),
    };
    if (process.env.BENCH_JSON) {
      rep.rounds = poller.rounds.map((x) => ({ t: Math.round(x.t - from), modes: x.modes.join(",") }));
      rep.granted = probes.granted.map((t) => Math.round(t - from));
    }
  } finally {
    for (const c of clients) if (c.child.exitCode === null && !c.child.stdin.writableEnded) c.child.stdin.end("stop\n");
  }
  if (spec.role === "leader") {
    const others = lab.hosts.filter((h) => h !== target);
    const after = await Promise.all(others.map((h) => countLooking(lab, h)));
    rep.lookingOnOthers = after.reduce((n, x, i) => n + x - looking[i], 0);
    const newLeader = (await roles(lab)).leader;
    rep.electionMs = await lastElection(lab, newLeader);
    rep.newLeader = newLeader.name;
  }
  return rep;
}

// ---------------------------------------------------------------- cases

const restartWith = (stop) => async (lab, target) => ({ stamps: await restart(lab, target, stop) });

/**
 * The clients' connections to the server closed until none of their sessions
 * is on it (a client can come back to it), then zkfleet's stop. Closing every
 * connection there would also close the bench's own session probes.
 */
async function drainThenStop(lab, target, _r, clients) {
  const phases = [{ name: "drain", t: now() }];
  let dropped = 0, tries = 0;
  for (; tries < 10; tries++) {
    await placeClients(lab, clients);
    const here = clients.filter((c) => c.server === target.name);
    // A client in its back-off has no server yet: wait for it to land somewhere.
    if (here.length === 0 && clients.every((c) => c.server)) break;
    if (here.length) dropped += await drop(lab, target, 1, 0, here.map((c) => c.sid));
    await sleep(500);
  }
  phases.push({ name: "restart", t: now() });
  await placeClients(lab, clients);
  return { dropped, tries, left: clients.filter((c) => c.server === target.name).length, phases, stamps: await restart(lab, target, STOP_TERM) };
}

/**
 * reconfig -remove the leader: it commits under the old and the new
 * configuration and a synced follower is designated leader. As soon as that
 * one serves, the old leader is stopped (it would linger as a leader that no
 * longer commits until it notices it lost its followers), started again from
 * its previous dynamic file and, once it follows, reconfig -add brings it back.
 */
async function handoff(lab, leader, r) {
  const other = r.followers[0];
  const conf = await word(other.address, "conf", 2000);
  const line = new RegExp(`^server\\.${leader.id}=(.*)$`, "m").exec(conf)?.[1];
  if (!line) throw new Error(`no server.${leader.id} line in conf of ${other.name}`);
  const dyn = (await lab.ssh(leader, "sed -n 's/^dynamicConfigFile=//p' /etc/zookeeper/conf/zoo.cfg")).stdout.trim();
  if (!dyn) throw new Error(`${leader.name}: zoo.cfg names no dynamicConfigFile (is reconfig on?)`);
  const li = lab.hosts.indexOf(leader);
  const phases = [{ name: "handoff", t: now() }];
  // Asked of a follower: the answer can still be lost when that follower drops its clients for the new leader, so ZooKeeper's own view decides.
  const removing = lab.ssh(other, `${CLI} -server ${other.address}:2181 reconfig -remove ${leader.id} 2>&1 | grep -c 'Committed new configuration' || true`);
  let handedTo;
  await untilAsync(`a new leader without ${leader.name} in its configuration`, async () => {
    const modes = await Promise.all(lab.hosts.map((h) => modeOf(h.address, 500)));
    const nl = modes.findIndex((m, i) => m === "leader" && i !== li);
    if (nl < 0 || !modes.some((m, i) => m === "follower" && i !== li)) return false;
    if (new RegExp(`^server\\.${leader.id}=`, "m").test(await word(lab.hosts[nl].address, "conf", 1000))) return false;
    handedTo = lab.hosts[nl].name;
    return true;
  }, 30_000);
  phases.push({ name: "restart", t: now() });
  // Removed, it is absent from its own dynamic file and would not boot ("My id N not in the peer list"): it starts from
  // its previous file (the last configuration plus itself, the documented way to join) and adopts the current one from the leader.
  const stamps = await restart(lab, leader, STOP_TERM, `test -f ${dyn} && sed -i 's|^dynamicConfigFile=.*|dynamicConfigFile=${dyn}|' /etc/zookeeper/conf/zoo.cfg; `);
  const removeAck = (await removing).stdout.trim() === "1";
  await untilAsync(`${leader.name} following again`, async () => (await modeOf(leader.address, 500)) === "follower", 90_000);
  phases.push({ name: "add", t: now() });
  const add = await lab.ssh(other, `${CLI} -server ${other.address}:2181 reconfig -add 'server.${leader.id}=${line}' 2>&1 | grep -c 'Committed new configuration' || true`);
  await untilAsync(`${leader.name} a voter again`, async () => {
    const modes = await Promise.all(lab.hosts.map((h) => modeOf(h.address, 500)));
    const nl = modes.indexOf("leader");
    return nl >= 0 && new RegExp(`^server\\.${leader.id}=.*participant`, "m").test(await word(lab.hosts[nl].address, "conf", 1000));
  }, 30_000);
  return { phases, stamps, handedTo, removeAck, addAck: add.stdout.trim() === "1" };
}
async function untilAsync(what, pred, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(50);
  }
}

const S10 = 10_000;
const CASES = [
  { id: "1-follower-sigterm", role: "follower", sessionTimeoutMs: S10, how: "SIGTERM, wait for exit (zkfleet)", action: restartWith(STOP_TERM) },
  { id: "1-follower-sigkill", base: "1-follower-sigterm", role: "follower", sessionTimeoutMs: S10, how: "SIGKILL", action: restartWith(STOP_KILL) },
  { id: "1-follower-zkserver-stop", base: "1-follower-sigterm", role: "follower", sessionTimeoutMs: S10, how: "zkServer.sh stop (SIGTERM, sleep 1)", action: restartWith(STOP_SCRIPT) },
  { id: "2-leader-sigterm", role: "leader", sessionTimeoutMs: S10, how: "SIGTERM, wait for exit (zkfleet)", action: restartWith(STOP_TERM) },
  { id: "2-leader-sigkill", base: "2-leader-sigterm", role: "leader", sessionTimeoutMs: S10, how: "SIGKILL", action: restartWith(STOP_KILL) },
  { id: "3-follower-session-4s", base: "1-follower-sigterm", role: "follower", sessionTimeoutMs: 4_000, how: "SIGTERM; clients' session timeout 4 s", action: restartWith(STOP_TERM) },
  { id: "3-follower-session-30s", base: "1-follower-sigterm", role: "follower", sessionTimeoutMs: 30_000, how: "SIGTERM; clients' session timeout 30 s", action: restartWith(STOP_TERM) },
  { id: "3-leader-session-4s", base: "2-leader-sigterm", role: "leader", sessionTimeoutMs: 4_000, how: "SIGTERM; clients' session timeout 4 s", action: restartWith(STOP_TERM) },
  { id: "3-leader-session-30s", base: "2-leader-sigterm", role: "leader", sessionTimeoutMs: 30_000, how: "SIGTERM; clients' session timeout 30 s", action: restartWith(STOP_TERM) },
  { id: "4-follower-drain-then-sigterm", base: "1-follower-sigterm", role: "follower", sessionTimeoutMs: S10, how: "JMX terminateConnection on every connection, then SIGTERM", action: drainThenStop },
  { id: "5-leader-handoff", base: "2-leader-sigterm", role: "leader", sessionTimeoutMs: S10, how: "reconfig -remove, SIGTERM restart once the new leader serves, reconfig -add", action: handoff },
];
// 3.9.3 where it matters: the plain cases and the handoff, whose protocol is the part that changed between releases.
const PLAN = [
  { subnet: "127.93.0", version: "3.8.0", cases: CASES.map((c) => c.id) },
  { subnet: "127.93.1", version: "3.9.3", cases: ["1-follower-sigterm", "2-leader-sigterm", "5-leader-handoff"] },
];

// ---------------------------------------------------------------- report

const median = (xs) => { const s = xs.filter((x) => x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : undefined; };
const max = (xs) => { const s = xs.filter((x) => x !== undefined && !Number.isNaN(x)); return s.length ? Math.max(...s) : undefined; };
const sec = (ms) => (ms === undefined ? "-" : (ms / 1000).toFixed(2));
const ratio = (a, b) => (a === undefined || !b ? "-" : (a / b).toFixed(2));

function summarize(reps) {
  const all = reps.flatMap((r) => r.clients.filter((c) => c.gap !== undefined && c.group !== "stuck"));
  const gaps = (g) => all.filter((c) => c.group === g).map((c) => c.gap);
  return {
    all, first: median(gaps("first")), firstMax: max(gaps("first")), middle: median(gaps("middle")), middleMax: max(gaps("middle")),
    last: median(gaps("last")), lastMax: max(gaps("last")), other: median(gaps("other")), otherMax: max(gaps("other")),
    groups: ["first", "middle", "last", "other"].map((g) => all.filter((c) => c.group === g).length).join("/") +
      (reps.some((r) => r.clients.some((c) => c.group === "stuck")) ? ` (+${reps.reduce((n, r) => n + r.clients.filter((c) => c.group === "stuck").length, 0)} stuck)` : ""),
    over1s: `${all.filter((c) => c.gap > 1000).length}/${all.length}`,
    failed: median(all.map((c) => c.failed)), disconnects: median(all.map((c) => c.disconnects)),
    expired: all.reduce((n, c) => n + c.expired, 0), lost: reps.reduce((n, r) => n + r.clients.filter((c) => c.problem && c.group !== "stuck").length, 0),
    stopMs: median(reps.map((r) => r.stamps && r.stamps.gone - r.stamps.signal)),
    leaderless: median(reps.map((r) => r.leaderless)), leaderlessMax: max(reps.map((r) => r.leaderless)),
    noSession: median(reps.map((r) => r.noSession)), noSessionMax: max(reps.map((r) => r.noSession)),
    targetDown: median(reps.map((r) => r.targetDown)), targetDownMax: max(reps.map((r) => r.targetDown)),
  };
}

function report(version, results) {
  const out = [];
  out.push(`\nZooKeeper ${version}, 3 servers, reconfig on (reconfig authorised by skipACL=yes), ${REPS} reps x 8 clients; seconds, median / max`);
  out.push("| case | how | client gap: session on the restarted server, first in the client's list | in the middle | last | session on another server | clients first/middle/last/other | clients with a gap > 1 s | failed ops / client | disconnects / client | expired | stop took | no serving leader (srvr) | no session granted anywhere (probe) | restarted server not serving | ratio to plain: gap first / middle / last, no session |");
  out.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const c of CASES) {
    const reps = results[c.id];
    if (!reps?.length) continue;
    const s = summarize(reps);
    const b = c.base && results[c.base]?.length ? summarize(results[c.base]) : undefined;
    out.push(`| ${c.id} | ${c.how} | ${sec(s.first)} / ${sec(s.firstMax)} | ${sec(s.middle)} / ${sec(s.middleMax)} | ${sec(s.last)} / ${sec(s.lastMax)} | ${sec(s.other)} / ${sec(s.otherMax)} | ${s.groups} | ${s.over1s} | ${s.failed ?? "-"} | ${s.disconnects ?? "-"} | ` +
      `${s.expired}${s.lost ? ` (${s.lost} without a report)` : ""} | ${sec(s.stopMs)} | ${sec(s.leaderless)} / ${sec(s.leaderlessMax)} | ${sec(s.noSession)} / ${sec(s.noSessionMax)} | ` +
      `${sec(s.targetDown)} / ${sec(s.targetDownMax)} | ${c.base ? `${[ratio(s.first, b?.first), ratio(s.middle, b?.middle), ratio(s.last, b?.last)].join(" / ")}, ${ratio(s.noSession, b?.noSession)}` : "plain"} |`);
  }
  for (const c of CASES.filter((x) => x.role === "leader" && results[x.id]?.length)) {
    const reps = results[c.id];
    out.push(`${c.id}: LOOKING on the other two servers per rep ${reps.map((r) => r.lookingOnOthers).join("/")}; ` +
      // Without a LOOKING round the new leader went from following to leading, and its "election took" line measures nothing.
      `election on the new leader ${reps.map((r) => (r.lookingOnOthers === 0 ? "none" : `${r.electionMs} ms`)).join("/")}` +
      (c.id === "5-leader-handoff" ? `; handed to ${reps.map((r) => r.handedTo).join("/")}; worst client gap per phase (median s): ` +
        ["handoff", "restart", "add"].map((p) => `${p} ${sec(median(reps.flatMap((r) => r.clients.map((x) => x.byPhase?.[p] ?? 0))))}`).join(", ") +
        `; zkCli saw the reply to ${reps.filter((r) => r.removeAck).length}/${reps.length} removes, ${reps.filter((r) => r.addAck).length}/${reps.length} adds` : ""));
  }
  const drained = results["4-follower-drain-then-sigterm"];
  if (drained?.length) {
    out.push(`4-follower-drain-then-sigterm: connections closed ${drained.map((r) => r.dropped).join("/")} in ${drained.map((r) => r.tries).join("/")} tries, clients left on the server when it was stopped ${drained.map((r) => r.left).join("/")}; ` +
      `worst client gap (median s) while draining ${sec(median(drained.flatMap((r) => r.clients.map((x) => x.byPhase?.drain ?? 0))))}, ` +
      `while stopping ${sec(median(drained.flatMap((r) => r.clients.map((x) => x.byPhase?.restart ?? 0))))}`);
  }
  return out.join("\n");
}

// ---------------------------------------------------------------- main

try {
  for (const p of PLAN) {
    const cases = CASES.filter((c) => p.cases.includes(c.id) && FILTER.test(`${p.version} ${c.id}`));
    if (cases.length === 0) continue;
    const t0 = Date.now();
    const lab = await labUp(p.subnet, p.version);
    await compileDrop(lab);
    log(`ZooKeeper ${p.version}: lab ${lab.dir} up and applied in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const results = {};
    // Interleaved rounds: every case once per round, so that drift of a shared machine touches all cases alike.
    for (let rep = 0; rep < REPS; rep++) {
      for (const c of cases) {
        const r = await measure(lab, c);
        (results[c.id] ??= []).push(r);
        const s = summarize([r]);
        log(`  ${p.version} ${c.id} #${rep + 1} (${r.target}): client gaps ${r.clients.map((x) => `${x.group} ${sec(x.gap)}`).join(", ")}; ` +
          `leaderless ${sec(r.leaderless)} s, no session ${sec(r.noSession)} s, server down ${sec(r.targetDown)} s, failed ${s.all.map((x) => x.failed).join(",")}, expired ${s.expired}` +
          (r.role === "leader" ? `, LOOKING on the others ${r.lookingOnOthers}` : "") + (r.recovered === false ? ", SOME CLIENT DID NOT RECOVER" : ""));
      }
    }
    if (process.env.BENCH_JSON) writeFileSync(`${process.env.BENCH_JSON}.${p.version}.json`, JSON.stringify(results, null, 1));
    console.log(report(p.version, results));
    execFileSync("node", [cli, "lab", "down", "--dir", lab.dir], { stdio: "ignore", timeout: 120_000 });
    labs.splice(labs.indexOf(lab.dir), 1);
  }
} finally {
  cancelDeadline();
  cleanUp();
}
