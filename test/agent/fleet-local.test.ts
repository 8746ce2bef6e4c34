// A Fleet whose hosts are reached through a LocalConnection instead of SSH:
// the same observation (agent facts, managed files, the server's words) on
// this machine, in a private temp directory, with no sshd involved.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LocalConnection } from "../../controller/connection/local.js";
import { Fleet } from "../../controller/fleet.js";
import { loadInventory } from "../../controller/inventory/load.js";
import { observeHost } from "../../controller/observe.js";
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
