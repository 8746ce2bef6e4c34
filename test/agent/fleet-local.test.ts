// A Fleet whose hosts are reached through a LocalConnection instead of SSH:
// the same observation (agent facts, managed files, the server's words) on
// this machine, in a private temp directory, with no sshd involved. And the
// ensemble lock held through it: the lease renewed in the agent session the
// run already has, acting requests fenced, and once the lock file names
// another run (a takeover, written here as the agent writes one) an acting
// request is refused by the agent and becomes LockTakenOver naming that run;
// reading still works, and releasing leaves the other run's lock alone.
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LocalConnection } from "../../controller/connection/local.js";
import { RENEW_EVERY_MS } from "../../common/lease.js";
import { LockTakenOver, acquireEnsembleLock, lockPath } from "../../controller/execute/lock.js";
import { Fleet } from "../../controller/fleet/fleet.js";
import { loadInventory } from "../../controller/inventory/load.js";
import { observeHost } from "../../controller/observe/observe.js";
import { pollUntil } from "../helpers/lab.js";
import { buildTestBundle } from "./harness.js";

let dir: string;
let bundlePath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "zkfleet-fleet-local-"));
  bundlePath = await buildTestBundle(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function localInventory() {
  const conf = join(dir, "conf");
  await mkdir(conf, { recursive: true });
  await writeFile(join(conf, "zoo.cfg"), "tickTime=2000\nserver.1=localhost:2888:3888\n");
  const invFile = join(dir, "inventory.yml");
  await writeFile(invFile, [
    "ensemble: local",
    "zookeeper:",
    "  version: 3.8.0",
    `  dists: ${dir}`,
    `  install_dir: ${join(dir, "opt")}`,
    `  data_dir: ${join(dir, "data")}`,
    `  config_dir: ${conf}`,
    `  log_dir: ${join(dir, "log")}`,
    "  client_port: 1",
    "agent:",
    `  dir: ${join(dir, "agent")}`,
    `  node: ${process.execPath}`,
    "hosts:",
    "  - { name: here, address: 127.0.0.1, myid: 1 }",
  ].join("\n") + "\n");
  return { conf, inv: await loadInventory(invFile) };
}

it("observes a host through a LocalConnection: facts, managed files and an answerless client port", async () => {
  const { conf, inv } = await localInventory();
  const connected: string[] = [];
  const fleet = await Fleet.open([inv], {
    bundlePath,
    connect: async (h) => {
      connected.push(h.key);
      return new LocalConnection({ host: h.key });
    },
  });
  try {
    const o = await observeHost(fleet, "here", { files: [join(conf, "zoo.cfg"), join(conf, "myid")], zooCfg: join(conf, "zoo.cfg"), probe: { address: "127.0.0.1", port: 1 } });
    expect(o.reachable, o.error).toBe(true);
    expect(connected).toEqual(["here"]);
    expect(o.facts?.files).toEqual({
      [join(conf, "zoo.cfg")]: { state: "present", content: "tickTime=2000\nserver.1=localhost:2888:3888\n", mtime_ms: expect.any(Number) },
      [join(conf, "myid")]: { state: "absent" },
    });
    expect(o.facts?.dynamic_config).toBeNull();
    expect(o.facts?.process?.state).toBe("absent");
    expect(o.server?.running).toBe(false);
  } finally {
    await fleet.close();
  }
});

it("runs every agent operation of a run in one agent process per host, and a fresh one after a failure", async () => {
  const { inv } = await localInventory();
  const commands: string[] = [];
  const fleet = await Fleet.open([inv], {
    bundlePath,
    connect: async (h) => {
      const conn = new LocalConnection({ host: h.key });
      const run = conn.run.bind(conn);
      conn.run = (argv, options) => {
        commands.push(argv.join(" "));
        return run(argv, options);
      };
      return conn;
    },
  });
  // The first test pushed the bundle already: every process is the agent's.
  const agents = () => commands.filter((c) => c.endsWith(".js"));
  try {
    const data_dir = join(dir, "data");
    expect((await fleet.call("here", "facts", { data_dir })).data.myid).toBeNull();
    expect((await fleet.call("here", "facts", { data_dir })).data.myid).toBeNull();
    expect(agents()).toHaveLength(1);
    const failed = await fleet.call("here", "install_dist", { tarball: join(dir, "missing.tgz"), version: "1.0", install_dir: join(dir, "opt") })
      .then(() => undefined, (e: unknown) => e);
    expect(String(failed)).toMatch(/not_found/);
    expect((await fleet.call("here", "facts", { data_dir })).data.myid).toBeNull();
    expect(agents()).toHaveLength(2);
  } finally {
    await fleet.close();
  }
});

it("renews the lease while held, fences acting requests, and stops the run once the lock names another", async () => {
  const { inv } = await localInventory();
  const fleet = await Fleet.open([inv], { bundlePath, connect: async (h) => new LocalConnection({ host: h.key }) });
  const path = lockPath(inv.agent.dir, inv.ensemble);
  const target = join(dir, "fenced", "zoo.cfg");
  const write = (content: string) => fleet.call("here", "write_file", { path: target, content, state_dir: join(dir, "state") });
  try {
    const lock = await acquireEnsembleLock(fleet, ["here"], { ensemble: inv.ensemble, agentDir: inv.agent.dir, run: "run-a", breakLock: false });
    const file = JSON.parse(await readFile(path, "utf8"));
    expect(file).toMatchObject({ run: "run-a", generation: 1, lease_ms: 45_000, process: { pid: process.pid } });
    expect((await write("tickTime=2000\n")).changed).toBe(true);

    // Made to look a minute old, the lease is stamped afresh by the next renewal.
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const renewed = await pollUntil(async () => ((await stat(path)).mtimeMs > old.getTime() + 30_000 ? true : undefined), RENEW_EVERY_MS * 4, 200);
    expect(renewed, "the lease was renewed").toBe(true);
    lock.assertHeld();

    // Another run takes the lock over, as the agent writes a takeover.
    const other = { run: "run-b", holder: "eve@elsewhere pid 9", since: "2025-02-02T02:02:02.000Z", generation: 2, token: "b".repeat(32), lease_ms: 45_000 };
    await writeFile(path, JSON.stringify(other) + "\n");
    const refused = await write("tickTime=4000\n").then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(LockTakenOver);
    expect((refused as Error).message).toBe(
      "the lock of ensemble local was taken over by run run-b (eve@elsewhere pid 9) at 2025-02-02T02:02:02.000Z; this run stopped; nothing more was changed by it");
    expect(await readFile(target, "utf8")).toBe("tickTime=2000\n");
    expect(() => lock.assertHeld()).toThrow(LockTakenOver);
    // Reading is not fenced.
    expect((await fleet.call("here", "facts", { files: [target] })).data.files[target]).toMatchObject({ content: "tickTime=2000\n" });

    await lock.release();
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ run: "run-b", token: "b".repeat(32) });
    // Released, the fleet no longer fences: a later request is the caller's own (apply holds a lock for every acting run).
    expect((await write("tickTime=2000\n")).changed).toBe(false);
  } finally {
    await fleet.close();
  }
}, 120_000);
