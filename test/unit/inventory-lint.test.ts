import { describe, expect, it } from "vitest";
import type { Finding } from "../../controller/inventory/findings.js";
import { lintInventory } from "../../controller/inventory/lint.js";
import { fixtureYaml, parseValid, type FixtureOptions } from "../golden/fixtures.js";

const HOSTS = [
  "  - { name: zk1, address: 127.94.0.11, myid: 1 }",
  "  - { name: zk2, address: 127.94.0.12, myid: 2 }",
  "  - { name: zk3, address: 127.94.0.13, myid: 3 }",
  "  - { name: zk4, address: 127.94.0.14, myid: 4, role: observer }",
].join("\n");

function lint(options: FixtureOptions = {}, edit: (text: string) => string = (t) => t): Finding[] {
  return lintInventory(parseValid(edit(fixtureYaml(options))));
}

const codes = (findings: Finding[]) => findings.map((f) => `${f.severity}:${f.code}`);
const withHosts = (hosts: string) => (text: string) => text.replace(HOSTS, hosts);

describe("lintInventory", () => {
  it("has nothing to say about the 3 voter + 1 observer fixture", () => {
    expect(lint()).toEqual([]);
  });

  it("warns about an even number of voters", () => {
    const findings = lint({}, (t) => t.replace("myid: 4, role: observer", "myid: 4"));
    expect(codes(findings)).toEqual(["warning:even-voters"]);
    expect(findings[0]?.message).toMatch(/4 voters survive no more failures than 3/);
    expect(findings[0]?.path).toEqual(["hosts"]);
  });

  it("warns about fewer than 3 voters and refuses an ensemble of observers only", () => {
    const two = withHosts("  - { name: zk1, address: 127.94.0.11, myid: 1 }\n  - { name: zk2, address: 127.94.0.12, myid: 2 }");
    expect(codes(lint({}, two))).toEqual(["warning:few-voters"]);
    const observers = withHosts("  - { name: zk1, address: 127.94.0.11, myid: 1, role: observer }");
    expect(codes(lint({}, observers))).toEqual(["error:no-voters"]);
  });

  it("refuses settings the chosen version does not know, saying where they exist", () => {
    const findings = lint({
      version: "3.4.13",
      extraZookeeper: ["  4lw.commands.whitelist: srvr,mntr", "  admin.enableServer: false", "  reconfigEnabled2: true", "  maxClientCnx: 10"],
    });
    const byKey = Object.fromEntries(findings.map((f) => [String(f.path[2]), f]));
    expect(byKey["4lw.commands.whitelist"]?.message).toMatch(/ZooKeeper 3\.4\.13 does not know 4lw\.commands\.whitelist: it exists in ZooKeeper 3\.8\.0/);
    expect(byKey["admin.enableServer"]?.severity).toBe("error");
    expect(byKey["maxClientCnx"]?.message).toMatch(/did you mean maxClientCnxns\?/);
    expect(byKey["reconfigEnabled2"]?.code).toBe("unknown-setting");
  });

  it("has nothing against observers on 3.4", () => {
    expect(lint({ version: "3.4.13" })).toEqual([]);
  });

  it("the same settings are fine on 3.8.0", () => {
    expect(lint({ version: "3.8.0", extraZookeeper: ["  4lw.commands.whitelist: srvr,mntr", "  admin.enableServer: false"] })).toEqual([]);
  });

  it("refuses reconfig on 3.4 and a whitelist without what zkfleet needs", () => {
    expect(codes(lint({ version: "3.4.13", reconfig: true }))).toEqual(["error:reconfig-unsupported"]);
    const findings = lint({ extraZookeeper: ["  4lw.commands.whitelist: ruok,stat"] });
    expect(codes(findings)).toEqual(["error:4lw-missing"]);
    expect(findings[0]?.message).toMatch(/add srvr, mntr/);
    expect(lint({ extraZookeeper: ['  4lw.commands.whitelist: "*"'] })).toEqual([]);
  });

  it("flags IPv6 literals in 3.4 server lines, but not behind managed names", () => {
    const v6 = (t: string) => t.replace("127.94.0.12", '"::1"');
    const findings = lint({ version: "3.4.13", hostsFile: "unmanaged" }, v6);
    expect(codes(findings)).toEqual(["error:ipv6-unsupported"]);
    expect(findings[0]).toMatchObject({ host: "zk2", path: ["hosts", 1, "address"] });
    expect(lint({ version: "3.8.0", hostsFile: "unmanaged" }, v6)).toEqual([]);
  });

  it.each([
    ["/", "error:unsafe-dir"],
    ["/var/lib", "error:unsafe-dir"],
    ["/etc/zookeeper/data", "error:unsafe-dir"],
    ["/usr", "error:unsafe-dir"],
    ["/opt/zookeeper", "error:overlapping-dirs"],
    ["/opt/zookeeper/data", "error:overlapping-dirs"],
    ["/var/log/zookeeper", "error:overlapping-dirs"],
    ["/tmp/zk", "warning:temporary-data-dir"],
  ])("data_dir %s → %s", (dataDir, expected) => {
    const findings = lint({}, (t) => t.replace("  heap_mb: 512", `  heap_mb: 512\n  data_dir: ${dataDir}`));
    expect(codes(findings)).toContain(expected);
    expect(findings.find((f) => `${f.severity}:${f.code}` === expected)?.path).toEqual(["zookeeper", "data_dir"]);
  });

  it("catches a directory holding another, whichever field it is", () => {
    const findings = lint({}, (t) => t.replace("  heap_mb: 512", "  heap_mb: 512\n  log_dir: /var/lib/zookeeper/logs"));
    expect(codes(findings)).toEqual(["error:overlapping-dirs"]);
    expect(findings[0]?.message).toMatch(/log_dir \/var\/lib\/zookeeper\/logs is inside data_dir \/var\/lib\/zookeeper/);
  });

  it("accepts a transaction log below the data dir, warns when it is the data dir", () => {
    const at = (dir: string) => (t: string) => t.replace("  heap_mb: 512", `  heap_mb: 512\n  data_log_dir: ${dir}`);
    expect(lint({}, at("/var/lib/zookeeper/txlog"))).toEqual([]);
    expect(codes(lint({}, at("/var/lib/zookeeper")))).toEqual(["warning:same-data-log-dir"]);
  });

  it("warns about settings that trade safety away, and missing purge", () => {
    const findings = lint({}, (t) =>
      t
        .replace("    autopurge.purgeInterval: 24\n", "")
        .replace("    tickTime: 2000", '    tickTime: 2000\n    forceSync: "no"\n    skipACL: "yes"\n    snapshot.trust.empty: true'),
    );
    expect(codes(findings).sort()).toEqual(["warning:no-autopurge", "warning:no-fsync", "warning:skip-acl", "warning:trust-empty-snapshot"]);
  });

  it("refuses myid 255 with TTL nodes, and electionAlg other than 3 on 3.8", () => {
    const findings = lint({ extraZookeeper: ["  extendedTypesEnabled: true", "  electionAlg: 1"] }, (t) => t.replace("myid: 3 }", "myid: 255 }"));
    expect(codes(findings)).toEqual(["error:election-alg", "error:myid-ttl"]);
    expect(findings.find((f) => f.code === "myid-ttl")?.host).toBe("zk3");
    expect(codes(lint({ version: "3.4.13", extraZookeeper: ["  electionAlg: 1"] }))).toEqual(["warning:election-alg"]);
  });

  it("lists errors before warnings", () => {
    const findings = lint({ version: "3.4.13", reconfig: true }, (t) => t.replace("myid: 4, role: observer", "myid: 4"));
    expect(codes(findings)).toEqual(["error:reconfig-unsupported", "warning:even-voters"]);
  });
});
