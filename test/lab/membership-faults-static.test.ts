// Membership changes with static server lists (3.4.13, the manual procedure's way)
// interrupted by a host going away (issue 9): a joiner powered off after its
// start, before any member restarts with the new list; and a member powered
// off between two of those restarts, while the leader still counts by the old
// list. The run must halt with a typed error and a non-zero exit, the list the
// leader counts by keeping a quorum of live servers, no acknowledged write
// lost; with the host back, `runs resume` must finish and a second apply find
// nothing to do. As membership-faults.test.ts does for 3.9.3. And a member
// that does not come back with the new list (frozen as it starts) while the
// leader leaves: the leader restarts first so another leads (a static list
// without the leader cannot follow it), the frozen member is put back on the
// old list, the run halts, and apply again finishes.
import { describe, expect, it } from "vitest";
import { labFault } from "../../lab/lab.js";
import { javaDigest } from "../data/independent.js";
import { sshRun, useTestLab } from "../helpers/lab.js";
import { zkCli } from "../helpers/zkcli.js";
import {
  FAULT_TIMEOUTS, LOAD, apply, canaryTotal, joinerPoweredOff, lastRun, membershipInventory, modes, resumeOnceBack, runWatched, servesWithQuorum,
} from "./membership-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("membership-faults-static", subnet("membership-faults-static"), 5, "3.4.13");

describe("3.4.13 with static server lists: a host powered off mid-change", () => {
  const address = (name: string) => `${t.lab.hosts.find((h) => h.name === name)!.address}:2181`;
  const inv = (file: string, ids: number[]) => membershipInventory(t, file, ids.map((id) => ({ name: `zk${id}`, myid: id })));
  /** The ids of the server lines in a host's zoo.cfg (3.4 has no `conf` listing them). */
  const listed = async (host: string) => {
    const cfg = await sshRun(t.lab, host, "cat /etc/zookeeper/conf/zoo.cfg");
    return [...cfg.stdout.matchAll(/^server\.(\d+)=/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
  };
  let server = "";

  it("a joiner powered off after its start, before any member restarts with the new list: the check fails, {1,2,3} keeps serving, resume adds it", async () => {
    const four = inv("abcd.yml", [1, 2, 3, 4]);
    const halted = await joinerPoweredOff(t, inv("abc.yml", [1, 2, 3]), four);
    server = halted.server;
    expect(halted.out).not.toMatch(/changed zk[123]: stop/);

    for (const h of ["zk1", "zk2", "zk3"]) expect(await listed(h), h).toEqual([1, 2, 3]);
    await servesWithQuorum(t, ["zk1", "zk2", "zk3"], "/faults-joiner-off");

    await resumeOnceBack(t, four, "zk4", halted.run);
    for (const h of ["zk1", "zk2", "zk3", "zk4"]) expect(await listed(h), h).toEqual([1, 2, 3, 4]);
    expect(await javaDigest(address("zk4"), "/members")).toMatchObject({ nodes: LOAD + 1, digest: halted.digest });
    expect((await zkCli(address("zk4"), ["get /faults-joiner-off"])).split("\n").map((l) => l.trim())).toContain("alive-faults-joiner-off");
  }, 300_000);

  it("a member powered off between two restarts with the new list (4 -> 5): the run halts at the next step on it, the leader's list keeps a quorum, resume starts it first and finishes", async () => {
    const before = await javaDigest(server, "/members");
    const leader = Object.entries(await modes(t)).find(([, m]) => m === "leader")![0];
    const five = inv("five.yml", [1, 2, 3, 4, 5]);
    let first: string | undefined;
    let victim: string | undefined;
    const r = await runWatched(t, ["apply", "-i", five, "--yes", ...FAULT_TIMEOUTS], (out) => {
      // The first member restarted with the new list and checked: pull the plug on the next one in line.
      if (!/^ {2}ok {6}settle: .*must serve again before the next server is touched/m.test(out)) return undefined;
      [first, victim] = [...out.matchAll(/ stage \d+\/\d+: restart (\S+) with voters/g)].map((m) => m[1]!);
      return labFault("power-off", victim!, t.lab.dir);
    });
    expect(r.killed, r.out).toBe(false);
    expect(victim, r.out).toMatch(/^zk[1-4]$/);
    expect(victim).not.toBe(leader);
    // The next step in line meets the lost host: its gate refuses (exit 5), or, when the plug was pulled
    // just after that gate saw the host serving, the step acting on it fails (exit 4). Either way the
    // victim is the only member down, as it would be had it crashed during its own restart.
    expect([4, 5], `${r.out}\n${r.err}`).toContain(r.code);
    expect(r.err).toMatch(new RegExp(`(plan error: not going on|ssh error|zookeeper error): .*${victim}`));
    const halted = await lastRun(t);
    expect(canaryTotal(halted.records)).toMatchObject({ lost: 0, expired: 0 });

    // The leader was not restarted: it counts by {1,2,3,4}, of which three serve (zk5 follows without a vote).
    expect(await listed(leader)).toEqual([1, 2, 3, 4]);
    expect(await listed(first!)).toEqual([1, 2, 3, 4, 5]);
    const live = ["zk1", "zk2", "zk3", "zk4"].filter((h) => h !== victim);
    await servesWithQuorum(t, [...live, "zk5"], "/faults-member-off");

    // Resumed, the member is started and checked before anything else restarts.
    const resumed = await resumeOnceBack(t, five, victim!, halted.run);
    const kinds = resumed.results.map((x) => `${x.kind}:${x.host}`);
    expect(kinds.find((k) => k.startsWith("start:") || k.startsWith("stop:"))).toBe(`start:${victim}`);
    for (const h of ["zk1", "zk2", "zk3", "zk4", "zk5"]) expect(await listed(h), h).toEqual([1, 2, 3, 4, 5]);
    expect(Object.values(await modes(t)).filter((m) => m === "leader" || m === "follower")).toHaveLength(5);
    expect(await javaDigest(address("zk5"), "/members")).toMatchObject({ nodes: LOAD + 1, digest: before.digest });
  }, 300_000);

  it("the leader leaves (5 -> 4): it restarts first so another leads; a member that then does not come back with the new list (frozen as it starts) is put back on the old list and the run halts; apply again finishes", async () => {
    const before = await javaDigest(server, "/members");
    const leader = Object.entries(await modes(t)).find(([, m]) => m === "leader")![0];
    const all = ["zk1", "zk2", "zk3", "zk4", "zk5"];
    const stay = all.filter((h) => h !== leader);
    const four = membershipInventory(t, "four.yml", all.map((name) => ({
      name, myid: Number(name.slice(2)), ...(name === leader ? { state: "absent" as const } : {}),
    })));
    let victim: string | undefined;
    const r = await runWatched(t, ["apply", "-i", four, "--yes", ...FAULT_TIMEOUTS], (out) => {
      // The first member restarted with the new list: frozen as soon as its start is reported, it never serves.
      const at = out.search(/ stage \d+\/\d+: restart zk\d with voters/);
      const started = at < 0 ? null : /^ {2}changed (zk\d): start /m.exec(out.slice(at));
      if (!started) return undefined;
      victim = started[1]!;
      return labFault("freeze", victim, t.lab.dir);
    });
    expect(r.killed, r.out).toBe(false);
    // A list without the leader could not follow it: the leaving leader restarted as it was, and another took the lead.
    expect(r.out).toMatch(new RegExp(`changed ${leader}: stop ZooKeeper[\\s\\S]*changed ${leader}: start ZooKeeper`));
    expect(r.err).toMatch(/round 2: observing again/);
    expect(victim, r.out).toMatch(/^zk[1-5]$/);
    expect(victim).not.toBe(leader);
    const ids = stay.map((h) => h.slice(2)).join(",");
    expect(r.code, `${r.out}\n${r.err}`).toBe(4);
    expect(r.err, r.out).toMatch(new RegExp(`restart ${victim} with voters \\{${ids}\\} failed: .*put back on its previous release and configuration and serves again; the run halted`));
    const halted = await lastRun(t);
    expect(halted.records.some((x) => x.event === "undo-done")).toBe(true);
    expect(canaryTotal(halted.records)).toMatchObject({ lost: 0, expired: 0 });
    // Every member runs the old list again, the victim's file included; the old leader still serves, now following.
    for (const h of all) expect(await listed(h), h).toEqual([1, 2, 3, 4, 5]);
    await servesWithQuorum(t, all, "/faults-put-back");
    expect((await modes(t))[leader]).toBe("follower");

    const again = await apply(t, four, "--yes", "--json");
    expect(again.code, again.err).toBe(2);
    for (const h of stay) expect(await listed(h), h).toEqual(stay.map((x) => Number(x.slice(2))));
    await servesWithQuorum(t, stay, "/faults-put-back-done");
    expect(await javaDigest(address(stay[0]!), "/members")).toMatchObject({ nodes: LOAD + 1, digest: before.digest });
  }, 300_000);
});
