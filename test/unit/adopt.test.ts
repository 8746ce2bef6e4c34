// Adoption's pure half: from what hand-installed hosts show to the inventory
// that describes them, or the problems that prevent one. The lab test
// (test/lab/adopt.test.ts) runs the same code against real servers.
import { describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { type AdoptHost, describeAdoption, heapMb } from "../../controller/adopt/describe.js";
import { lintInventory } from "../../controller/inventory/lint.js";
import { parseInventoryText } from "../../controller/inventory/load.js";
import { adoptFacts } from "./fixtures/adopt-facts.js";

const CFG = "/opt/zookeeper/conf/zoo.cfg";
const zooCfg = (address: string, extra: string[] = []) => [
  "# The number of milliseconds of each tick",
  "tickTime=2000",
  "initLimit=10",
  "syncLimit=5",
  "dataDir=/opt/zookeeper/data",
  "dataLogDir=/opt/zookeeper/logs",
  "clientPort=2181",
  `clientPortAddress=${address}`,
  ...extra,
  "server.1=zk1:4000:5000",
  "server.2=zk2:4000:5000",
  "server.3=zk3:4000:5000",
].join("\n") + "\n";
const etcHosts = "127.0.0.1 localhost\n10.1.0.11 zk1\n10.1.0.12 zk2\n10.1.0.13 zk3\n";

function host(n: number, over: { cfg?: string; version?: string; myid?: string } = {}): AdoptHost {
  const address = `10.1.0.1${n}`;
  const facts = adoptFacts(`zk${n}`, over.myid ?? String(n), etcHosts);
  return {
    address,
    discover: {
      hostname: `zk${n}`,
      servers: [{
        pid: 100 + n, cwd: "/opt/zookeeper", started_at_ms: 1, config: CFG, home: "/opt/zookeeper",
        argv: ["java", "-Dzookeeper.log.dir=.", "-cp", "/opt/zookeeper/bin/../lib/*", "-Xmx512m",
          "org.apache.zookeeper.server.quorum.QuorumPeerMain", "/opt/zookeeper/bin/../conf/zoo.cfg"],
      }],
      configs: { [CFG]: { state: "present", content: over.cfg ?? zooCfg(address), mtime_ms: 1 } },
    },
    facts,
    server: { running: true, address: `${address}:2181`, words: { srvr: "ok" }, raw: {}, version: `${over.version ?? "3.4.13"}-abc, built on x` },
  };
}

const opts = { ensemble: "orders", installDir: "/opt/zookeeper-releases", ssh: { user: "root" } };

describe("describeAdoption", () => {
  it("describes a hand-installed ensemble (tarball in /opt/zookeeper, names in /etc/hosts, ports 4000:5000) as a valid, lint-clean inventory", () => {
    const a = describeAdoption([host(1), host(2), host(3)], opts);
    expect(a.problems).toEqual([]);
    expect(a.inventory).toMatchObject({
      ensemble: "orders", hosts_file: "managed",
      zookeeper: {
        version: "3.4.13", preinstalled: { version: "3.4.13", home: "/opt/zookeeper" }, install_dir: "/opt/zookeeper-releases",
        data_dir: "/opt/zookeeper/data", data_log_dir: "/opt/zookeeper/logs", config_dir: "/opt/zookeeper/conf",
        client_port: 2181, quorum_port: 4000, election_port: 5000, bind_to_address: true, reconfig: false, heap_mb: 512,
        config: { initLimit: "10", syncLimit: "5", tickTime: "2000" },
      },
      hosts: [{ name: "zk1", address: "10.1.0.11", myid: 1 }, { name: "zk2", address: "10.1.0.12", myid: 2 }, { name: "zk3", address: "10.1.0.13", myid: 3 }],
    });
    // Logs in the release directory cannot be zkfleet's log_dir: said, not hidden.
    expect(a.notes.some((n) => n.includes("logs to /opt/zookeeper now"))).toBe(true);
    const parsed = parseInventoryText(toYaml(a.inventory), "/tmp/adopted.yml");
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(lintInventory(parsed.inventory).filter((f) => f.severity === "error")).toEqual([]);
  });

  it("refuses, naming what to do, when a member is missing, settings differ, or versions differ", () => {
    expect(describeAdoption([host(1), host(2)], opts).problems).toEqual(["server.3 (zk3) is a member but was not given; add its address to the command"]);
    const odd = host(2, { cfg: zooCfg("10.1.0.12", ["maxClientCnxns=10"]) });
    expect(describeAdoption([host(1), odd, host(3)], opts).problems.join("\n")).toContain("10.1.0.12: zoo.cfg differs from 10.1.0.11's in maxClientCnxns");
    expect(describeAdoption([host(1), host(2, { version: "3.8.0" }), host(3)], opts).problems.join("\n")).toContain("the servers run different versions");
    expect(describeAdoption([host(1), host(2, { myid: "7" }), host(3)], opts).problems.join("\n")).toContain("its myid 7 has no server line");
    expect(describeAdoption([host(1), host(2), host(3, { version: "3.4.6" })], opts).problems.length).toBeGreaterThan(0);
  });

  it("reads -Xmx in every unit the JVM takes, the last one winning", () => {
    expect(heapMb(["-Xmx2g"])).toBe(2048);
    expect(heapMb(["-Xmx1024m", "-Xmx512M"])).toBe(512);
    expect(heapMb(["-Xmx1048576k"])).toBe(1024);
    expect(heapMb(["-Xms1g"])).toBeUndefined();
  });
});
