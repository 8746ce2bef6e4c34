// Adopting Debian's zookeeperd for real (its own /24): three lab hosts
// whose pid 1 is systemd get bookworm's zookeeper, zookeeperd and
// libzookeeper-java packages unpacked as dpkg would (their maintainer
// scripts' steps typed by hand: the zookeeper user, the conf alternative,
// directory owners), the other jars the package's Class-Path names taken from
// the 3.8.0 distribution built from the same Debian packages, and the server
// started the Debian way: systemctl start zookeeper, which systemd runs from
// /etc/init.d/zookeeper. Then `zkfleet adopt` must write an inventory with
// which apply plans nothing.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { defaultArtifactsDir } from "../../common/paths.js";
import { aptOptions } from "../../dists/debian.js";
import { run } from "../../dists/run.js";
import { runCli } from "../helpers/cli.js";
import { fourLetterWord, modeOf, pollUntil, sshRun, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("adopt-debian", subnet("adopt-debian"), 3, undefined, { systemd: true });
const ARTIFACTS = defaultArtifactsDir(process.env);
const PACKAGES = ["zookeeper", "zookeeperd", "libzookeeper-java"];

/** The three packages, fetched once with the bookworm apt state `zkfleet lab dists` keeps in the artifact cache. */
async function debs(): Promise<string[]> {
  const dir = join(ARTIFACTS, "debian-zookeeperd");
  mkdirSync(dir, { recursive: true });
  const have = () => PACKAGES.map((p) => readdirSync(dir).find((f) => f.startsWith(`${p}_3.8.0-`) && f.endsWith(".deb")));
  if (have().some((f) => f === undefined)) {
    await run("apt-get", [...aptOptions(join(ARTIFACTS, "apt", "bookworm")), "-q", "download", ...PACKAGES], { what: "apt-get download", cwd: dir });
  }
  return have().map((f) => join(dir, f!));
}

/** What dpkg and the maintainer scripts would do, then the Debian way of starting it. Constant but for the arguments. */
const INSTALL = `set -eu
for deb in "$@"; do dpkg-deb -x "$deb" /; done
mkdir -p /tmp/dist && tar xzf "$DIST" -C /tmp/dist --strip-components=2 --wildcards '*/lib/*.jar'
for jar in /tmp/dist/*.jar; do
  name=$(basename "$jar" | sed 's/-[0-9][0-9.]*\\.jar$/.jar/')
  case "$name" in zookeeper.jar|zookeeper-jute.jar) ;; *) cp "$jar" "/usr/share/java/$name" ;; esac
done
addgroup --system zookeeper >/dev/null
adduser --system --disabled-login --ingroup zookeeper --home /var/lib/zookeeper --gecos ZooKeeper --shell /bin/false zookeeper >/dev/null
chown zookeeper:zookeeper /var/log/zookeeper /var/lib/zookeeper
chmod o-rwx /var/lib/zookeeper
update-alternatives --install /etc/zookeeper/conf zookeeper-conf /etc/zookeeper/conf_example 5 >/dev/null
printf '%s\\n' "$MYID" > /etc/zookeeper/conf/myid
printf '%s' "$ZOOCFG" > /etc/zookeeper/conf/zoo.cfg
printf '%s' "$HOSTS" >> /etc/hosts
systemctl daemon-reload
systemctl start zookeeper
`;

function zooCfg(address: string): string {
  const servers = t.lab.hosts.map((h) => `server.${h.myid}=${h.name}:2888:3888`);
  // The lab's hosts share one network namespace: each binds its own address, and the AdminServer is off (one port 8080).
  return ["tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=/var/lib/zookeeper", "clientPort=2181",
    `clientPortAddress=${address}`, "4lw.commands.whitelist=*", "admin.enableServer=false", ...servers, ""].join("\n");
}

describe("adopting Debian's zookeeperd", () => {
  let adopted = "";
  it("a 3-server ensemble started from /etc/init.d/zookeeper under systemd is adopted exactly", async () => {
    const packages = await debs();
    const hostsLines = t.lab.hosts.map((h) => `${h.address} ${h.name}\n`).join("");
    for (const h of t.lab.hosts) {
      const env = `MYID=${h.myid} DIST=${join(ARTIFACTS, "apache-zookeeper-3.8.0-bin.tar.gz")} ZOOCFG='${zooCfg(h.address)}' HOSTS='${hostsLines}'`;
      const r = await sshRun(t.lab, h.name, `${env} sh -c '${INSTALL.replace(/'/g, `'\\''`)}' sh ${packages.join(" ")}`, 180_000);
      expect(r.code, `${h.name}: ${r.stdout}\n${r.stderr}`).toBe(0);
    }
    const serving = await pollUntil(async () => {
      const modes = await Promise.all(t.lab.hosts.map(async (h) => modeOf(await fourLetterWord(h.address, 2181, "srvr"))));
      return modes.every((m) => m !== undefined) ? modes.sort() : undefined;
    }, 120_000, 1000);
    expect(serving).toEqual(["follower", "follower", "leader"]);
    // Debian's way, as the package runs it: java from the init script, as zookeeper, in the generated unit's cgroup.
    // The unit generated from the init script knows no main pid: the JVM is the only java on the host.
    const ps = await sshRun(t.lab, "zk1", "pid=$(pgrep -x java); " +
      "ps -o user= -p \"$pid\"; tr '\\0' ' ' < /proc/$pid/cmdline; echo; grep name=systemd /proc/$pid/cgroup; systemctl show --property=SourcePath --value zookeeper.service");
    expect(ps.stdout).toMatch(/^zookeeper\n/);
    expect(ps.stdout).toContain("-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar");
    expect(ps.stdout).toMatch(/\/system\.slice\/zookeeper\.service\n\/etc\/init\.d\/zookeeper\n$/);

    const output = join(t.lab.dir, "adopted.yml");
    const adopt = await runCli(["adopt", "--ensemble", "debian", "-o", output, "--identity-file", t.lab.identityFile,
      "--known-hosts", t.lab.knownHosts, "--dists", ARTIFACTS, "--json", ...t.lab.hosts.map((h) => h.address)], t.env);
    expect(adopt.code, `${adopt.out}\n${adopt.err}`).toBe(0);
    const report = JSON.parse(adopt.out) as { exact: boolean; steps: string[]; notes: string[] };
    expect(report).toMatchObject({ exact: true, steps: [] });
    expect(report.notes.join("\n")).toContain("Debian's zookeeperd");
    const inventory = parseYaml(readFileSync(output, "utf8")) as { zookeeper: Record<string, unknown> };
    expect(inventory.zookeeper).toMatchObject({
      version: "3.8.0", preinstalled: { version: "3.8.0", home: "/usr/share/zookeeper" }, config_dir: "/etc/zookeeper/conf",
      data_dir: "/var/lib/zookeeper", service: "systemd", user: "zookeeper",
    });

    const check = await runCli(["apply", "-i", output, "--check", "--json"], t.env);
    expect(check.code, check.err).toBe(0);
    expect(JSON.parse(check.out)).toMatchObject({ steps: [] });
    adopted = output;
  }, 600_000);

  it("the first roll moves each server from the init script to zkfleet's unit, still Debian's release and config", async () => {
    expect(existsSync(adopted)).toBe(true);
    const edited = join(t.lab.dir, "adopted-heap.yml");
    // A zoo.cfg setting rolls the servers (the heap alone would wait: zookeeper-env.sh is not zkfleet's yet).
    writeFileSync(edited, readFileSync(adopted, "utf8").replace(/^zookeeper:\n/m, "zookeeper:\n  heap_mb: 256\n").replace(/^  config:\n/m, "  config:\n    maxClientCnxns: 100\n"));
    const roll = await runCli(["apply", "-i", edited, "--yes", "--json"], t.env);
    expect(roll.code, roll.err).toBe(2);
    const report = JSON.parse(roll.out);
    expect(report.final.verdict).toBe("healthy");
    expect(report.canary.total.lost).toBe(0);
    for (const h of t.lab.hosts) {
      const r = await sshRun(t.lab, h.name, "systemctl show --property=FragmentPath,ActiveState,MainPID zookeeper.service; " +
        "pid=$(systemctl show --property=MainPID --value zookeeper.service); echo \"User=$(ps -o user= -p $pid)\"; echo \"Argv=$(tr '\\0' ' ' < /proc/$pid/cmdline)\"");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("FragmentPath=/etc/systemd/system/zookeeper.service\n");
      expect(r.stdout).toContain("ActiveState=active\n");
      expect(r.stdout).toContain("User=zookeeper\n");
      // Debian's zkServer.sh and class path, zkfleet's heap from zookeeper-env.sh.
      expect(r.stdout).toMatch(/^Argv=.*-cp \/etc\/zookeeper\/conf:\/usr\/share\/java\/zookeeper\.jar .*-Xmx256m .*QuorumPeerMain \/etc\/zookeeper\/conf\/zoo\.cfg\s*$/m);
    }
    const again = await runCli(["apply", "-i", edited, "--check", "--json"], t.env);
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ steps: [], deferred: [] });
  }, 600_000);
});
