// A server that does not come back on a new configuration or a new release
// is put back automatically (previous files, previous release), the run
// halts with the ensemble at quorum, and the servers after it are never
// touched.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:net";
import { join } from "node:path";
import { expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { labStatus } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { sshRun, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("undo", subnet("undo"));

function derive(name: string, zk: Record<string, unknown>): string {
  const path = join(t.lab.dir, name);
  const inv = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { zookeeper: Record<string, unknown> };
  writeFileSync(path, toYaml({ ...inv, zookeeper: { ...inv.zookeeper, ...zk } }));
  return path;
}

const zkPids = async () => Object.fromEntries((await labStatus(t.lab.dir)).hosts.map((h) => [h.name, h.zookeeper.map((z) => z.pid)]));
const zooCfgs = async () => Object.fromEntries(await Promise.all(t.lab.hosts.map(async (h) => [h.name, (await sshRun(t.lab, h.name, "cat /etc/zookeeper/conf/zoo.cfg")).stdout] as const)));

async function expectHaltedAfterFirst(r: { code: number; out: string; err: string }, before: { pids: Record<string, number[]>; cfgs: Record<string, string> }) {
  expect(r.code, r.err).toBe(4);
  expect(r.err).toMatch(/failed: [\s\S]*put back on its previous release and configuration and serves again; the run halted, servers after it were not touched/);
  const first = /^ stage 1\/\d+: (?:roll|upgrade) (\S+) /m.exec(r.out)?.[1] ?? / stage 2\/\d+: (?:roll|upgrade) (\S+) /.exec(r.out)?.[1];
  expect(first, r.out).toBeDefined();
  const status = JSON.parse((await runCli(["status", "-i", t.lab.inventory, "--json"], t.env)).out);
  expect(status.ensembles[0].verdict).toBe("healthy");
  const pids = await zkPids();
  const cfgs = await zooCfgs();
  for (const h of t.lab.hosts) {
    expect(cfgs[h.name], h.name).toBe(before.cfgs[h.name]);
    // The first server was restarted (twice); every other one still runs the very same process.
    if (h.name !== first) expect(pids[h.name], h.name).toEqual(before.pids[h.name]);
  }
}

it("a configuration the server cannot start with: that server is put back, the run halts, the others untouched", async () => {
  const first = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(first.code, first.err).toBe(2);
  const before = { pids: await zkPids(), cfgs: await zooCfgs() };
  // A metrics provider class that does not exist: 3.8 refuses to boot with it.
  const broken = derive("broken-config.yml", { config: { "metricsProvider.className": "org.example.NoSuchProvider" } });
  const r = await runCli(["apply", "-i", broken, "--yes", "--settle-timeout", "20"], t.env);
  await expectHaltedAfterFirst(r, before);
}, 240_000);

it("a release that does not start: that server goes back to the release it ran, the run halts, the others untouched", async () => {
  // A "3.9.3" whose zkServer.sh fails: pushed everywhere, tried on one server only.
  const dists = join(t.lab.dir, "broken-dists");
  const root = join(dists, "stage", "apache-zookeeper-3.9.3-bin");
  mkdirSync(join(root, "bin"), { recursive: true });
  writeFileSync(join(root, "bin", "zkServer.sh"), "#!/bin/sh\necho 'this release is broken on purpose' >&2\nexit 1\n", { mode: 0o755 });
  execFileSync("tar", ["-czf", join(dists, "apache-zookeeper-3.9.3-bin.tar.gz"), "-C", join(dists, "stage"), "apache-zookeeper-3.9.3-bin"]);
  const before = { pids: await zkPids(), cfgs: await zooCfgs() };
  const broken = derive("broken-release.yml", { version: "3.9.3", dists });
  const r = await runCli(["apply", "-i", broken, "--yes", "--settle-timeout", "20"], t.env);
  await expectHaltedAfterFirst(r, before);
  for (const h of t.lab.hosts) {
    expect((await sshRun(t.lab, h.name, "readlink /opt/zookeeper/current")).stdout.trim(), h.name).toBe("releases/3.8.0");
  }
}, 240_000);

/** Listens on a lab host's election port (its address is this machine's loopback); rejects while the port is taken. */
function holdElectionPort(address: string): Promise<Server> {
  // The other servers dial a peer's election port: turned away at once, they are no connection to wait for.
  const server = createServer((peer) => peer.destroy());
  return new Promise((resolve, reject) => server.once("error", reject).listen({ host: address, port: 3888 }, () => resolve(server)));
}

/**
 * Takes the first election port a stopped server frees (lab hosts' addresses are this machine's loopback), so that
 * the server cannot bind it when it starts again, and gives it back once the run starts putting that server back.
 * Bounded: it lets go after 90 s whatever happens.
 */
function takeFreedElectionPort(addresses: readonly string[], journalDir: string) {
  let held: { address: string; server: Server } | undefined;
  let taking = false;
  let released = false;
  const release = () => {
    if (held && !released) held.server.close();
    released = true;
  };
  const undoStarted = () => {
    const dir = join(journalDir, "lab");
    const newest = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort().at(-1) : undefined;
    return newest !== undefined && readFileSync(join(dir, newest), "utf8").includes('"event":"undo-start"');
  };
  const tick = setInterval(() => {
    if (held) {
      if (undoStarted()) release();
      return;
    }
    if (taking) return;
    taking = true;
    void Promise.all(addresses.map(async (address) => {
      const server = held ? undefined : await holdElectionPort(address).catch(() => undefined);
      if (server && held) server.close();
      else if (server) held = { address, server };
    })).finally(() => (taking = false));
  }, 10);
  const stop = () => {
    clearInterval(tick);
    release();
    return held?.address;
  };
  const limit = setTimeout(stop, 90_000);
  return { stop: () => (clearTimeout(limit), stop()) };
}

it("a server that exits after its start (its election port taken): its agent is asked within seconds, not after the check's two minutes, and it is put back", async () => {
  // A running ensemble, whatever ran before: the port is taken from the first server the roll stops.
  const up = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect([0, 2], up.err).toContain(up.code);
  const before = { pids: await zkPids(), cfgs: await zooCfgs() };
  const change = derive("exits.yml", { config: { maxClientCnxns: 77 } });
  const port = takeFreedElectionPort(t.lab.hosts.map((h) => h.address), t.env.ZKFLEET_JOURNAL!);
  // The check's own timeout stays at two minutes: only the agent's word can end it sooner.
  const r = await runCli(["apply", "-i", change, "--yes"], t.env).finally(() => port.stop());
  expect(r.err).toMatch(/ZooKeeper on zk\d exited after its start: nothing has listened on \S+'s client port for \d+s; its agent finds stale pid file .*: process \d+ is gone/);
  await expectHaltedAfterFirst(r, before);
}, 240_000);

it("a server that was down and exits after apply starts it: the run stops within seconds, saying so, and the others are untouched", async () => {
  const up = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect([0, 2], up.err).toContain(up.code);
  const zk1 = t.lab.hosts.find((h) => h.name === "zk1")!;
  await sshRun(t.lab, "zk1", "/opt/zookeeper/current/bin/zkServer.sh --config /etc/zookeeper/conf stop");
  const before = await zkPids();
  // zk1's election port, free now that its server is stopped, held by this test (lab addresses are this machine's loopback).
  const holder = await holdElectionPort(zk1.address);
  let r: Awaited<ReturnType<typeof runCli>>;
  try {
    r = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
  expect(r.code, r.err).toBe(4);
  expect(r.err).toMatch(/ZooKeeper on zk1 exited after its start: nothing has listened on \S+'s client port for \d+s; its agent finds stale pid file .*: process \d+ is gone/);
  const after = await zkPids();
  for (const name of ["zk2", "zk3"]) expect(after[name], name).toEqual(before[name]);
  // With its port back, the next apply starts it and the ensemble is whole.
  const again = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
  expect(again.code, again.err).toBe(2);
  const status = JSON.parse((await runCli(["status", "-i", t.lab.inventory, "--json"], t.env)).out);
  expect(status.ensembles[0].verdict).toBe("healthy");
}, 240_000);

it("a plan that cannot finish before the deadline is refused before anything is touched; a closed window is bad input", async () => {
  const before = { pids: await zkPids(), cfgs: await zooCfgs() };
  const change = derive("deadline.yml", { config: { maxClientCnxns: 99 } });
  const soon = new Date(Date.now() + 2_000).toISOString();
  const r = await runCli(["apply", "-i", change, "--yes", "--deadline", soon], t.env);
  expect(r.code, r.err).toBe(5);
  expect(r.err).toMatch(/the plan needs about \d+ min, the window closes in \d+ min .*; nothing was changed/);
  expect(await zkPids()).toEqual(before.pids);
  expect(await zooCfgs()).toEqual(before.cfgs);
  const hour = (new Date().getHours() + 2) % 24;
  const closed = await runCli(["apply", "-i", change, "--yes", "--window", `${String(hour).padStart(2, "0")}:00-${String(hour).padStart(2, "0")}:30`], t.env);
  expect(closed.code, closed.err).toBe(3);
  expect(closed.err).toMatch(/--window: the window .* is not open now; it opens at/);
}, 120_000);
