// Acceptance of `apply` and `status` in the lab: the real CLI (in-process),
// real sshd, the real agent on each host and real ZooKeeper servers of every
// supported version. Assertions are about state on the hosts, never timing.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { type LabState, labDown, labFault, labStatus, labUp } from "../../lab/lab.js";
import { defaultArtifactsDir } from "../../common/paths.js";
import type { FleetStatus } from "../../controller/usecases/status.js";
import { runCli } from "../helpers/cli.js";
import { sshRun, testLabDir } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const JOURNAL = mkdtempSync(join(tmpdir(), "zkfleet-apply-test-"));
const ENV = { ZKFLEET_JOURNAL: JOURNAL };
const MANAGED = ["/etc/zookeeper/conf/zoo.cfg", "/var/lib/zookeeper/myid", "/etc/hosts"];
/** Labs started by this file, downed in afterAll whatever happened. */
const started = new Set<string>();

afterAll(async () => {
  for (const dir of started) if (existsSync(join(dir, "lab.json"))) await labDown(dir);
  rmSync(JOURNAL, { recursive: true, force: true });
});

/** A fresh 3-host lab whose inventory names its ensemble after the version, so two labs read apart in one status view. */
/** A new lab; `ensemble` must differ from every other lab's in this file whose ensemble ran elsewhere (apply refuses an empty one then). */
async function freshLab(name: string, subnet: string, version: string, ensemble = `lab-${version}`): Promise<{ lab: LabState; inventory: string }> {
  const dir = testLabDir(name);
  if (existsSync(join(dir, "lab.json"))) await labDown(dir);
  started.add(dir);
  const lab = await labUp({ hosts: 3, dir, subnet, version, dists: defaultArtifactsDir(process.env) });
  const inventory = deriveInventory(lab, "inventory-test.yml", (inv) => ({ ...inv, ensemble }));
  return { lab, inventory };
}

type Doc = Record<string, unknown> & { zookeeper: Record<string, unknown> };

function deriveInventory(lab: LabState, fileName: string, edit: (inv: Doc) => Doc): string {
  const path = join(lab.dir, fileName);
  writeFileSync(path, toYaml(edit(parseYaml(readFileSync(lab.inventory, "utf8")) as Doc)));
  return path;
}

async function apply(inventory: string, ...flags: string[]) {
  const r = await runCli(["apply", "-i", inventory, ...flags], ENV);
  return { ...r, json: flags.includes("--json") && r.out ? JSON.parse(r.out) : undefined };
}

async function status(...inventories: string[]): Promise<{ code: number; report: FleetStatus }> {
  const r = await runCli(["status", ...inventories.flatMap((f) => ["-i", f]), "--json"], ENV);
  return { code: r.code, report: JSON.parse(r.out) as FleetStatus };
}

/** Global pids of each host's ZooKeeper JVM, as the lab sees them from outside the hosts. */
async function zkPids(lab: LabState): Promise<Record<string, number[]>> {
  const s = await labStatus(lab.dir);
  return Object.fromEntries(s.hosts.map((h) => [h.name, h.zookeeper.map((z) => z.pid)]));
}

// Constant script: content hashes, nanosecond mtimes, every file zkfleet
// could have created or moved, and the server's own pid file.
const FINGERPRINT = `sha256sum ${MANAGED.join(" ")}; stat -c '%n %y' ${MANAGED.join(" ")}; ` +
  "find /etc/zookeeper /var/lib/zookeeper /opt/zookeeper 2>/dev/null | sort; cat /var/lib/zookeeper/zookeeper_server.pid";

async function fingerprint(lab: LabState): Promise<{ pids: Record<string, number[]>; hosts: Record<string, string> }> {
  const hosts = await Promise.all(lab.hosts.map(async (h) => {
    const r = await sshRun(lab, h.name, FINGERPRINT);
    expect(r.code, `fingerprint of ${h.name}: ${r.stderr}`).toBe(0);
    return [h.name, r.stdout] as const;
  }));
  return { pids: await zkPids(lab), hosts: Object.fromEntries(hosts) };
}

/** zkCli of the host's installed release, against the host's own client address. */
async function zkCli(lab: LabState, host: string, command: string) {
  const address = lab.hosts.find((h) => h.name === host)!.address;
  return sshRun(lab, host, `/opt/zookeeper/current/bin/zkCli.sh -server ${address}:2181 ${command} 2>&1`);
}

function expectHealthyEnsemble(report: FleetStatus, lab: LabState, version: string): void {
  expect(report.ensembles).toHaveLength(1);
  const e = report.ensembles[0]!;
  expect(e.problems).toEqual([]);
  expect(e.verdict).toBe("healthy");
  expect(e.hosts.map((h) => h.mode).sort()).toEqual(["follower", "follower", "leader"]);
  for (const h of e.hosts) {
    expect(h.version, h.host).toMatch(new RegExp(`^${version.replace(/\./g, "\\.")}`));
    expect(h.myidOnHost?.trim(), h.host).toBe(String(lab.hosts.find((l) => l.name === h.host)!.myid));
  }
}

const labs: Record<string, { lab: LabState; inventory: string }> = {};

describe("apply brings a fresh lab to a healthy ensemble, and a second apply touches nothing", () => {
  const cases = [
    { version: "3.4.13", subnet: subnet("apply-3.4.13"), keep: false },
    { version: "3.9.3", subnet: subnet("apply-3.9.3"), keep: true },
    { version: "3.8.0", subnet: subnet("apply-3.8.0"), keep: true },
  ];
  for (const { version, subnet, keep } of cases) {
    it(`ZooKeeper ${version}`, async () => {
      const { lab, inventory } = await freshLab(`apply-${version}`, subnet, version);
      labs[version] = { lab, inventory };

      const first = await apply(inventory, "--yes");
      expect(first.code, first.err).toBe(2);
      const { code, report } = await status(inventory);
      expect(code).toBe(0);
      expectHealthyEnsemble(report, lab, version);

      const before = await fingerprint(lab);
      expect(Object.values(before.pids).map((p) => p.length)).toEqual([1, 1, 1]);
      const again = await apply(inventory, "--yes", "--json");
      expect(again.code, again.err).toBe(0);
      expect(again.json).toMatchObject({ changed: 0, executed: false, steps: [], results: [] });
      expect(await fingerprint(lab)).toEqual(before);

      if (!keep) await labDown(lab.dir);
    });
  }
});

describe("a config change on the running 3.8.0 ensemble", () => {
  const changed = () => deriveInventory(labs["3.8.0"]!.lab, "changed.yml", (inv) => ({
    ...inv, zookeeper: { ...inv.zookeeper, config: { maxClientCnxns: 100 } },
  }));

  it("--check --diff shows the zoo.cfg change for every host and changes nothing", async () => {
    const { lab } = labs["3.8.0"]!;
    const before = await fingerprint(lab);
    const r = await apply(changed(), "--check", "--diff");
    expect(r.code, r.err).toBe(2);
    // Each host's zoo.cfg step is followed by its own diff, up to the next step line.
    const blocks = r.out.split(/^ {2}- /m).slice(1);
    for (const h of lab.hosts) {
      const block = blocks.find((b) => b.startsWith(`${h.name}: update /etc/zookeeper/conf/zoo.cfg`));
      expect(block, h.name).toBeDefined();
      expect(block).toMatch(/^\s+\+maxClientCnxns=100$/m);
    }
    expect(await fingerprint(lab)).toEqual(before);
  });

  it("apply restarts every server one at a time, leader last, and keeps a client's write", async () => {
    const { lab, inventory } = labs["3.8.0"]!;
    const modes = Object.fromEntries((await status(inventory)).report.ensembles[0]!.hosts.map((h) => [h.host, h.mode]));
    const leader = Object.keys(modes).find((h) => modes[h] === "leader")!;
    expect(leader).toBeDefined();
    const written = await zkCli(lab, "zk1", "create /zkfleet-test hello");
    expect(written.stdout).toContain("Created /zkfleet-test");
    const pidsBefore = await zkPids(lab);

    const r = await apply(changed(), "--yes", "--json");
    expect(r.code, r.err).toBe(2);
    const restarted = (r.json.results as { kind: string; host: string }[]).filter((x) => x.kind === "stop").map((x) => x.host);
    expect([...restarted].sort()).toEqual(["zk1", "zk2", "zk3"]);
    expect(restarted.at(-1)).toBe(leader);
    expect(r.json.final.verdict).toBe("healthy");
    // Clients kept writing throughout: none of their acknowledged writes is lost, no session expired.
    expect(r.json.canary.total.ops).toBeGreaterThan(50);
    expect(r.json.canary.total.lost).toBe(0);
    expect(r.json.canary.total.expired).toBe(0);
    expect(r.json.canary.clients.map((c: { label: string }) => c.label).sort()).toEqual(["all", "zk1", "zk2", "zk3"]);
    expect(r.json.canary.clients.filter((c: { problem?: string }) => c.problem)).toEqual([]);

    const pidsAfter = await zkPids(lab);
    for (const h of lab.hosts) {
      expect(pidsAfter[h.name], h.name).toHaveLength(1);
      expect(pidsAfter[h.name], h.name).not.toEqual(pidsBefore[h.name]);
      const cfg = await sshRun(lab, h.name, "cat /etc/zookeeper/conf/zoo.cfg");
      expect(cfg.stdout).toMatch(/^maxClientCnxns=100$/m);
    }
    const read = await zkCli(lab, "zk3", "get /zkfleet-test");
    expect(read.stdout).toMatch(/^hello$/m);
  });
});

describe("apply --limit", () => {
  it("installs and configures only the named host", async () => {
    const { lab, inventory } = await freshLab("apply-limit", subnet("apply-limit"), "3.8.0", "lab-limit");
    try {
      const r = await apply(inventory, "--yes", "--limit", "zk2", "--json");
      expect(r.code, r.err).toBe(2);
      expect(new Set((r.json.results as { host: string }[]).map((x) => x.host))).toEqual(new Set(["zk2"]));
      const zk2 = await sshRun(lab, "zk2", "readlink /opt/zookeeper/current; cat /var/lib/zookeeper/myid; test -f /etc/zookeeper/conf/zoo.cfg && echo cfg");
      expect(zk2.stdout.split("\n")).toEqual(["releases/3.8.0", "2", "cfg", ""]);
      for (const other of ["zk1", "zk3"]) {
        const o = await sshRun(lab, other, "ls -d /opt/zookeeper /etc/zookeeper /var/lib/zookeeper/myid 2>&1; grep -c 'BEGIN zkfleet' /etc/hosts");
        expect(o.stdout, other).not.toMatch(/^\/(opt|etc|var)\/\S+$/m);
        expect(o.stdout.trim().split("\n").at(-1), other).toBe("0");
      }
    } finally {
      await labDown(lab.dir);
    }
  });
});

describe("status of two ensembles in one view", () => {
  it("is healthy for both, degraded with a follower off, no-quorum with two hosts off; exit 4 when not healthy", async () => {
    const a = labs["3.9.3"]!;
    const b = labs["3.8.0"]!;
    const both = await status(a.inventory, b.inventory);
    expect(both.code).toBe(0);
    expect(both.report.ensembles.map((e) => [e.ensemble, e.verdict])).toEqual([["lab-3.9.3", "healthy"], ["lab-3.8.0", "healthy"]]);

    const followers = both.report.ensembles[1]!.hosts.filter((h) => h.mode === "follower").map((h) => h.host);
    await labFault("power-off", followers[0]!, b.lab.dir);
    const one = await status(a.inventory, b.inventory);
    expect(one.code).toBe(4);
    expect(one.report.ensembles[0]!.verdict).toBe("healthy");
    expect(one.report.ensembles[1]!.verdict).toBe("degraded");
    expect(one.report.ensembles[1]!.problems.join("\n")).toMatch(new RegExp(`^${followers[0]}: unreachable`, "m"));

    await labFault("power-off", followers[1]!, b.lab.dir);
    const two = await status(a.inventory, b.inventory);
    expect(two.code).toBe(4);
    expect(two.report.ensembles[0]!.verdict).toBe("healthy");
    expect(two.report.ensembles[1]!.verdict).toBe("no-quorum");
    // The survivor may still lead or may already have dropped to electing: 1 or 0 voters serve.
    expect(two.report.ensembles[1]!.problems[0]).toMatch(/^[01] of 3 voters serve; a quorum needs 2$/);
    for (const off of followers) expect(two.report.ensembles[1]!.problems.join("\n")).toMatch(new RegExp(`^${off}: unreachable`, "m"));
  });
});
