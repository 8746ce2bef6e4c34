// `lab up --preinstall`: a ZooKeeper ensemble installed by hand from the
// Apache tarball, for rehearsing `zkfleet adopt`. Everything is checked from the
// outside, the way the adopting side will meet it: the real OpenSSH client,
// four-letter words, ZooKeeper's own zkCli, the processes' argv.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import { sshBanner } from "../../lab/host.js";
import { adoptCommand, labDown, labStatus, labUp, readLabState, validateLabUp } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { fourLetterWord, modeOf, sshRun, testLabDir, useTestLab } from "../helpers/lab.js";
import { readNodes, writeNodes } from "../helpers/zkcli.js";
import { addressIn, subnet } from "../helpers/subnets.js";

const SUBNET = subnet("preinstall");
const t = useTestLab("preinstall", SUBNET, 3, undefined, { preinstall: "3.4.13" });

const scratch = mkdtempSync(join(tmpdir(), "zkfleet-preinstall-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("lab up --preinstall 3.4.13", () => {
  it("records the hand-made ensemble in lab.json and writes no inventory for it", () => {
    expect(readLabState(t.dir)?.preinstalled).toEqual({
      version: "3.4.13", home: "/opt/zookeeper", config: "/opt/zookeeper/conf/zoo.cfg",
    });
    expect(existsSync(t.lab.inventory)).toBe(false);
    for (const f of ["ssh_config", "id_ed25519", "known_hosts"]) expect(existsSync(join(t.dir, f))).toBe(true);
    expect(adoptCommand(t.lab)).toBe(
      `zkfleet adopt --ensemble lab --identity-file ${t.dir}/id_ed25519 --known-hosts ${t.dir}/known_hosts ` +
        `-o ${t.dir}/inventory.yml ${SUBNET}.11 ${SUBNET}.12 ${SUBNET}.13`);
  });

  it("serves with one leader and two followers, each on its own host's address", async () => {
    const answers = await Promise.all(t.lab.hosts.map((h) => fourLetterWord(h.address, 2181, "srvr")));
    expect(answers.map((a) => modeOf(a)).sort()).toEqual(["follower", "follower", "leader"]);
    for (const a of answers) expect(a).toMatch(/^Zookeeper version: 3\.4\.13/);
  });

  it("runs each server as bin/zkServer.sh starts it, from /opt/zookeeper/conf/zoo.cfg", async () => {
    for (const h of t.lab.hosts) {
      const r = await sshRun(t.lab, h.name,
        "pid=$(cat /opt/zookeeper/data/zookeeper_server.pid) && tr '\\0' '\\n' < /proc/$pid/cmdline");
      expect(r.code).toBe(0);
      const argv = r.stdout.trim().split("\n");
      expect(argv).toContain("org.apache.zookeeper.server.quorum.QuorumPeerMain");
      expect(["/opt/zookeeper/bin/../conf/zoo.cfg", "/opt/zookeeper/conf/zoo.cfg"]).toContain(argv.at(-1));
    }
  });

  it("leaves the files a person writes, and nothing of zkfleet's", async () => {
    for (const h of t.lab.hosts) {
      const cfg = await sshRun(t.lab, h.name, "cat /opt/zookeeper/conf/zoo.cfg");
      expect(cfg.code).toBe(0);
      const lines = cfg.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^# /);
      expect(lines.filter((l) => l.startsWith("#")).length).toBeGreaterThan(5);
      expect(lines.filter((l) => l.startsWith("server."))).toEqual(
        ["server.1=zk1:4000:5000", "server.2=zk2:4000:5000", "server.3=zk3:4000:5000"]);
      expect(lines).toContain(`clientPortAddress=${h.address}`);
      // Before the server lines, in the order a person thinks of them (not sorted).
      const settings = lines.filter((l) => !l.startsWith("#")).map((l) => l.split("=")[0]);
      expect(settings.slice(0, 7)).toEqual(["tickTime", "initLimit", "syncLimit", "dataDir", "dataLogDir", "clientPort", "clientPortAddress"]);

      const hosts = await sshRun(t.lab, h.name, "cat /etc/hosts");
      for (const peer of t.lab.hosts) expect(hosts.stdout.split("\n")).toContain(`${peer.address} ${peer.name}`);
      expect(hosts.stdout).not.toMatch(/zkfleet/i);

      const rest = await sshRun(t.lab, h.name,
        "cat /opt/zookeeper/data/myid; for p in /opt/zkfleet /etc/zookeeper /opt/zookeeper/zkfleet-dist.json; do test -e $p && echo \"found $p\"; done; true");
      expect(rest).toMatchObject({ code: 0, stdout: `${h.myid}\n` });
    }
  });

  it("replicates a write made through one server to the others", async () => {
    const [zk1, zk2, zk3] = t.lab.hosts.map((h) => `${h.address}:2181`);
    await writeNodes(zk1!, "/preinstall-check", 2);
    expect(await readNodes(zk3!, "/preinstall-check", 2)).toEqual(["value-0", "value-1"]);
    expect(await readNodes(zk2!, "/preinstall-check", 2)).toEqual(["value-0", "value-1"]);
  });

  // Last: it takes the lab down.
  it("is stopped by lab down, hand-started servers included", async () => {
    const pids = (await labStatus(t.dir)).hosts.flatMap((h) => h.zookeeper.map((z) => z.pid));
    expect(pids).toHaveLength(3);
    await labDown(t.dir);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});

describe("lab up --preinstall refuses bad arguments before booting anything", () => {
  const dir = testLabDir("preinstall-refused");

  it("an unknown version", async () => {
    const err = (() => {
      try {
        validateLabUp({ hosts: 3, dir, subnet: subnet("preinstall-refused"), preinstall: "3.4.99", dists: defaultArtifactsDir(process.env) });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).source).toBe("usage");
    expect((err as ZkfleetError).hint).toMatch(/3\.4\.13, 3\.8\.0, 3\.9\.3/);

    const cli = await runCli(["lab", "up", "--hosts", "3", "--dir", dir, "--subnet", subnet("preinstall-refused"), "--preinstall", "3.4.99"]);
    expect(cli.code).toBe(3);
    expect(cli.err).toMatch(/knows no ZooKeeper 3\.4\.99/);
    expect(existsSync(dir)).toBe(false);
  });

  it("a version whose tarball is not in the artifact cache, naming `zkfleet lab dists`", async () => {
    const empty = join(scratch, "empty-dists");
    expect(() => validateLabUp({ hosts: 3, dir, subnet: subnet("preinstall-refused"), preinstall: "3.4.13", dists: empty }))
      .toThrow(/apache-zookeeper-3\.4\.13-bin\.tar\.gz does not exist/);
    const cli = await runCli(["lab", "up", "--hosts", "3", "--dir", dir, "--subnet", subnet("preinstall-refused"), "--preinstall", "3.4.13"],
      { ZKFLEET_ARTIFACTS: empty });
    expect(cli.code).toBe(3);
    expect(cli.err).toMatch(/fix: +build it first with `zkfleet lab dists --version 3\.4\.13`/);
    expect(existsSync(dir)).toBe(false);
  });

  it("--zk-version beside --preinstall", async () => {
    const cli = await runCli(["lab", "up", "--hosts", "3", "--dir", dir, "--subnet", subnet("preinstall-refused"), "--preinstall", "3.4.13", "--zk-version", "3.8.0"]);
    expect(cli.code).toBe(3);
    expect(cli.err).toMatch(/--zk-version and --preinstall together/);
    expect(existsSync(dir)).toBe(false);
  });
});

describe("a preinstall that fails part way", () => {
  it("fails the whole lab up and leaves neither hosts nor directory behind", async () => {
    const dir = testLabDir("preinstall-broken");
    if (existsSync(join(dir, "lab.json"))) await labDown(dir);
    const dists = join(scratch, "broken-dists");
    mkdirSync(dists, { recursive: true });
    writeFileSync(join(dists, "apache-zookeeper-3.4.13-bin.tar.gz"), "not a tarball\n");
    const err = await labUp({ hosts: 2, dir, subnet: subnet("preinstall-refused"), preinstall: "3.4.13", dists }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/preinstall on zk[12] \(127\.90\.1\.1[12]\): unpacking .* failed \(exit \d+\)/);
    expect(existsSync(dir)).toBe(false);
    for (const address of [addressIn("preinstall-refused", 11), addressIn("preinstall-refused", 12)]) expect(await sshBanner(address, 500)).toBe(false);
  });
});
