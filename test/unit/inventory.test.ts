import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { loadInventory } from "../../controller/inventory/load.js";
import { isKnownSetting, managedSettingOwner, ZOOKEEPER_VERSIONS } from "../../common/versions.js";
import { fixtureYaml, parseValid } from "../golden/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-inventory-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function writeInventory(text: string): string {
  const file = join(dir, `inv-${counter++}.yml`);
  writeFileSync(file, text);
  return file;
}

async function loadError(text: string): Promise<{ file: string; error: ZkfleetError }> {
  const file = writeInventory(text);
  try {
    await loadInventory(file, { homeDir: "/home/ops" });
  } catch (error) {
    expect(error).toBeInstanceOf(ZkfleetError);
    return { file, error: error as ZkfleetError };
  }
  throw new Error(`inventory was accepted:\n${text}`);
}

describe("loading a valid inventory", () => {
  it("applies defaults to everything but ensemble, version and hosts", () => {
    const inv = parseValid(
      ["ensemble: tiny", "zookeeper: { version: 3.9.3 }", "hosts:", "  - { name: zk1, address: 127.94.0.1, myid: 1 }"].join("\n"),
      "/srv/inv/tiny.yml",
      "/home/ops",
    );
    expect(inv.zookeeper).toMatchObject({
      install_dir: "/opt/zookeeper",
      data_dir: "/var/lib/zookeeper",
      log_dir: "/var/log/zookeeper",
      config_dir: "/etc/zookeeper/conf",
      client_port: 2181,
      quorum_port: 2888,
      election_port: 3888,
      admin_port: 8080,
      bind_to_address: false,
      reconfig: false,
      service: "script",
      heap_mb: 1000,
      dists: "/srv/inv/artifacts",
      config: { tickTime: "2000", initLimit: "10", syncLimit: "5" },
    });
    expect(inv.zookeeper.data_log_dir).toBeUndefined();
    expect(inv.ssh).toEqual({ user: "root", port: 22, known_hosts: "/home/ops/.ssh/known_hosts", become: false, accept_new_host_keys: false });
    expect(inv.agent).toEqual({ dir: "/opt/zkfleet", node: "node" });
    expect(inv.hosts_file).toBe("managed");
    expect(inv.hosts[0]?.role).toBe("participant");
  });

  it("expands ~ and takes relative local paths from the inventory's directory", () => {
    const text = fixtureYaml()
      .replace("hosts_file:", "ssh: { identity_file: ~/.ssh/id_zk, known_hosts: ../kh }\ntemplates: ./tpl\nhosts_file:")
      .replace("  heap_mb: 512", "  heap_mb: 512\n  dists: /abs/dists");
    const inv = parseValid(text, "/srv/inv/prod.yml", "/home/ops");
    expect(inv.ssh.identity_file).toBe("/home/ops/.ssh/id_zk");
    expect(inv.ssh.known_hosts).toBe("/srv/kh");
    expect(inv.templates).toBe("/srv/inv/tpl");
    expect(inv.zookeeper.dists).toBe("/abs/dists");
  });

  it("lays pass-through config over the defaults and stringifies values", () => {
    const inv = parseValid(fixtureYaml({ extraZookeeper: ["  initLimit: 20", "  localSessionsEnabled: true"] }));
    expect(inv.zookeeper.config).toEqual({
      tickTime: "2000",
      initLimit: "20",
      syncLimit: "5",
      "autopurge.purgeInterval": "24",
      maxClientCnxns: "100",
      localSessionsEnabled: "true",
    });
  });

  it("normalizes remote directories so comparisons are exact", () => {
    const inv = parseValid(fixtureYaml({ extraZookeeper: [] }).replace("  heap_mb: 512", "  heap_mb: 512\n  data_dir: /data//zk/"));
    expect(inv.zookeeper.data_dir).toBe("/data/zk");
  });

  it("loads the shipped example inventory", async () => {
    const inv = await loadInventory(new URL("../../inventories/example.yml", import.meta.url).pathname);
    expect(inv.ensemble).toBe("orders-zk");
    expect(inv.hosts.map((h) => h.myid)).toEqual([1, 2, 3, 10]);
  });
});

const base = fixtureYaml();
const swap = (from: string, to: string) => {
  if (!base.includes(from)) throw new Error(`fixture lacks ${from}`);
  return base.replace(from, to);
};

// Each malformed inventory with its line and message: the table in bad-input.test.ts.
describe("rejecting malformed inventories", () => {
  it("lists every problem at once, in file order", async () => {
    const text = swap("version: 3.8.0", "version: 3.8").replace("myid: 3 }", "myid: 0 }").replace("  heap_mb: 512", "  heap_mb: lots");
    const { error } = await loadError(text);
    expect(error.message).toMatch(/3 problems/);
    const lines = error.message.split("\n").slice(1);
    expect(lines[0]).toMatch(/zookeeper\.version: .*did you mean 3\.8\.0\?/);
    expect(lines[1]).toMatch(/zookeeper\.heap_mb: /);
    expect(lines[2]).toMatch(/host zk3: hosts\[2\]\.myid: /);
    expect(error.hint).toContain("zkfleet check");
    expect(Array.isArray(error.cause)).toBe(true);
  });

  it("names line and column of a YAML syntax error", async () => {
    const text = swap("  - { name: zk2, address: 127.94.0.12, myid: 2 }", "  - { name: zk2, address: 127.94.0.12, myid: 2");
    const { file, error } = await loadError(text);
    expect(error.message).toMatch(new RegExp(`${file}:\\d+:\\d+: error: YAML syntax error`));
  });

  it("says so when the file does not exist", async () => {
    const missing = join(dir, "nope.yml");
    await expect(loadInventory(missing)).rejects.toThrow(`${missing}: error: inventory file does not exist`);
  });

  it("rejects an empty file with what is expected", async () => {
    const { error } = await loadError("");
    expect(error.message).toMatch(/ensemble|mapping/);
  });

  it("rejects a missing ensemble and version", async () => {
    const { error } = await loadError(base.replace("ensemble: orders-zk\n", "").replace("  version: 3.8.0\n", ""));
    expect(error.message).toMatch(/: ensemble: missing/);
    expect(error.message).toMatch(/: zookeeper\.version: missing/);
  });
});

describe("version facts", () => {
  it("keeps 3.5+ settings away from 3.4 and prefix settings working", () => {
    expect(isKnownSetting("3.4.13", "tickTime")).toBe(true);
    expect(isKnownSetting("3.4.13", "4lw.commands.whitelist")).toBe(false);
    expect(isKnownSetting("3.8.0", "4lw.commands.whitelist")).toBe(true);
    expect(isKnownSetting("3.9.3", "ssl.keyStore.location")).toBe(true);
    expect(isKnownSetting("3.8.0", "ssl.")).toBe(false);
    expect(isKnownSetting("3.8.0", "admin.needClientAuth")).toBe(false);
    expect(isKnownSetting("3.9.3", "admin.needClientAuth")).toBe(true);
    expect(ZOOKEEPER_VERSIONS["3.4.13"].supportsReconfig).toBe(false);
    expect(ZOOKEEPER_VERSIONS["3.9.3"].hasAdminServer).toBe(true);
  });

  it("knows which zoo.cfg keys are managed", () => {
    expect(managedSettingOwner("server.12")).toBe("hosts");
    expect(managedSettingOwner("clientPort")).toBe("zookeeper.client_port");
    expect(managedSettingOwner("serverCnxnFactory")).toBeUndefined();
  });
});
