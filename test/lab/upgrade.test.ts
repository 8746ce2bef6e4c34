// Rolling version upgrades by `apply` in the lab: 3.4.13 -> 3.8.0 -> 3.9.3
// on a live 3-server ensemble whose 3.4 followers hold transaction logs and
// no snapshot. Followers first, the leader last, every stage gated; the data
// is read back by ZooKeeper's own zkCli, not by zkfleet.
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { deriveInventory, sshRun, useTestLab } from "../helpers/lab.js";
import { readNodes, writeNodes } from "../helpers/zkcli.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("upgrade", subnet("upgrade"), 3, "3.4.13");
const ENV = t.env;
const NODES = 40;
const inventoryFor = (version: string) => deriveInventory(t.lab, `inventory-${version}.yml`, { version });

async function apply(inventory: string, ...flags: string[]) {
  const r = await runCli(["apply", "-i", inventory, ...flags], ENV);
  return { ...r, json: flags.includes("--json") && r.out ? JSON.parse(r.out) : undefined };
}

async function modes(inventory: string): Promise<Record<string, { mode?: string; version?: string }>> {
  const r = await runCli(["status", "-i", inventory, "--json"], ENV);
  return Object.fromEntries(JSON.parse(r.out).ensembles[0].hosts.map((h: { host: string; mode?: string; version?: string }) => [h.host, h]));
}

describe("rolling upgrade of a live 3-server ensemble", () => {
  it("3.4.13 -> 3.8.0: release pushed first, followers then the leader, logs-only 3.4 data dirs moved aside, data kept", async () => {
    const lab = t.lab;
    const v34 = lab.inventory;
    const first = await apply(v34, "--yes");
    expect(first.code, first.err).toBe(2);
    const server = `${lab.hosts[0]!.address}:2181`;
    await writeNodes(server, "/upgrade", NODES);
    const before = await readNodes(server, "/upgrade", NODES);
    expect(before).toHaveLength(NODES);
    const logsOnly = [];
    const withSnapshot = [];
    for (const h of lab.hosts) {
      const ls = (await sshRun(lab, h.name, "ls /var/lib/zookeeper/version-2")).stdout;
      if (/^log\./m.test(ls) && !/^snapshot\./m.test(ls)) logsOnly.push(h.name);
      if (/^snapshot\./m.test(ls)) withSnapshot.push(h.name);
    }
    // The situation that makes 3.5+ refuse to start (ZOOKEEPER-3056) is really there.
    expect(logsOnly.length).toBeGreaterThan(0);

    const v38 = inventoryFor("3.8.0");
    const leader = Object.entries(await modes(v34)).find(([, h]) => h.mode === "leader")![0];
    const check = await apply(v38, "--check", "--json");
    expect(check.code, check.err).toBe(2);
    const titles = (check.json.stages as { title: string }[]).map((s) => s.title);
    expect(titles[0]).toBe("push the new release to every host (nothing restarts)");
    expect(titles.at(-1)).toBe(`upgrade ${leader} (leader)`);
    // Planned on every 3.4 server, decided by the agent when it runs: the canary's writes give more followers logs meanwhile.
    const planned = (check.json.steps as { kind: string; host: string }[]).filter((s) => s.kind === "clean_data").map((s) => s.host);
    expect(planned.sort()).toEqual(lab.hosts.map((h) => h.name).sort());

    const r = await apply(v38, "--yes", "--json");
    expect(r.code, r.err).toBe(2);
    expect(r.json.final.verdict).toBe("healthy");
    const stops = (r.json.results as { kind: string; host: string }[]).filter((x) => x.kind === "stop").map((x) => x.host);
    expect(stops).toHaveLength(3);
    expect(stops.at(-1)).toBe(leader);
    const moved = (r.json.results as { kind: string; host: string; changed: boolean }[]).filter((x) => x.kind === "clean_data" && x.changed).map((x) => x.host);
    for (const host of logsOnly) expect(moved, host).toContain(host);
    for (const host of withSnapshot) expect(moved, host).not.toContain(host);
    for (const h of Object.values(await modes(v38))) expect(h.version).toMatch(/^3\.8\.0/);
    expect(r.json.canary.total).toMatchObject({ lost: 0, expired: 0 });
    expect(r.json.canary.total.ops).toBeGreaterThan(50);
    expect(await readNodes(server, "/upgrade", NODES)).toEqual(before);
    // What was moved aside is kept, not deleted.
    for (const host of logsOnly) {
      const moved = await sshRun(lab, host, "ls /var/lib/zookeeper/.zkfleet-moved/*/version-2");
      expect(moved.stdout, host).toMatch(/^log\./m);
    }
    const again = await apply(v38, "--yes", "--json");
    expect(again.code, again.err).toBe(0);
  }, 300_000);

  it("3.8.0 -> 3.9.3 staged ahead (--stage), rolled back by `runs rollback`, and 3.8.0 -> 3.4.13 refused with the reason", async () => {
    const server = `${t.lab.hosts[1]!.address}:2181`;
    const before = await readNodes(server, "/upgrade", NODES);
    // --stage: the release onto every host, nothing restarted; the upgrade after it has no push.
    const staged = await apply(inventoryFor("3.9.3"), "--stage", "--yes", "--json");
    expect(staged.code, staged.err).toBe(2);
    expect((staged.json.results as { kind: string; host: string }[]).map((x) => `${x.kind}:${x.host}`).sort()).toEqual(["install:zk1", "install:zk2", "install:zk3"]);
    for (const h of Object.values(await modes(inventoryFor("3.9.3")))) expect(h.version).toMatch(/^3\.8\.0/);
    const stagedAgain = await runCli(["apply", "-i", inventoryFor("3.9.3"), "--stage", "--yes"], ENV);
    expect(stagedAgain.code, stagedAgain.err).toBe(0);
    expect(stagedAgain.out).toMatch(/: nothing to stage, every host has ZooKeeper 3\.9\.3 unpacked/);
    const r = await apply(inventoryFor("3.9.3"), "--yes", "--json");
    expect(r.code, r.err).toBe(2);
    const titles = (r.json.stages as { title: string }[]).map((st) => st.title);
    expect(titles).toHaveLength(3);
    for (const title of titles) expect(title).toMatch(/^upgrade zk\d \((follower|leader)\)$/);
    expect(r.json.final.verdict).toBe("healthy");
    expect((r.json.steps as { kind: string }[]).some((s) => s.kind === "clean_data")).toBe(false);
    for (const h of Object.values(await modes(inventoryFor("3.9.3")))) expect(h.version).toMatch(/^3\.9\.3/);
    expect(r.json.canary.total).toMatchObject({ lost: 0, expired: 0 });
    expect(await readNodes(server, "/upgrade", NODES)).toEqual(before);

    const cfg393 = (await sshRun(t.lab, "zk1", "cat /etc/zookeeper/conf/zoo.cfg")).stdout;
    const back = await runCli(["runs", "rollback", r.json.run, "--yes", "--json"], ENV);
    expect(back.code, back.err).toBe(2);
    const rolledBack = JSON.parse(back.out);
    expect(rolledBack.final.verdict).toBe("healthy");
    expect(rolledBack.canary.total).toMatchObject({ lost: 0, expired: 0 });
    for (const h of Object.values(await modes(inventoryFor("3.8.0")))) expect(h.version).toMatch(/^3\.8\.0/);
    // The files are those from before the upgrade again, not a re-rendering of the new inventory.
    expect((await sshRun(t.lab, "zk1", "cat /etc/zookeeper/conf/zoo.cfg")).stdout).toMatch(/ZooKeeper 3\.8\.0 configuration/);
    expect(cfg393).toMatch(/ZooKeeper 3\.9\.3 configuration/);
    expect(await readNodes(server, "/upgrade", NODES)).toEqual(before);

    const down = await apply(inventoryFor("3.4.13"), "--yes", "--json");
    expect(down.code, down.err).toBe(5);
    expect(down.json.refusals[0]).toMatchObject({ code: "unsafe_version_hop", data: { from: "3.8.0", to: "3.4.13" } });
    expect(down.err).toMatch(/restore of a backup/);
  }, 300_000);
});
