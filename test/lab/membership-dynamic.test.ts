// Membership changes by dynamic reconfiguration on ZooKeeper 3.9.3, in the
// lab's six hosts: an observer added and removed; the whole ensemble moved
// to three other hosts (A,B,C -> D,E,F: joins and leaves alternate, the
// leader leaves last); 3 -> 5 and 5 -> 3 voters, the rejoining hosts with new
// myids over their old data (moved aside). The controller killed mid-change
// leaves a safe configuration, and apply finishes the change.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { runCli } from "../helpers/cli.js";
import { pollUntil, useTestLab } from "../helpers/lab.js";
import { apply, change, load, membershipInventory, modes, reportedMembers } from "./membership-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("membership-dyn", subnet("membership-dyn"), 6, "3.9.3");

describe("membership changes by reconfig (3.9.3)", () => {
  let server = "";
  const inv = (file: string, hosts: Parameters<typeof membershipInventory>[2]) => {
    const password = join(t.lab.dir, "super.txt");
    writeFileSync(password, "lab-super-secret\n", { mode: 0o600 });
    return membershipInventory(t, file, hosts, { reconfig: true, super_password_file: password });
  };
  const addr = (name: string) => t.lab.hosts.find((h) => h.name === name)!.address;

  it("creates {zk1,zk2,zk3}, adds zk6 as an observer, then removes it", async () => {
    const first = await apply(t, inv("abc.yml", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }]), "--yes");
    expect(first.code, first.err).toBe(2);
    server = await load(t);
    const withObserver = inv("abc-obs.yml", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }, { name: "zk6", myid: 6, role: "observer" }]);
    const check = await apply(t, withObserver, "--check", "--json");
    expect(check.code, check.err).toBe(2);
    expect((check.json.stages as { title: string }[]).map((s) => s.title).join("\n")).toMatch(/add zk6 \(myid 6, observer\): voters \{1,2,3\} \(quorum 2\) -> \{1,2,3\} \(quorum 2\)/);
    await change(t, withObserver, { before: server, after: server }, ["reconfig", "await_config", "start"]);
    expect((await modes(t)).zk6).toBe("observer");
    expect(await reportedMembers(addr("zk1"))).toEqual(["1:participant", "2:participant", "3:participant", "6:observer"]);
    const without = inv("abc-obs-gone.yml", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }, { name: "zk6", myid: 6, role: "observer", state: "absent" }]);
    await change(t, without, { before: server, after: server }, ["reconfig", "stop"]);
    expect(await reportedMembers(addr("zk2"))).toEqual(["1:participant", "2:participant", "3:participant"]);
    expect((await modes(t)).zk6).toBeUndefined();
  }, 300_000);

  it("moves the whole ensemble to zk4, zk5, zk6 (myids above any used; zk6 over its old data), one server at a time, the leader leaving last", async () => {
    const leader = Object.entries(await modes(t)).find(([, m]) => m === "leader")![0];
    const moved = inv("def.yml", [
      { name: "zk1", myid: 1, state: "absent" }, { name: "zk2", myid: 2, state: "absent" }, { name: "zk3", myid: 3, state: "absent" },
      { name: "zk4", myid: 7 }, { name: "zk5", myid: 8 }, { name: "zk6", myid: 9 },
    ]);
    const r = await change(t, moved, { before: server, after: `${addr("zk4")}:2181` }, ["reconfig", "await_config", "clean_data"]);
    expect(r.json.results.filter((x) => x.kind === "reconfig")).toHaveLength(6);
    const stops = r.json.results.filter((x) => x.kind === "stop").map((x) => x.host);
    expect(stops.at(-1)).toBe(leader);
    expect(await reportedMembers(addr("zk4"))).toEqual(["7:participant", "8:participant", "9:participant"]);
    const now = await modes(t);
    expect([now.zk1, now.zk2, now.zk3]).toEqual([undefined, undefined, undefined]);
  }, 300_000);

  it("grows 3 -> 5 (zk1 and zk2 back with new myids) and shrinks 5 -> 3", async () => {
    const five = inv("five.yml", [
      { name: "zk1", myid: 10 }, { name: "zk2", myid: 11 }, { name: "zk3", myid: 3, state: "absent" },
      { name: "zk4", myid: 7 }, { name: "zk5", myid: 8 }, { name: "zk6", myid: 9 },
    ]);
    await change(t, five, { before: `${addr("zk4")}:2181`, after: `${addr("zk1")}:2181` }, ["reconfig", "start"]);
    expect(await reportedMembers(addr("zk5"))).toEqual(["10:participant", "11:participant", "7:participant", "8:participant", "9:participant"]);
    const three = inv("three.yml", [
      { name: "zk1", myid: 10, state: "absent" }, { name: "zk2", myid: 11, state: "absent" }, { name: "zk3", myid: 3, state: "absent" },
      { name: "zk4", myid: 7 }, { name: "zk5", myid: 8 }, { name: "zk6", myid: 9 },
    ]);
    await change(t, three, { before: `${addr("zk4")}:2181`, after: `${addr("zk5")}:2181` }, ["reconfig", "stop"]);
    expect(await reportedMembers(addr("zk6"))).toEqual(["7:participant", "8:participant", "9:participant"]);
  }, 300_000);

  it("an id used before is refused; the controller killed mid-change leaves a configuration apply finishes", async () => {
    const reused = inv("reused.yml", [
      { name: "zk1", myid: 10 }, { name: "zk4", myid: 7 }, { name: "zk5", myid: 8 }, { name: "zk6", myid: 9 },
    ]);
    const refused = await apply(t, reused, "--check", "--json");
    expect(refused.code, refused.err).toBe(5);
    expect(refused.err).toMatch(/myid 10, which the ensemble used before \(largest used: 11\)/);

    const grow = inv("grow.yml", [
      { name: "zk1", myid: 12 }, { name: "zk2", myid: 13 },
      { name: "zk4", myid: 7 }, { name: "zk5", myid: 8 }, { name: "zk6", myid: 9 },
    ]);
    const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), "apply", "-i", grow, "--yes"], { env: { ...process.env, ...t.env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    // Killed right after the first reconfig committed: zk1 counts, zk2 has not joined.
    const killedAfter = await pollUntil(async () => (/changed zk\d: reconfig/.test(out) ? true : undefined), 120_000, 100);
    child.kill("SIGKILL");
    expect(killedAfter).toBe(true);
    await new Promise((r) => child.on("close", r));
    const members = await reportedMembers(addr("zk4"));
    expect(members).toContain("12:participant");
    expect(members).not.toContain("13:participant");
    // Its lock is left behind: a plain apply is refused; `runs resume` takes it back, observes afresh and finishes.
    const blocked = await apply(t, grow, "--yes");
    expect(blocked.code).not.toBe(0);
    expect(blocked.err).toMatch(/lock/);
    const runs = JSON.parse((await runCli(["runs", "--json"], t.env)).out) as { run: string; outcome: string }[];
    const killed = runs.filter((x) => x.outcome.startsWith("no end record")).at(-1)!;
    const resumed = await runCli(["runs", "resume", killed.run, "--yes", "--json"], t.env);
    expect(resumed.code, resumed.err).toBe(2);
    const finish = { json: JSON.parse(resumed.out) };
    expect(finish.json.final.verdict).toBe("healthy");
    expect(await reportedMembers(addr("zk5"))).toEqual(["12:participant", "13:participant", "7:participant", "8:participant", "9:participant"]);
  }, 300_000);
});
