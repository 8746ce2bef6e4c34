// Three ways a membership change used to slip past apply's refusal, and a
// managed file it could not read, each tried for real in the lab: the plan
// is refused before anything is touched, with a code --json can match.
// Assertions are about state on the hosts, never timing.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import type { LabState } from "../../lab/lab.js";
import { runCli } from "../helpers/cli.js";
import { type TestLab, sshRun, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

type Doc = Record<string, unknown> & { zookeeper: Record<string, unknown> };

/** An inventory derived from the lab's own, written beside it. */
function derive(t: TestLab, name: string, edit: (inv: Doc) => Doc): string {
  const path = join(t.lab.dir, name);
  writeFileSync(path, toYaml(edit(parseYaml(readFileSync(t.lab.inventory, "utf8")) as Doc)));
  return path;
}

const zk = (inv: Doc, more: Record<string, unknown>): Doc => ({ ...inv, zookeeper: { ...inv.zookeeper, ...more } });

async function apply(t: TestLab, inventory: string, ...flags: string[]) {
  const r = await runCli(["apply", "-i", inventory, ...flags], t.env);
  return { ...r, json: flags.includes("--json") && r.out ? JSON.parse(r.out) : undefined };
}

/**
 * What zkfleet could have touched, per host: content hashes and mtimes of the
 * files it writes (config, releases, its own backups and records, myid,
 * /etc/hosts), the entries of the data dir (a clean_data moves version-2
 * aside), and the server process (pid and start time: a restart shows). Not
 * what ZooKeeper writes itself (its transaction log and snapshots change
 * whenever a client session opens or closes, also one a test opened earlier).
 */
async function fingerprint(lab: LabState): Promise<Record<string, string>> {
  const script = "cd / && find /etc/zookeeper /opt/zookeeper /opt/zkfleet/state -maxdepth 3 2>/dev/null | sort | " +
    "while read -r f; do if [ -f \"$f\" ]; then echo \"$(sha256sum < \"$f\") $(stat -c %y \"$f\") $f\"; else echo \"dir $f\"; fi; done; " +
    "sha256sum /etc/hosts; echo \"data dir: $(ls -A /var/lib/zookeeper 2>/dev/null | tr '\\n' ' ')\"; " +
    "if [ -f /var/lib/zookeeper/myid ]; then echo \"myid $(sha256sum < /var/lib/zookeeper/myid) $(stat -c %y /var/lib/zookeeper/myid)\"; fi; " +
    "pid=$(cat /var/lib/zookeeper/zookeeper_server.pid 2>/dev/null); " +
    "echo \"server pid ${pid:-none} started $( [ -n \"$pid\" ] && cut -d' ' -f22 /proc/$pid/stat 2>/dev/null)\"";
  const out: Record<string, string> = {};
  for (const h of lab.hosts) out[h.name] = (await sshRun(lab, h.name, script)).stdout;
  return out;
}

describe("a reconfig-enabled 3.8.0 ensemble", () => {
  const t = useTestLab("holes-reconfig", subnet("holes-reconfig"));

  it("is left alone by a second apply although ZooKeeper rewrote its zoo.cfg and renamed the dynamic file", async () => {
    const inventory = derive(t, "reconfig.yml", (inv) => zk(inv, { reconfig: true }));
    const first = await apply(t, inventory, "--yes");
    expect(first.code, first.err).toBe(2);
    // ZooKeeper has taken over the dynamic file: zoo.cfg now names a versioned one.
    const cfg = await sshRun(t.lab, "zk1", "cat /etc/zookeeper/conf/zoo.cfg");
    expect(cfg.stdout).toMatch(/^dynamicConfigFile=\/etc\/zookeeper\/conf\/zoo\.cfg\.dynamic\.[0-9a-f]+$/m);
    const before = await fingerprint(t.lab);
    const again = await apply(t, inventory, "--yes", "--json");
    expect(again.code, again.err).toBe(0);
    expect(again.json).toMatchObject({ changed: 0, steps: [] });
    expect(await fingerprint(t.lab)).toEqual(before);
  });

  it("rolls a settings change, keeping the dynamic file the servers use, and is then idempotent again", async () => {
    const inventory = derive(t, "reconfig-cnxns.yml", (inv) => zk(inv, { reconfig: true, config: { maxClientCnxns: 100 } }));
    const r = await apply(t, inventory, "--yes", "--json");
    expect(r.code, r.err).toBe(2);
    expect(r.json.final.verdict).toBe("healthy");
    expect((r.json.results as { kind: string }[]).filter((x) => x.kind === "stop")).toHaveLength(3);
    for (const h of t.lab.hosts) {
      const cfg = await sshRun(t.lab, h.name, "cat /etc/zookeeper/conf/zoo.cfg");
      expect(cfg.stdout, h.name).toMatch(/^maxClientCnxns=100$/m);
      expect(cfg.stdout, h.name).toMatch(/^dynamicConfigFile=\/etc\/zookeeper\/conf\/zoo\.cfg\.dynamic\.[0-9a-f]+$/m);
    }
    const again = await apply(t, inventory, "--yes", "--json");
    expect(again.code, again.err).toBe(0);
  });

  it("hole 1: a membership edit (the quorum port of every server line) is refused, not rolled out as a restart", async () => {
    const edited = derive(t, "reconfig-port.yml", (inv) => zk(inv, { reconfig: true, config: { maxClientCnxns: 100 }, quorum_port: 2889 }));
    const before = await fingerprint(t.lab);
    const r = await apply(t, edited, "--yes", "--json");
    expect(r.code, r.err).toBe(5);
    expect(r.json.refusals.map((x: { code: string; host: string }) => `${x.code}:${x.host}`)).toEqual(
      ["membership_change:zk1", "membership_change:zk2", "membership_change:zk3"]);
    expect(r.json.refusals[0].data.source).toBe("the running server (conf)");
    expect(r.json.refusals[0].data.added[0]).toMatch(/^server\.1=zk1:2889:3888:participant/);
    expect(r.err).toContain("apply does not change membership");
    expect(await fingerprint(t.lab)).toEqual(before);
  });
});

describe("a static 3.8.0 ensemble", () => {
  const t = useTestLab("holes-static", subnet("holes-static"));

  it("hole 3: a managed file that cannot be read stops the plan before any host is touched", async () => {
    // A directory where zoo.cfg belongs: reading it fails, which used to look like "absent" and be planned as "create".
    // (The lab logs in as root, for whom permissions do not stop a read; the agent treats EACCES and EIO the same way.)
    await sshRun(t.lab, "zk2", "mkdir -p /etc/zookeeper/conf/zoo.cfg");
    try {
      const before = await fingerprint(t.lab);
      const r = await apply(t, t.lab.inventory, "--yes", "--json");
      expect(r.code, r.err).toBe(5);
      expect(r.json.refusals).toEqual([expect.objectContaining({
        code: "unreadable_file", host: "zk2", data: { path: "/etc/zookeeper/conf/zoo.cfg", error: "/etc/zookeeper/conf/zoo.cfg is a directory" },
      })]);
      expect(r.err).toContain("zk2: /etc/zookeeper/conf/zoo.cfg exists but cannot be read");
      expect(await fingerprint(t.lab)).toEqual(before);
    } finally {
      await sshRun(t.lab, "zk2", "rm -rf /etc/zookeeper");
    }
  });

  it("hole 2: --limit on a stopped server with a new server list is refused; it stays stopped", async () => {
    const first = await apply(t, t.lab.inventory, "--yes");
    expect(first.code, first.err).toBe(2);
    const stopped = await sshRun(t.lab, "zk3", "/opt/zookeeper/current/bin/zkServer.sh --config /etc/zookeeper/conf stop");
    expect(stopped.code, stopped.stderr).toBe(0);
    const edited = derive(t, "static-port.yml", (inv) => zk(inv, { quorum_port: 2889 }));
    const before = await fingerprint(t.lab);

    const r = await apply(t, edited, "--yes", "--limit", "zk3", "--json");
    expect(r.code, r.err).toBe(5);
    expect(r.json.refusals.map((x: { code: string; host: string }) => `${x.code}:${x.host}`)).toContain("membership_change:zk3");
    expect(await fingerprint(t.lab)).toEqual(before);
    const pid = await sshRun(t.lab, "zk3", "test -f /var/lib/zookeeper/zookeeper_server.pid && echo running || echo stopped");
    expect(pid.stdout.trim()).toBe("stopped");
  });
});
