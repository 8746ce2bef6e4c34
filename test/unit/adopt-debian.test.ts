// Adopting Debian's zookeeperd (bookworm's 3.8.0-11+deb12u2, read from the
// .deb files): the init script runs java -cp /etc/zookeeper/conf:
// /usr/share/java/zookeeper.jar as user zookeeper, the config behind the
// /etc/zookeeper/conf alternatives link (to conf_example), and under systemd
// the unit generated from /etc/init.d/zookeeper is zookeeper.service. What
// discover reports of such a server is written out here; describeAdoption
// (pure) must make an inventory of it, or say why not.
import { describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { type AdoptHost, describeAdoption } from "../../controller/adopt/describe.js";
import { lintInventory } from "../../controller/inventory/lint.js";
import { parseInventoryText } from "../../controller/inventory/load.js";
import { classPathOf, isDebianClassPath } from "../../agent/ops/discover.js";
import { unitOfCgroup } from "../../agent/systemd.js";
import { adoptFacts } from "./fixtures/adopt-facts.js";

const REAL_CFG = "/etc/zookeeper/conf_example/zoo.cfg";
const zooCfg = ["tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=/var/lib/zookeeper", "clientPort=2181",
  "server.1=zk1:2888:3888", "server.2=zk2:2888:3888", "server.3=zk3:2888:3888", ""].join("\n");
const etcHosts = "127.0.0.1 localhost\n10.2.0.11 zk1\n10.2.0.12 zk2\n10.2.0.13 zk3\n";
/** /etc/init.d/zookeeper's start-stop-daemon command line, with the JMX options its start case adds. */
const ARGV = ["/usr/bin/java", "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar", "-Dcom.sun.management.jmxremote",
  "-Dcom.sun.management.jmxremote.local.only=true", "-Dzookeeper.log.dir=/var/log/zookeeper", "-Dzookeeper.root.logger=INFO,ROLLINGFILE",
  "org.apache.zookeeper.server.quorum.QuorumPeerMain", "/etc/zookeeper/conf/zoo.cfg"];

function debianHost(n: number, over: { unit?: string | null; user?: string } = {}): AdoptHost {
  const address = `10.2.0.1${n}`;
  const facts = adoptFacts(`zk${n}`, String(n), etcHosts);
  return {
    address,
    discover: {
      hostname: `zk${n}`,
      servers: [{
        pid: 200 + n, cwd: "/", started_at_ms: 1, argv: ARGV, config: REAL_CFG, config_given: "/etc/zookeeper/conf/zoo.cfg",
        home: "/usr/share/zookeeper", layout: "debian", unit: over.unit === undefined ? "zookeeper.service" : over.unit, user: over.user ?? "zookeeper",
      }],
      configs: { [REAL_CFG]: { state: "present", content: zooCfg, mtime_ms: 1 } },
    },
    facts,
    server: { running: true, address: `${address}:2181`, words: { srvr: "ok" }, raw: {}, version: "3.8.0-11+deb12u2, built on x" },
  };
}

const opts = { ensemble: "debian", installDir: "/opt/zookeeper-releases", ssh: { user: "root" } };
const three = (over: Parameters<typeof debianHost>[1] = {}) => [1, 2, 3].map((n) => debianHost(n, over));

describe("adopting Debian's zookeeperd", () => {
  it("recognises the init script's class path, and the generated unit from the cgroup", () => {
    expect(isDebianClassPath(ARGV)).toBe(true);
    expect(isDebianClassPath(["java", "-cp", "/opt/zookeeper/lib/zookeeper-3.8.0.jar:/opt/zookeeper/conf", "org.apache.zookeeper.server.quorum.QuorumPeerMain"])).toBe(false);
    expect(isDebianClassPath(["java", "org.apache.zookeeper.server.quorum.QuorumPeerMain"])).toBe(false);
    expect(unitOfCgroup("1:name=systemd:/system.slice/zookeeper.service\n")).toBe("zookeeper.service");
  });

  it("under systemd: the packaged release where it lies, the link's name as config_dir, service systemd as user zookeeper", () => {
    const a = describeAdoption(three(), opts);
    expect(a.problems).toEqual([]);
    expect(a.inventory).toMatchObject({
      zookeeper: {
        version: "3.8.0", preinstalled: { version: "3.8.0", home: "/usr/share/zookeeper" }, install_dir: "/opt/zookeeper-releases",
        config_dir: "/etc/zookeeper/conf", data_dir: "/var/lib/zookeeper", log_dir: "/var/log/zookeeper", service: "systemd", user: "zookeeper",
      },
    });
    const notes = a.notes.join("\n");
    expect(notes).toContain("run under zkfleet's /etc/systemd/system/zookeeper.service");
    expect(notes).toContain("alternatives link (now to /etc/zookeeper/conf_example)");
    expect(notes).toContain("JAVA_OPTS");
    expect(notes).toContain("apt-mark hold");
    const parsed = parseInventoryText(toYaml(a.inventory), "/tmp/debian.yml");
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(lintInventory(parsed.inventory).filter((f) => f.severity === "error")).toEqual([]);
  });

  it("refuses it outside systemd, under another unit name, or with the servers split between managers", () => {
    expect(describeAdoption(three({ unit: null }), opts).problems.join("\n")).toMatch(/Debian's zookeeperd runs here outside systemd.*does not take/);
    expect(describeAdoption(three({ unit: "zk.service" }), opts).problems.join("\n")).toMatch(/run under systemd's zk\.service; zkfleet manages a unit named zookeeper\.service/);
    const mixed = [debianHost(1), debianHost(2, { unit: null }), debianHost(3)];
    expect(describeAdoption(mixed, opts).problems.join("\n")).toMatch(/different systemd units \(10\.2\.0\.11: zookeeper\.service, 10\.2\.0\.12: none/);
  });

  it("a hand-installed release under a unit of that name is adopted as service: systemd too, as root without a user key", () => {
    const hosts = three({ user: "root" }).map((h) => ({
      ...h, discover: { ...h.discover, servers: h.discover.servers.map((s) => ({ ...s, layout: null, home: "/opt/zookeeper", config_given: null })) },
    }));
    const a = describeAdoption(hosts, opts);
    expect(a.problems).toEqual([]);
    expect(a.inventory?.zookeeper).toMatchObject({ service: "systemd", preinstalled: { home: "/opt/zookeeper" }, config_dir: "/etc/zookeeper/conf_example" });
    expect(a.inventory?.zookeeper).not.toHaveProperty("user");
    expect(a.notes.join("\n")).not.toContain("Debian");
  });
});

describe("a java command line's class path", () => {
  it("is read after -cp, -classpath or --class-path, and is empty without one (never the java binary itself)", () => {
    expect(classPathOf(["java", "-cp", "/opt/zk/lib/*:/opt/zk/conf", "Main"])).toEqual(["/opt/zk/lib/*", "/opt/zk/conf"]);
    expect(classPathOf(["java", "-Xmx1g", "-classpath", "/opt/zk/zookeeper.jar", "Main"])).toEqual(["/opt/zk/zookeeper.jar"]);
    expect(classPathOf(["java", "--class-path", "a.jar::b.jar", "Main"])).toEqual(["a.jar", "b.jar"]);
    expect(classPathOf(["/usr/bin/java", "-jar", "zk.jar"])).toEqual([]);
  });
});
