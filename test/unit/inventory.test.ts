import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError, exitCodeFor, ExitCode } from "../../common/errors.js";
import { loadInventory } from "../../controller/inventory/load.js";
import { isKnownSetting, managedSettingOwner, ZOOKEEPER_VERSIONS } from "../../common/versions.js";
import { fixtureYaml, lineOf, parseValid } from "../golden/fixtures.js";

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

interface BadCase {
  name: string;
  text: string;
  /** Text on the line the message must point at. */
  at?: string;
  host?: string;
  field: string;
  says: RegExp;
}

const base = fixtureYaml();
const swap = (from: string, to: string) => {
  if (!base.includes(from)) throw new Error(`fixture lacks ${from}`);
  return base.replace(from, to);
};

const badCases: BadCase[] = [
  { name: "unknown top-level key", text: swap("hosts_file: managed", "hosts_fil: managed"), at: "hosts_fil:", field: "hosts_fil", says: /unknown key "hosts_fil": did you mean hosts_file\?/ },
  { name: "unknown zookeeper key", text: swap("  heap_mb: 512", "  heapmb: 512"), at: "heapmb", field: "zookeeper.heapmb", says: /did you mean heap_mb\?/ },
  { name: "unknown host key", text: swap("myid: 2 }", "myid: 2, adress: x }"), at: "adress", host: "zk2", field: "hosts[1].adress", says: /did you mean address\?/ },
  { name: "unknown version", text: swap("version: 3.8.0", "version: 3.5.0"), at: "version:", field: "zookeeper.version", says: /unknown ZooKeeper version "3.5.0".*3\.4\.13, 3\.8\.0, 3\.9\.3/ },
  { name: "myid above 255", text: swap("myid: 3 }", "myid: 300 }"), at: "myid: 300", host: "zk3", field: "hosts[2].myid", says: /at most 255/ },
  { name: "myid not an integer", text: swap("myid: 2 }", "myid: 2.5 }"), at: "myid: 2.5", host: "zk2", field: "hosts[1].myid", says: /whole number/ },
  { name: "duplicate myid", text: swap("myid: 3 }", "myid: 1 }"), at: "name: zk3", host: "zk3", field: "hosts[2].myid", says: /myid 1 is already used by host zk1/ },
  { name: "duplicate name", text: swap("name: zk2", "name: ZK1"), at: "name: ZK1", host: "ZK1", field: "hosts[1].name", says: /already used by host zk1/ },
  { name: "duplicate address", text: swap("127.94.0.13", "127.94.0.11"), at: "name: zk3", host: "zk3", field: "hosts[2].address", says: /already used by host zk1/ },
  { name: "host name with shell metacharacters", text: swap("name: zk2", 'name: "zk2;reboot"'), at: "zk2;reboot", host: "zk2;reboot", field: "hosts[1].name", says: /valid host name/ },
  { name: "address neither IP nor name", text: swap("127.94.0.12", "127.94.0.300"), at: "127.94.0.300", host: "zk2", field: "hosts[1].address", says: /neither an IPv4 address/ },
  { name: "bracketed IPv6 address", text: swap("127.94.0.12", '"[::1]"'), at: "[::1]", host: "zk2", field: "hosts[1].address", says: /without brackets/ },
  { name: "host name address with managed hosts file", text: swap("127.94.0.12", "zk2.example.org"), at: "zk2.example.org", host: "zk2", field: "hosts[1].address", says: /hosts_file: managed.*IP address/ },
  { name: "relative data_dir", text: swap("  heap_mb: 512", "  data_dir: var/lib/zk"), at: "data_dir", field: "zookeeper.data_dir", says: /absolute path/ },
  { name: "data_dir with ..", text: swap("  heap_mb: 512", "  data_dir: /var/lib/../etc"), at: "data_dir", field: "zookeeper.data_dir", says: /'\.\.'/ },
  { name: "log_dir with shell metacharacters", text: swap("  heap_mb: 512", '  log_dir: "/var/log/$(id)"'), at: "log_dir", field: "zookeeper.log_dir", says: /shell metacharacters/ },
  { name: "port out of range", text: swap("  heap_mb: 512", "  client_port: 70000"), at: "client_port", field: "zookeeper.client_port", says: /between 1 and 65535/ },
  { name: "colliding ports", text: swap("  heap_mb: 512", "  election_port: 2888"), at: "election_port", field: "zookeeper.election_port", says: /2888 is also zookeeper.quorum_port/ },
  { name: "ssh port colliding with ZooKeeper", text: swap("myid: 2 }", "myid: 2, ssh_port: 2181 }"), at: "ssh_port", host: "zk2", field: "hosts[1].ssh_port", says: /sshd and ZooKeeper cannot share a port/ },
  { name: "config overriding a managed key", text: swap("    tickTime: 2000", "    dataDir: /elsewhere"), at: "dataDir", field: "zookeeper.config.dataDir", says: /written by zkfleet from zookeeper.data_dir/ },
  { name: "config adding a server line", text: swap("    tickTime: 2000", '    server.9: "evil:2888:3888"'), at: "server.9", field: "zookeeper.config.server.9", says: /written by zkfleet from hosts/ },
  { name: "config value with a newline", text: swap("    tickTime: 2000", '    tickTime: "2000\\nserver.9=evil:1:2"'), at: "tickTime", field: "zookeeper.config.tickTime", says: /newline/ },
  { name: "missing myid", text: swap("  - { name: zk2, address: 127.94.0.12, myid: 2 }", "  - { name: zk2, address: 127.94.0.12 }"), at: "name: zk2", host: "zk2", field: "hosts[1].myid", says: /missing/ },
  { name: "~user path", text: swap("hosts_file: managed", "ssh: { identity_file: ~bob/key }\nhosts_file: managed"), at: "identity_file", field: "ssh.identity_file", says: /not ~user/ },
];

describe("rejecting malformed inventories", () => {
  it.each(badCases)("$name", async ({ name, text, at, host, field, says }) => {
    const { file, error } = await loadError(text);
    expect(error.source).toBe("inventory");
    expect(exitCodeFor(error)).toBe(ExitCode.invalid);
    const line = error.message.split("\n").find((l) => l.includes(`: ${field}: `));
    expect(line, `no problem names field ${field} in:\n${error.message}`).toBeDefined();
    expect(line).toMatch(says);
    expect(line).toContain(`${file}:${at === undefined ? "" : `${lineOf(text, at)}:`}`);
    if (host !== undefined) expect(line).toContain(`host ${host}: `);
    if (!name.startsWith("missing")) expect(line).not.toMatch(/: missing;/);
  });

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
