// service: systemd for real: lab hosts whose pid 1 is systemd (`lab up
// --systemd`, its own /24), the real CLI, the agent over real sshd. apply
// installs the rendered unit, reloads systemd and starts the servers with
// systemctl; a change to the unit rolls through systemctl stop/start and
// takes effect; Restart=on-failure brings a killed server back. Assertions
// are about what systemd and /proc say on the hosts, never about timing.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { type LabState, labDown, labFault, labStatus, labUp } from "../../lab/lab.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import { loadInventory } from "../../controller/inventory/load.js";
import { SYSTEMD_UNIT, renderHostFiles } from "../../controller/render/render.js";
import { runCli } from "../helpers/cli.js";
import { fourLetterWord, modeOf, pollUntil, sshRun, testLabDir } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const JOURNAL = mkdtempSync(join(tmpdir(), "zkfleet-systemd-test-"));
const ENV = { ZKFLEET_JOURNAL: JOURNAL };
const DIR = testLabDir("systemd");
let lab: LabState;
let inventory: string;

beforeAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  lab = await labUp({ hosts: 3, dir: DIR, subnet: subnet("systemd"), version: "3.8.0", dists: defaultArtifactsDir(process.env), systemd: true });
  // The unit runs the server as a user of its own, as Debian's package does.
  for (const h of lab.hosts) {
    const r = await sshRun(lab, h.name, "useradd --system --no-create-home --shell /usr/sbin/nologin zk");
    expect(r.code, r.stderr).toBe(0);
  }
  inventory = writeInventory({ user: "zk" });
}, 120_000);

afterAll(async () => {
  if (existsSync(join(DIR, "lab.json"))) await labDown(DIR);
  rmSync(JOURNAL, { recursive: true, force: true });
});

function writeInventory(zookeeper: Record<string, unknown>): string {
  const doc = parseYaml(readFileSync(lab.inventory, "utf8")) as { zookeeper: Record<string, unknown> };
  doc.zookeeper = { ...doc.zookeeper, service: "systemd", heap_mb: 256, ...zookeeper };
  const path = join(lab.dir, "inventory-systemd.yml");
  writeFileSync(path, toYaml({ ...doc, ensemble: "sd-lab" }));
  return path;
}

async function apply(...flags: string[]) {
  const r = await runCli(["apply", "-i", inventory, "--json", ...flags], ENV);
  return { code: r.code, err: r.err, json: r.out ? JSON.parse(r.out) : undefined };
}

interface UnitOnHost { active: string; result: string; mainPid: number; user: string; argv: string; cgroup: string; unitFile: string }

/** What systemd and /proc say about zookeeper.service on a host, in one SSH command. */
async function unitOn(host: string): Promise<UnitOnHost> {
  const script = "systemctl show --property=ActiveState,Result,MainPID zookeeper.service; pid=$(systemctl show --property=MainPID --value zookeeper.service); " +
    `echo "User=$(ps -o user= -p "$pid")"; echo "Argv=$(tr '\\0' ' ' < /proc/$pid/cmdline)"; echo "Cgroup=$(grep name=systemd /proc/$pid/cgroup)"; ` +
    `echo "UnitFile=$(sha256sum < ${SYSTEMD_UNIT.path} | cut -d' ' -f1)"`;
  const r = await sshRun(lab, host, script);
  expect(r.code, r.stderr).toBe(0);
  const v = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(r.stdout)?.[1]?.trim() ?? "";
  return { active: v("ActiveState"), result: v("Result"), mainPid: Number(v("MainPID")), user: v("User"), argv: v("Argv"), cgroup: v("Cgroup"), unitFile: v("UnitFile") };
}

async function modes(): Promise<string[]> {
  return Promise.all(lab.hosts.map(async (h) => modeOf(await fourLetterWord(h.address, 2181, "srvr")) ?? "down"));
}

const sha256 = async (text: string) => (await import("node:crypto")).createHash("sha256").update(text).digest("hex");

describe("service: systemd on hosts whose pid 1 is systemd", () => {
  it("apply installs the unit and starts each server with systemctl, as the unit's main process", async () => {
    const first = await apply("--yes");
    expect(first.code, first.err).toBe(2);
    const writes = (first.json.steps as { kind: string; host: string; path?: string }[]).filter((s) => s.kind === "write_file" && s.path === SYSTEMD_UNIT.path);
    expect(writes.map((s) => s.host).sort()).toEqual(["zk1", "zk2", "zk3"]);
    const starts = (first.json.results as { kind: string; message: string }[]).filter((r) => r.kind === "start");
    expect(starts).toHaveLength(3);
    // A unit systemd never loaded is read from disk when first named: no daemon-reload needed.
    for (const s of starts) expect(s.message).toMatch(/^started zookeeper\.service \(pid \d+\)$/);

    const inv = await loadInventory(inventory);
    for (const h of lab.hosts) {
      const unit = await unitOn(h.name);
      expect(unit).toMatchObject({ active: "active", user: "zk" });
      expect(unit.argv).toMatch(/ org\.apache\.zookeeper\.server\.quorum\.QuorumPeerMain \/etc\/zookeeper\/conf\/zoo\.cfg$/);
      expect(unit.argv).toContain("-Xmx256m");
      expect(unit.cgroup).toMatch(/\/system\.slice\/zookeeper\.service$/);
      const rendered = renderHostFiles(inv, inv.hosts.find((x) => x.name === h.name)!).find((f) => f.path === SYSTEMD_UNIT.path)!;
      expect(unit.unitFile).toBe(await sha256(rendered.content));
      // ExecStartPre handed the directories the server writes to its user.
      const owners = await sshRun(lab, h.name, "stat -c '%U %n' /var/lib/zookeeper /var/lib/zookeeper/version-2 /var/log/zookeeper");
      expect(owners.stdout.trim().split("\n").map((l) => l.split(" ")[0])).toEqual(["zk", "zk", "zk"]);
    }
    expect((await modes()).sort()).toEqual(["follower", "follower", "leader"]);

    // No pid file under systemd: facts find the server in /proc, so the next apply plans nothing.
    const again = await apply("--check");
    expect(again.code, again.err).toBe(0);
    expect(again.json).toMatchObject({ steps: [], deferred: [] });
  });

  it("a changed unit rolls through systemctl stop and start, and systemd runs the new unit", async () => {
    const before = await Promise.all(lab.hosts.map((h) => unitOn(h.name)));
    // On zk1 a loaded target wants the unit, as multi-user.target does where it is enabled: systemd keeps it
    // in memory while stopped, so its start must reload first. Elsewhere systemd drops the stopped unit.
    expect((await sshRun(lab, "zk1", "systemctl add-wants zkfleet-lab.target zookeeper.service")).code).toBe(0);
    inventory = writeInventory({});
    const roll = await apply("--yes");
    expect(roll.code, roll.err).toBe(2);
    const stops = (roll.json.results as { kind: string; host: string; message: string }[]).filter((r) => r.kind === "stop");
    expect(stops.map((s) => s.host).sort()).toEqual(["zk1", "zk2", "zk3"]);
    for (const s of stops) expect(s.message).toBe("stopped zookeeper.service");
    expect(roll.json.final.verdict).toBe("healthy");
    expect(roll.json.canary.total.lost).toBe(0);

    const after = await Promise.all(lab.hosts.map((h) => unitOn(h.name)));
    after.forEach((unit, i) => {
      // User=root now: only a reloaded unit gives that; a stop through systemctl ends in success, not failed.
      expect(unit).toMatchObject({ active: "active", user: "root", result: "success" });
      expect(unit.mainPid).not.toBe(before[i]!.mainPid);
      expect(unit.unitFile).not.toBe(before[i]!.unitFile);
    });
    for (const h of lab.hosts) expect((await sshRun(lab, h.name, "systemctl show --property=NeedDaemonReload --value zookeeper.service")).stdout.trim()).toBe("no");
    const starts = (roll.json.results as { kind: string; host: string; message: string }[]).filter((r) => r.kind === "start");
    expect(starts.find((s) => s.host === "zk1")?.message).toMatch(/^reloaded systemd and started zookeeper\.service \(pid \d+\)$/);
    for (const s of starts) expect(s.message).toMatch(/^(reloaded systemd and )?started zookeeper\.service \(pid \d+\)$/);
    expect((await apply("--check")).json).toMatchObject({ steps: [] });
  });

  it("Restart=on-failure brings back a server killed with SIGKILL, and apply then has nothing to do", async () => {
    const before = await unitOn("zk2");
    expect((await sshRun(lab, "zk2", `kill -KILL ${before.mainPid}`)).code).toBe(0);
    // Bounded: RestartSec=5 plus the JVM's start on a loaded machine.
    const back = await pollUntil(async () => {
      const u = await unitOn("zk2");
      const serving = modeOf(await fourLetterWord(lab.hosts[1]!.address, 2181, "srvr"));
      return u.active === "active" && u.mainPid !== before.mainPid && serving !== undefined ? u : undefined;
    }, 90_000, 1000);
    expect(back, "zk2 did not come back under systemd").toBeDefined();
    const restarts = await sshRun(lab, "zk2", "systemctl show --property=NRestarts --value zookeeper.service");
    expect(Number(restarts.stdout.trim())).toBeGreaterThanOrEqual(1);
    expect((await apply("--check")).json).toMatchObject({ steps: [] });
  });

  it("a systemd host powered off and on comes back without ZooKeeper (the unit is not enabled); apply starts it with systemctl", async () => {
    await labFault("cut-ssh", "zk3", lab.dir);
    expect((await labStatus(lab.dir)).hosts.find((h) => h.name === "zk3")?.sshd).toBe("cut");
    await labFault("restore-ssh", "zk3", lab.dir);
    await labFault("power-off", "zk3", lab.dir);
    await labFault("power-on", "zk3", lab.dir);
    const zk3 = (await labStatus(lab.dir)).hosts.find((h) => h.name === "zk3");
    expect(zk3).toMatchObject({ power: "on", sshd: "listening", zookeeper: [] });
    const r = await apply("--yes");
    expect(r.code, r.err).toBe(2);
    expect((r.json.results as { kind: string; host: string; message: string }[]).filter((x) => x.kind === "start"))
      .toEqual([expect.objectContaining({ host: "zk3", message: expect.stringMatching(/started zookeeper\.service \(pid \d+\)$/) })]);
    expect(r.json.final.verdict).toBe("healthy");
    expect((await unitOn("zk3")).active).toBe("active");
  });

  it("an upgrade switches current and restarts the unit; the unit file stays as it was", async () => {
    const before = await Promise.all(lab.hosts.map((h) => unitOn(h.name)));
    inventory = writeInventory({ version: "3.9.3" });
    const up = await apply("--yes");
    expect(up.code, up.err).toBe(2);
    // zoo.cfg names the version in its header and is rewritten; the unit is not.
    expect((up.json.steps as { kind: string; path?: string }[]).filter((s) => s.kind === "write_file" && s.path === SYSTEMD_UNIT.path)).toEqual([]);
    expect((up.json.results as { kind: string }[]).filter((r) => r.kind === "switch_release")).toHaveLength(3);
    expect(up.json.final.verdict).toBe("healthy");
    expect(up.json.canary.total.lost).toBe(0);
    const after = await Promise.all(lab.hosts.map((h) => unitOn(h.name)));
    after.forEach((unit, i) => {
      expect(unit).toMatchObject({ active: "active", unitFile: before[i]!.unitFile });
      expect(unit.argv).toContain("/opt/zookeeper/current/lib/zookeeper-3.9.3.jar");
    });
    for (const h of lab.hosts) expect(await fourLetterWord(h.address, 2181, "srvr")).toMatch(/^Zookeeper version: 3\.9\.3/);
  });

  it("moving a running ensemble from systemd to zkServer.sh and back takes effect at the roll a config change brings", async () => {
    const script = "systemctl is-active zookeeper.service; cat /var/lib/zookeeper/zookeeper_server.pid 2>/dev/null || echo no-pid-file";
    writeInventory({ version: "3.9.3", service: "script", user: undefined, config: { maxClientCnxns: 50 } });
    const toScript = await apply("--yes");
    expect(toScript.code, toScript.err).toBe(2);
    expect(toScript.json.final.verdict).toBe("healthy");
    for (const h of lab.hosts) {
      // Stopped by signal: the JVM's exit 143 is a clean stop for the unit, so Restart= leaves it down.
      const r = await sshRun(lab, h.name, script);
      expect(r.stdout).toMatch(/^inactive\n\d+\n?$/);
    }
    writeInventory({ version: "3.9.3", config: { maxClientCnxns: 60 } });
    const back = await apply("--yes");
    expect(back.code, back.err).toBe(2);
    expect(back.json.final.verdict).toBe("healthy");
    for (const h of lab.hosts) {
      const r = await sshRun(lab, h.name, script);
      expect(r.stdout).toBe("active\nno-pid-file\n");
      expect((await unitOn(h.name)).argv).toContain("QuorumPeerMain");
    }
    expect((await apply("--check")).json).toMatchObject({ steps: [] });
  });
});
