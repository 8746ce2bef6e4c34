import { describe, expect, it } from "vitest";
import { type HostReport, compareZxid, judgeEnsemble } from "../../controller/status/health.js";

const target = { name: "orders", inventory: "inv.yml", version: "3.8.0" };

function host(n: number, over: Partial<HostReport> = {}): HostReport {
  return {
    host: `zk${n}`, address: `10.0.0.${n}`, myid: n, role: "participant", reachable: true, running: true,
    mode: "follower", version: "3.8.0-abc, built on 2022", zxid: "0x100000002", myidOnHost: `${n}\n`, ...over,
  };
}

describe("judgeEnsemble", () => {
  it("is healthy with one leader, every voter following and all synced", () => {
    const r = judgeEnsemble(target, [host(1, { mode: "leader", syncedFollowers: 2 }), host(2), host(3)]);
    expect(r).toMatchObject({ verdict: "healthy", leader: "zk1", votersUp: 3, voters: 3, quorum: 2, problems: [] });
  });

  it("is degraded but serving with one voter of three unreachable", () => {
    const r = judgeEnsemble(target, [
      host(1, { mode: "leader", syncedFollowers: 1 }), host(2), host(3, { reachable: false, error: "ssh timeout", mode: undefined }),
    ]);
    expect(r.verdict).toBe("degraded");
    expect(r.problems).toEqual(["zk3: unreachable (ssh timeout)"]);
  });

  it("takes a lone server running standalone (a static list of one) as its own leader, and its conf's serverId 0 as no wrong myid", () => {
    const alone = judgeEnsemble(target, [host(1, { mode: "standalone", myidOnHost: "0" })]);
    expect(alone).toMatchObject({ verdict: "healthy", leader: "zk1", votersUp: 1, voters: 1, quorum: 1, problems: [] });
    // Among three voters standalone is wrong: that server runs an ensemble of its own.
    const stray = judgeEnsemble(target, [host(1, { mode: "leader", syncedFollowers: 1 }), host(2, { mode: "standalone", myidOnHost: "0" }), host(3)]);
    expect(stray.verdict).toBe("degraded");
    expect(stray.problems).toEqual(["zk2: mode standalone, expected leader or follower", "zk2: myid file says 0, the inventory says 2"]);
  });

  it("has no quorum with two voters of three down", () => {
    const r = judgeEnsemble(target, [host(1, { mode: undefined }), host(2, { running: false, mode: undefined }), host(3, { running: false, mode: undefined })]);
    expect(r.verdict).toBe("no-quorum");
    expect(r.problems[0]).toBe("0 of 3 voters serve; a quorum needs 2");
  });

  it("with a quorum of voters following a leader that answers nothing, says no voter leads (not that a quorum of two lacks two)", () => {
    const r = judgeEnsemble(target, [host(1), host(2, { answering: false, mode: undefined }), host(3)]);
    expect(r.verdict).toBe("no-quorum");
    expect(r.problems[0]).toBe("no voter answers as leader: zk1, zk3 say they follow one (a quorum needs 2 voters and a leader)");
    expect(r.problems[0]).not.toMatch(/2 of 3 voters serve; a quorum needs 2/);
  });

  it("calls out two leaders, a wrong myid, a wrong version and unsynced followers", () => {
    const split = judgeEnsemble(target, [host(1, { mode: "leader" }), host(2, { mode: "leader" }), host(3)]);
    expect(split.verdict).toBe("split-brain");
    const r = judgeEnsemble(target, [
      host(1, { mode: "leader", syncedFollowers: 1 }), host(2, { myidOnHost: "7" }), host(3, { version: "3.4.13-1" }),
    ]);
    expect(r.verdict).toBe("degraded");
    expect(r.problems).toEqual([
      "zk2: myid file says 7, the inventory says 2",
      "zk3: runs ZooKeeper 3.4.13-1, the inventory says 3.8.0",
      "zk1 (leader): 1 synced followers, 2 voters follow it",
    ]);
  });

  it("says a server that accepts connections but answers nothing is frozen or overloaded", () => {
    const r = judgeEnsemble(target, [host(1, { mode: "leader", syncedFollowers: 1 }), host(2), host(3, { answering: false, mode: undefined })]);
    expect(r.verdict).toBe("degraded");
    expect(r.problems).toEqual(["zk3: ZooKeeper accepts connections on its client port but answers nothing (frozen or overloaded?)"]);
  });

  it("expects observers to observe and does not count them as voters", () => {
    const r = judgeEnsemble(target, [host(1, { mode: "leader", syncedFollowers: 1 }), host(2), host(3, { role: "observer", mode: "follower" })]);
    expect(r.voters).toBe(2);
    expect(r.problems).toEqual(["zk3: mode follower, expected observer"]);
  });
});

describe("compareZxid", () => {
  it("orders numerically, not as strings", () => {
    expect(compareZxid("0x100000002", "0xffffffff")).toBe(1);
    expect(compareZxid("0x0", "0x0")).toBe(0);
  });
});
