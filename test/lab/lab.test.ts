// The lab against real sshd, real namespaces and real ZooKeeper servers.
import { copyFileSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabState, labDown, labFault, labStatus, labUp } from "../../lab/lab.js";
import { ensureDists } from "../../dists/dists.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import { ZkfleetError } from "../../common/errors.js";
import { fourLetterWord, modeOf, pollUntil, sshRun, testLabDir } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const DIR = testLabDir("lab-test");
const SUBNET = subnet("lab");
let lab: LabState;

function labProcesses(dir: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

beforeAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  lab = await labUp({ hosts: 3, dir: DIR, subnet: SUBNET });
});

afterAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
});

describe("lab hosts", () => {
  it("come up with their own address, sshd, hostname and pid namespace", async () => {
    const status = await labStatus(DIR);
    expect(status.hosts.map((h) => [h.name, h.address, h.power, h.sshd])).toEqual([
      ["zk1", `${SUBNET}.11`, "on", "listening"],
      ["zk2", `${SUBNET}.12`, "on", "listening"],
      ["zk3", `${SUBNET}.13`, "on", "listening"],
    ]);
    for (const h of lab.hosts) {
      const r = await sshRun(lab, h.name, "hostname; echo $$; ps -e -o pid= | wc -l");
      expect(r.code).toBe(0);
      const [hostname, , count] = r.stdout.trim().split("\n");
      expect(hostname).toBe(h.name);
      // Only the host's own few processes are visible, not the machine's.
      expect(Number(count)).toBeLessThan(10);
    }
  });

  it("accept the controller identity with strict host-key checking, and refuse an unknown host key", async () => {
    const ok = await sshRun(lab, "zk1", "true");
    expect(ok.code).toBe(0);
    const { execFile } = await import("node:child_process");
    const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile("ssh", ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null", "-i", lab.identityFile,
        `root@${lab.hosts[0]!.address}`, "true"], (err, _o, stderr) =>
        resolve({ code: err ? (err as { code?: number }).code ?? -1 : 0, stderr }));
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Host key verification failed/);
  });

  it("each see their own /etc/hosts and can rename files under /etc, leaving the machine's /etc alone", async () => {
    const machineHosts = readFileSync("/etc/hosts", "utf8");
    const w = await sshRun(lab, "zk1",
      "echo '10.9.9.9 only-on-zk1' >> /etc/hosts && echo a > /etc/zkfleet-rename-test && mv /etc/zkfleet-rename-test /etc/zkfleet-renamed && cat /etc/zkfleet-renamed");
    expect(w).toMatchObject({ code: 0, stdout: "a\n" });
    const z1 = await sshRun(lab, "zk1", "cat /etc/hosts");
    const z2 = await sshRun(lab, "zk2", "cat /etc/hosts; ls /etc/zkfleet-renamed 2>&1 || true");
    expect(z1.stdout).toContain("only-on-zk1");
    expect(z1.stdout).toContain(`${SUBNET}.11\tzk1`);
    expect(z2.stdout).not.toContain("only-on-zk1");
    expect(z2.stdout).toContain(`${SUBNET}.12\tzk2`);
    expect(z2.stdout).toMatch(/No such file/);
    expect(readFileSync("/etc/hosts", "utf8")).toBe(machineHosts);
    expect(existsSync("/etc/zkfleet-renamed")).toBe(false);
  });

  it("have private /opt, /root and /var/lib/zookeeper, and node to run the agent", async () => {
    await sshRun(lab, "zk1", "touch /opt/mine-zk1 /var/lib/zookeeper/mine-zk1 /root/mine-zk1");
    const r = await sshRun(lab, "zk2", "ls -a /opt /var/lib/zookeeper /root; node --version");
    expect(r.stdout).not.toContain("mine-zk1");
    expect(r.stdout).toMatch(/^v\d+\./m);
    expect(existsSync("/opt/mine-zk1")).toBe(false);
    expect(existsSync("/root/mine-zk1")).toBe(false);
  });
});

/** Starts a 3-server ensemble of `version` by hand (the manual install from the tarball), returns each server's mode. */
async function startEnsemble(version: string, tarball: string): Promise<Map<string, string>> {
  const v34 = version.startsWith("3.4");
  const hostsLines = lab.hosts.map((h) => `${h.address} ${h.name}`).join("\\n");
  for (const h of lab.hosts) {
    // The host's /opt is this directory on the machine; the checkout itself may be hidden from the host.
    copyFileSync(tarball, join(h.dir, "disk", "opt", "zk.tgz"));
    const cfg = [
      "tickTime=1000", "initLimit=10", "syncLimit=5", "dataDir=/var/lib/zookeeper", "clientPort=2181",
      `clientPortAddress=${h.address}`,
      ...lab.hosts.map((o) => `server.${o.myid}=${o.name}:2888:3888`),
      ...(v34 ? [] : ["4lw.commands.whitelist=*", "admin.enableServer=false"]),
    ].join("\\n");
    const script = [
      "set -e",
      `printf '${hostsLines}\\n' >> /etc/hosts`,
      `rm -rf /opt/zk && mkdir -p /opt/zk && tar -xzf /opt/zk.tgz -C /opt/zk --strip-components=1`,
      "mkdir -p /etc/zookeeper/conf && cp /opt/zk/conf/log4j.properties /etc/zookeeper/conf/",
      `printf '${cfg}\\n' > /etc/zookeeper/conf/zoo.cfg`,
      `rm -rf /var/lib/zookeeper/* && echo ${h.myid} > /var/lib/zookeeper/myid`,
      "ZOO_LOG_DIR=/var/log/zookeeper /opt/zk/bin/zkServer.sh --config /etc/zookeeper/conf start",
    ].join("\n");
    const r = await sshRun(lab, h.name, script);
    expect(r.code, `${h.name}: ${r.stdout}${r.stderr}`).toBe(0);
  }
  const modes = await pollUntil(async () => {
    const m = new Map<string, string>();
    for (const h of lab.hosts) {
      const srvr = await fourLetterWord(h.address, 2181, "srvr");
      const mode = modeOf(srvr);
      if (mode) m.set(h.name, mode);
      if (mode && !srvr.includes(`Zookeeper version: ${version}`)) throw new Error(`${h.name} runs ${srvr}`);
    }
    return [...m.values()].filter((x) => x === "leader").length === 1 && m.size === 3 ? m : undefined;
  }, 90_000);
  return modes ?? new Map();
}

async function stopEnsemble(): Promise<void> {
  for (const h of lab.hosts) {
    await sshRun(lab, h.name, "/opt/zk/bin/zkServer.sh --config /etc/zookeeper/conf stop; sed -i '/ zk[0-9]$/d' /etc/hosts; true");
  }
}

describe("a 3-server ensemble on the lab hosts", () => {
  for (const version of ["3.4.13", "3.8.0", "3.9.3"]) {
    it(`of ${version} elects one leader and two followers`, async () => {
      const dists = await ensureDists({ cacheDir: defaultArtifactsDir(process.env), versions: [version] });
      const tarball = dists.get(version)!;
      try {
        const modes = await startEnsemble(version, tarball);
        expect([...modes.values()].sort()).toEqual(["follower", "follower", "leader"]);
      } finally {
        await stopEnsemble();
      }
    }, 180_000);
  }
});

describe("fault controls", () => {
  it("freeze and thaw ZooKeeper, cut and restore ssh, power a host off and on", async () => {
    const dists = await ensureDists({ cacheDir: defaultArtifactsDir(process.env), versions: ["3.8.0"] });
    try {
      const modes = await startEnsemble("3.8.0", dists.get("3.8.0")!);
      const follower = [...modes].find(([, m]) => m === "follower")![0];
      const addr = lab.hosts.find((h) => h.name === follower)!.address;

      await labFault("freeze", follower, DIR);
      let s = (await labStatus(DIR)).hosts.find((h) => h.name === follower)!;
      expect(s.zookeeper.map((z) => z.state)).toEqual(["frozen"]);
      expect(await fourLetterWord(addr, 2181, "srvr", 1000)).toBe("");
      await labFault("thaw", follower, DIR);
      // A thawed follower may have been dropped by the leader meanwhile; it rejoins.
      const modeEventually = (address: string, mode: string) =>
        pollUntil(async () => (modeOf(await fourLetterWord(address, 2181, "srvr")) === mode ? mode : undefined), 60_000);
      expect(await modeEventually(addr, "follower")).toBe("follower");

      await labFault("cut-ssh", follower, DIR);
      s = (await labStatus(DIR)).hosts.find((h) => h.name === follower)!;
      expect(s.sshd).toBe("cut");
      const cut = await sshRun(lab, follower, "true", 15_000);
      expect(cut.code).not.toBe(0);
      // ZooKeeper is untouched by an ssh cut.
      expect(await modeEventually(addr, "follower")).toBe("follower");
      await labFault("restore-ssh", follower, DIR);
      expect((await sshRun(lab, follower, "hostname")).stdout.trim()).toBe(follower);

      await labFault("power-off", follower, DIR);
      s = (await labStatus(DIR)).hosts.find((h) => h.name === follower)!;
      expect(s).toMatchObject({ power: "off", sshd: "down", processes: 0, zookeeper: [] });
      // The two others still form a quorum.
      const others = lab.hosts.filter((h) => h.name !== follower);
      const serving = await pollUntil(async () => {
        const modes = await Promise.all(others.map(async (h) => modeOf(await fourLetterWord(h.address, 2181, "srvr"))));
        return modes.sort().join() === "follower,leader" ? modes : undefined;
      }, 60_000);
      expect(serving).toEqual(["follower", "leader"]);

      await labFault("power-on", follower, DIR);
      // Its disk survived the power cycle; its processes did not.
      const after = await sshRun(lab, follower, "cat /var/lib/zookeeper/myid; pgrep -c java || true");
      expect(after.stdout.split("\n").map((l) => l.trim()).slice(0, 2)).toEqual([
        String(lab.hosts.find((h) => h.name === follower)!.myid), "0"]);
    } finally {
      await stopEnsemble();
    }
  }, 240_000);
});

describe("bad input", () => {
  it("refuses --hosts 0 and makes nothing", async () => {
    const dir = testLabDir("lab-test-zero");
    await expect(labUp({ hosts: 0, dir, subnet: subnet("lab-refused-1") })).rejects.toThrow(/--hosts must be a whole number from 1/);
    expect(existsSync(dir)).toBe(false);
  });

  it("refuses a second lab up on a directory in use, leaving the running lab intact", async () => {
    const err = await labUp({ hosts: 2, dir: DIR, subnet: subnet("lab-refused-2") }).catch((e) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/already running in .*lab-test \(hosts up: zk1, zk2, zk3\)/);
    expect((err as ZkfleetError).hint).toMatch(/lab down --dir/);
    expect((await labStatus(DIR)).hosts.every((h) => h.power === "on")).toBe(true);
  });

  it("refuses a subnet whose port 22 is taken, before making anything", async () => {
    const dir = testLabDir("lab-test-busy");
    await expect(labUp({ hosts: 1, dir, subnet: SUBNET })).rejects.toThrow(new RegExp(`already listens on port 22 of ${SUBNET}.11`));
    expect(existsSync(dir)).toBe(false);
  });

  it("refuses lab down on nothing with a clear message", async () => {
    await expect(labDown(testLabDir("never-made"))).rejects.toThrow(/no lab in .*never-made: nothing to stop/);
  });
});

describe("lab down", () => {
  it("leaves no process, no mount and no directory behind", async () => {
    expect(labProcesses(DIR).length).toBeGreaterThan(0);
    const r = await labDown(DIR);
    expect(r.stopped).toEqual(["zk1", "zk2", "zk3"]);
    expect(labProcesses(DIR)).toEqual([]);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(DIR);
    expect(existsSync(DIR)).toBe(false);
  });
});
