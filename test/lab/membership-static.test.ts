// Membership changes with static configuration on ZooKeeper 3.4.13 (the
// manual rolling-restart procedure): a joiner starts with the new server list, then the others are
// restarted with it one at a time under the rolling gates, the leader last;
// a leaving server is stopped once no configuration counts it. One change
// per plan: each leader restart elects a leader nobody can name in advance,
// so apply observes again before planning the next change.
import { describe, expect, it } from "vitest";
import { useTestLab } from "../helpers/lab.js";
import { apply, change, load, membershipInventory, modes } from "./membership-scenario.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("membership-static", subnet("membership-static"), 5, "3.4.13");

describe("membership changes by rolling restarts (3.4.13)", () => {
  const addr = (name: string) => `${t.lab.hosts.find((h) => h.name === name)!.address}:2181`;

  it("replaces zk2 and zk3 by zk4 and zk5 (A,B,C -> A,D,E), one voter at a time, each change planned afresh", async () => {
    const abc = membershipInventory(t, "abc.yml", [{ name: "zk1", myid: 1 }, { name: "zk2", myid: 2 }, { name: "zk3", myid: 3 }]);
    const first = await apply(t, abc, "--yes");
    expect(first.code, first.err).toBe(2);
    const server = await load(t);
    const ade = membershipInventory(t, "ade.yml", [
      { name: "zk1", myid: 1 }, { name: "zk2", myid: 2, state: "absent" }, { name: "zk3", myid: 3, state: "absent" },
      { name: "zk4", myid: 4 }, { name: "zk5", myid: 5 },
    ]);
    const check = await apply(t, ade, "--check");
    expect(check.code, check.err).toBe(2);
    expect(check.out).toMatch(/then, each planned afresh once the one before is done: /);
    const r = await change(t, ade, { before: server, after: addr("zk1") }, ["start", "stop", "write_file"]);
    // Every restart of a member was gated before its stop and checked after its start.
    let gated = false;
    for (const x of r.json.results) {
      if (x.kind === "await_healthy") gated = true;
      if (x.kind === "stop" && x.host !== "zk2" && x.host !== "zk3") {
        expect(gated, `${x.host} stopped without a gate`).toBe(true);
        gated = false;
      }
    }
    const now = await modes(t);
    expect([now.zk2, now.zk3]).toEqual([undefined, undefined]);
    expect([now.zk1, now.zk4, now.zk5].filter((m) => m === "leader")).toHaveLength(1);
  }, 420_000);

  it("adds zk2 as an observer (myid 6) and takes it out again", async () => {
    const base = [{ name: "zk1", myid: 1 }, { name: "zk3", myid: 3, state: "absent" as const }, { name: "zk4", myid: 4 }, { name: "zk5", myid: 5 }];
    const withObserver = membershipInventory(t, "obs.yml", [...base, { name: "zk2", myid: 6, role: "observer" }]);
    await change(t, withObserver, { before: addr("zk1"), after: addr("zk2") }, ["clean_data", "start"]);
    expect((await modes(t)).zk2).toBe("observer");
    const without = membershipInventory(t, "obs-gone.yml", [...base, { name: "zk2", myid: 6, role: "observer", state: "absent" }]);
    await change(t, without, { before: addr("zk1"), after: addr("zk4") }, ["stop"]);
    expect((await modes(t)).zk2).toBeUndefined();
  }, 420_000);

  it("grows 3 -> 5 (zk2 and zk3 back with new myids over their old data) and shrinks 5 -> 3", async () => {
    const five = membershipInventory(t, "five.yml", [
      { name: "zk1", myid: 1 }, { name: "zk2", myid: 7 }, { name: "zk3", myid: 8 }, { name: "zk4", myid: 4 }, { name: "zk5", myid: 5 },
    ]);
    await change(t, five, { before: addr("zk1"), after: addr("zk2") }, ["clean_data", "start"]);
    expect(Object.values(await modes(t)).filter((m) => m === "leader" || m === "follower")).toHaveLength(5);
    const three = membershipInventory(t, "three.yml", [
      { name: "zk1", myid: 1 }, { name: "zk2", myid: 7, state: "absent" }, { name: "zk3", myid: 8, state: "absent" },
      { name: "zk4", myid: 4 }, { name: "zk5", myid: 5 },
    ]);
    await change(t, three, { before: addr("zk1"), after: addr("zk4") }, ["stop"]);
    const now = await modes(t);
    expect([now.zk2, now.zk3]).toEqual([undefined, undefined]);
  }, 420_000);
});
