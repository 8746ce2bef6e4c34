// The canary through zkfleet's SSH connections, for fleets whose client
// ports are closed to the operator's machine: a configuration change rolled
// with `--canary-via ssh` keeps every acknowledged write with its clients on
// loopback forwarders, and a forwarder whose host is powered off refuses
// connections (nothing thrown) and, once the host is back, opens through the
// fleet's new connection to it. The data is read back by zkCli.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { type Server, connect, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { chooseVia, probeTcp } from "../../controller/canary/route.js";
import { forwardTcp } from "../../controller/connection/forward.js";
import { forwardHosts } from "../../controller/connection/forward-hosts.js";
import { Fleet } from "../../controller/fleet/fleet.js";
import { loadInventory } from "../../controller/inventory/load.js";
import { labFault } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { deriveInventory, useTestLab } from "../helpers/lab.js";
import { readNodes, writeNodes } from "../helpers/zkcli.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("canary-ssh", subnet("canary-ssh"));
const FORWARDER = /^127\.0\.0\.1:\d+$/;

/** What a TCP server says first (an sshd's banner), "" when the connection is closed without a word. */
function firstWords(port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let got = "";
    const done = () => {
      s.destroy();
      resolve(got);
    };
    s.setTimeout(timeoutMs, done);
    s.on("data", (d) => {
      got += String(d);
      if (got.includes("\n")) done();
    });
    s.on("close", done);
    s.on("error", done);
  });
}

describe("the canary's path", () => {
  it("auto goes direct only when every serving server answered from the controller; direct and ssh are taken as asked", () => {
    const up = { host: "zk1", endpoint: "10.0.0.1:2181" };
    const shut = { host: "zk2", endpoint: "10.0.0.2:2181", error: "no answer within 1000 ms" };
    expect(chooseVia("auto", [up, { ...up, host: "zk3" }]).via).toBe("direct");
    const auto = chooseVia("auto", [up, shut]);
    expect(auto.via).toBe("ssh");
    expect(auto.reason).toMatch(/zk2 10\.0\.0\.2:2181: no answer within 1000 ms/);
    expect(chooseVia("direct", [shut]).via).toBe("direct");
    expect(chooseVia("ssh", []).via).toBe("ssh");
  });

  it("a probe tells a listening port from a closed one", async () => {
    const server: Server = createServer((s) => s.destroy()).listen({ host: "127.0.0.1", port: 0 });
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    try {
      expect((await probeTcp("here", "127.0.0.1", port)).error).toBeUndefined();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect((await probeTcp("here", "127.0.0.1", port)).error).toBe("ECONNREFUSED");
  });
});

it("a forwarder gives up on a far end that does not open (a host gone silent) and closes the client's connection", async () => {
  const errors: unknown[] = [];
  const f = await forwardTcp(() => new Promise<never>(() => {}), { openTimeoutMs: 300, onError: (e) => errors.push(e) });
  try {
    const started = Date.now();
    expect(await firstWords(f.port)).toBe("");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(String(errors[0])).toMatch(/did not open within 300 ms/);
  } finally {
    await f.close();
  }
});

describe("canary through SSH in the lab", () => {
  it("rolls a configuration change with every canary client on a loopback forwarder: no write lost, no session expired, leader last", async () => {
    const created = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
    expect(created.code, created.err).toBe(2);
    const server = `${t.lab.hosts[0]!.address}:2181`;
    await writeNodes(server, "/kept", 20);
    const before = await readNodes(server, "/kept", 20);

    const status = JSON.parse((await runCli(["status", "-i", t.lab.inventory, "--json"], t.env)).out);
    const leader = (status.ensembles[0].hosts as { host: string; mode?: string }[]).find((h) => h.mode === "leader")!.host;
    const changed = deriveInventory(t.lab, "max-cnxns.yml", { config: { maxClientCnxns: 77 } });
    const r = await runCli(["apply", "-i", changed, "--yes", "--json", "--canary-via", "ssh"], t.env);
    expect(r.code, r.err).toBe(2);
    const out = JSON.parse(r.out);
    expect(out.final.verdict).toBe("healthy");
    const stops = (out.results as { kind: string; host: string }[]).filter((x) => x.kind === "stop").map((x) => x.host);
    expect(stops).toHaveLength(3);
    expect(stops.at(-1)).toBe(leader);

    const canary = out.canary as {
      via: string; total: { lost: number; expired: number }; clients: { label: string; connect: string; ops: number; failed: number; problem?: string }[];
    };
    expect(canary.via).toBe("ssh");
    expect(canary.total).toMatchObject({ lost: 0, expired: 0 });
    expect(canary.clients.map((c) => c.label).sort()).toEqual(["all", "zk1", "zk2", "zk3"]);
    for (const c of canary.clients) {
      // The client pinned to the server stopped first works only until that stop, which a quick roll
      // reaches within a second or two: one successful operation proves its path through the forwarder.
      expect(c.ops - c.failed, c.label).toBeGreaterThan(0);
      expect(c.problem, c.label).toBeUndefined();
      const parts = c.connect.split(",");
      expect(parts.length, c.label).toBe(c.label === "all" ? 3 : 1);
      for (const p of parts) expect(p, c.label).toMatch(FORWARDER);
    }
    // The journal's canary record says the same.
    const records = readFileSync(out.journal, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { event: string; report?: { via: string } });
    expect(records.find((x) => x.event === "canary")?.report?.via).toBe("ssh");
    expect(await readNodes(server, "/kept", 20)).toEqual(before);

    // The lab's client ports answer from here: auto goes direct, and says so.
    const auto = await runCli(["apply", "-i", deriveInventory(t.lab, "max-cnxns-78.yml", { config: { maxClientCnxns: 78 } }), "--yes"], t.env);
    expect(auto.code, auto.err).toBe(2);
    expect(auto.out).toMatch(/^canary: direct to the client ports \(every one answered from this controller\)$/m);
    expect(auto.out).toMatch(/^canary: \d+ operations, .* acknowledged writes lost 0$/m);
  }, 150_000);

  it("a host powered off: its forwarder refuses connections without throwing; powered on, it opens through the fleet's new connection", async () => {
    const victim = t.lab.hosts[2]!;
    const fleet = await Fleet.open([await loadInventory(t.lab.inventory)]);
    // Each host's own sshd, as its host dials it: an answer that needs no ZooKeeper running.
    const forwarders = await forwardHosts(fleet, t.lab.hosts.map((h) => ({ host: h.name, address: h.address, port: 22 })), { openTimeoutMs: 3000 });
    try {
      const port = (host: string) => Number(forwarders.addressOf(host).split(":")[1]);
      expect(await firstWords(port(victim.name))).toMatch(/^SSH-2\.0-/);
      const old = await fleet.connection(victim.name);

      await labFault("power-off", victim.name, t.lab.dir);
      const started = Date.now();
      expect(await firstWords(port(victim.name))).toBe("");
      expect(Date.now() - started).toBeLessThan(4000);
      // The other hosts' forwarders are untouched.
      expect(await firstWords(port(t.lab.hosts[0]!.name))).toMatch(/^SSH-2\.0-/);

      await labFault("power-on", victim.name, t.lab.dir);
      expect(await firstWords(port(victim.name))).toMatch(/^SSH-2\.0-/);
      expect(await fleet.connection(victim.name)).not.toBe(old);
    } finally {
      await forwarders.close();
      await fleet.close();
    }
  }, 60_000);
});
