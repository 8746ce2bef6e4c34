// The membership plan as the executor will run it, on observed ensembles
// built in memory: the order of steps in a dynamic join and leave, the
// static way's restarts with the leader last and one change per plan, and
// the refusal when no safe order exists.
import { describe, expect, it } from "vitest";
import type { MemberSpec } from "../../controller/model/membership-plan.js";
import { type MembershipRunInput, planMembershipRun } from "../../controller/plan/membership-run.js";
import type { DesiredHost } from "../../controller/plan/plan.js";
import { planSteps } from "../../controller/plan/steps.js";
import { type HostShape, observedHost } from "../helpers/observed.js";

const CFG = "/etc/zookeeper/conf/zoo.cfg";
const v = (id: number, host = `zk${id}`): MemberSpec => ({ id, host, role: "participant" });
const names = ["zk1", "zk2", "zk3", "zk4"];

function desired(host: string): DesiredHost {
  return {
    host, version: "3.9.3", tarball: "/a/zk.tgz", installDir: "/opt/zookeeper", transferDir: "/opt/zkfleet/dists", stateDir: "/opt/zkfleet/state",
    files: [], start: { install_dir: "/opt/zookeeper", config_dir: "/etc/zookeeper/conf", data_dir: "/var/lib/zookeeper" },
    stop: { data_dir: "/var/lib/zookeeper", config_path: CFG }, clean: { data_dir: "/var/lib/zookeeper", config_path: CFG },
  };
}

function input(mode: MembershipRunInput["mode"], current: MemberSpec[], wanted: MemberSpec[], shapes: HostShape[], leader = "zk1"): MembershipRunInput {
  return {
    target: { name: "e", inventory: "e.yml", version: "3.9.3", members: names.map((h, i) => ({ host: h, address: `10.0.0.${i + 1}`, myid: i + 1, role: "participant", probe: { address: `10.0.0.${i + 1}`, port: 2181 } })) },
    mode, current, wanted, leader,
    desired: new Map(names.map((h) => [h, desired(h)])),
    observed: new Map(shapes.map((s) => [s.host, observedHost(s)])),
    filesFor: (host, servers) => [{ path: CFG, mode: 0o644, content: `# ${host}\n${servers.map((m) => `server.${m.id}=${m.host}:2888:3888`).join("\n")}\n` }],
    record: (_h, servers) => ({ path: "/opt/zkfleet/state/membership-e.json", mode: 0o644, content: JSON.stringify(servers.map((m) => m.id)) }),
    spec: (m) => `server.${m.id}=${m.host}:2888:3888:${m.role};2181`,
    canonical: (m) => `server.${m.id}=${m.host}:2888:3888:${m.role}`,
    versions: ["3.9.3"], timeouts: { gateMs: 30_000, settleMs: 120_000 }, clientConnect: "zk1:2181",
  };
}

const running = (host: string, mode: string): HostShape => ({ host, running: true, mode, current: "3.9.3" });
const kinds = (steps: { kind: string; host: string }[]) => steps.map((s) => `${s.kind}:${s.host}`);

describe("planMembershipRun", () => {
  it("dynamic join: the joiner is installed, started with the committed configuration plus itself, checked as a learner, then added and the configuration awaited", () => {
    const plan = planMembershipRun(input("dynamic", [v(1), v(2), v(3)], [v(1), v(2), v(3), v(4)],
      [running("zk1", "leader"), running("zk2", "follower"), running("zk3", "follower"), { host: "zk4" }]));
    expect(plan.refusals).toEqual([]);
    const join = plan.stages.find((s) => s.title.startsWith("add zk4"))!;
    expect(kinds(join.steps)).toEqual(["install:zk4", "await_healthy:*", "write_file:zk4", "start:zk4", "await_healthy:*", "reconfig:zk1", "await_config:*"]);
    const write = join.steps.find((s) => s.kind === "write_file");
    expect(write?.kind === "write_file" && write.content).toContain("server.4=zk4");
    expect(join.steps[4]).toMatchObject({ roles: { zk4: "learner" }, caughtUp: "zk4" });
    expect(join.steps[5]).toMatchObject({ add: ["server.4=zk4:2888:3888:participant;2181"], remove: [] });
    expect(join.steps[6]).toMatchObject({ hosts: ["zk1", "zk2", "zk3", "zk4"] });
    expect(plan.stages.at(-1)!.title).toMatch(/clients should now connect to zk1:2181/);
  });

  it("dynamic leave of the leader: removed through another member, then stopped, then the rest checked", () => {
    const plan = planMembershipRun(input("dynamic", [v(1), v(2), v(3), v(4)], [v(2), v(3), v(4)],
      [running("zk1", "leader"), running("zk2", "follower"), running("zk3", "follower"), running("zk4", "follower")]));
    const steps = planSteps(plan);
    const reconfig = steps.find((s) => s.kind === "reconfig")!;
    expect(reconfig).toMatchObject({ remove: [1], add: [] });
    expect(reconfig.host).not.toBe("zk1");
    expect(kinds(steps).indexOf("stop:zk1")).toBeGreaterThan(kinds(steps).indexOf(`reconfig:${reconfig.host}`));
  });

  it("static join: one change per plan, the others restarted with the new list followers first and the leader last", () => {
    const plan = planMembershipRun(input("static", [v(1), v(2)], [v(1), v(2), v(3), v(4)],
      [running("zk1", "follower"), running("zk2", "leader"), { host: "zk3" }, { host: "zk4" }], "zk2"));
    expect(plan.continues).toEqual(["add zk4 (myid 4): voters {1,2,3} -> {1,2,3,4}"]);
    const restarts = plan.stages.filter((s) => s.title.startsWith("restart")).map((s) => s.title);
    expect(restarts).toEqual(["restart zk1 with voters {1,2,3}", "restart zk2 with voters {1,2,3}"]);
    expect(planSteps(plan).some((s) => s.kind === "reconfig")).toBe(false);
  });

  it("static: a follower whose restart with the new list fails is put back on the old list; the leader, restarted last, is not", () => {
    const oldList = "# zk1\nserver.1=zk1:2888:3888\nserver.2=zk2:2888:3888\n";
    const plan = planMembershipRun(input("static", [v(1), v(2)], [v(1), v(2), v(3)],
      [{ ...running("zk1", "follower"), files: { [CFG]: oldList } }, running("zk2", "leader"), { host: "zk3" }, { host: "zk4" }], "zk2"));
    const follower = plan.stages.find((s) => s.title === "restart zk1 with voters {1,2,3}")!;
    expect(kinds(follower.undo ?? [])).toEqual(["await_healthy:*", "stop:zk1", "write_file:zk1", "start:zk1", "await_healthy:*"]);
    // Its stop is gated: only while a quorum of the list the leader counts by serves without it.
    expect(follower.undo![0]).toMatchObject({ role: "gate", quorumWithout: "zk1", hosts: ["zk1", "zk2", "zk3"], roles: { zk3: "learner" } });
    const back = follower.undo!.find((s) => s.kind === "write_file");
    expect(back?.kind === "write_file" && back.content).toBe(oldList);
    // The check after putting it back judges the list the leader still counts by, the joiner serving without a vote.
    expect(follower.undo!.at(-1)).toMatchObject({ role: "check", hosts: ["zk1", "zk2", "zk3"], roles: { zk3: "learner" } });
    expect(plan.stages.find((s) => s.title === "restart zk2 with voters {1,2,3}")!.undo).toBeUndefined();
  });

  it("static removal of the leader: it restarts as it is first so that another server leads, and the change is planned again", () => {
    const all = [running("zk1", "follower"), running("zk2", "follower"), running("zk3", "follower"), running("zk4", "leader")];
    const first = planMembershipRun(input("static", [v(1), v(2), v(3), v(4)], [v(1), v(2), v(3)], all, "zk4"));
    expect(first.refusals).toEqual([]);
    const steps = planSteps(first);
    expect(kinds(steps).filter((k) => /^(stop|start):/.test(k))).toEqual(["stop:zk4", "start:zk4"]);
    expect(steps.some((s) => s.kind === "write_file" && s.host === "zk4" && s.path.endsWith("zoo.cfg"))).toBe(false);
    expect(steps.at(-1)).toMatchObject({ kind: "await_healthy", role: "check", caughtUp: "zk4", roles: { zk4: "learner" } });
    // Between its stop and its start, another must lead: started at once it could win again (the highest id).
    const [stop, start] = [kinds(steps).indexOf("stop:zk4"), kinds(steps).indexOf("start:zk4")];
    expect(steps.slice(stop + 1, start)).toEqual([expect.objectContaining({ kind: "await_healthy", role: "check", hosts: ["zk1", "zk2", "zk3"] })]);
    expect(first.continues).toEqual(["remove zk4 (myid 4): voters {1,2,3,4} -> {1,2,3}"]);
    // Observed again with zk2 leading: the others restart with the new list, the new leader last, then zk4 stops.
    const again = planMembershipRun(input("static", [v(1), v(2), v(3), v(4)], [v(1), v(2), v(3)],
      [running("zk1", "follower"), running("zk2", "leader"), running("zk3", "follower"), running("zk4", "follower")], "zk2"));
    expect(again.refusals).toEqual([]);
    expect(again.stages.filter((s) => s.title.startsWith("restart")).map((s) => s.title))
      .toEqual(["restart zk1 with voters {1,2,3}", "restart zk3 with voters {1,2,3}", "restart zk2 with voters {1,2,3}"]);
    expect(kinds(planSteps(again)).at(-3)).toBe("stop:zk4");
    // Two voters: the change keeps a quorum, but the leader's restart would leave 1 of 2.
    const pair = planMembershipRun(input("static", [v(1), v(2)], [v(1)], [running("zk1", "follower"), running("zk2", "leader"), { host: "zk3" }, { host: "zk4" }], "zk2"));
    expect(pair.refusals.map((r) => r.code)).toEqual(["quorum_at_risk"]);
    expect(pair.refusals[0]!.message).toMatch(/zk2 leads and leaves; .* 1 voter\(s\) of \{1,2\} serve, below the quorum/);
  });

  it("a member that stays but is down is started and checked before anything changes, and every gate after counts it", () => {
    const plan = planMembershipRun(input("dynamic", [v(1), v(2), v(3)], [v(1), v(2), v(3), v(4)],
      [running("zk1", "leader"), running("zk2", "follower"), { host: "zk3", hasData: true, current: "3.9.3" }, { host: "zk4" }]));
    expect(plan.refusals).toEqual([]);
    const steps = planSteps(plan);
    const start = plan.stages.findIndex((s) => s.title.startsWith("start zk3"));
    expect(start).toBeGreaterThanOrEqual(0);
    expect(start).toBeLessThan(plan.stages.findIndex((s) => s.title.startsWith("add zk4")));
    expect(kinds(plan.stages[start]!.steps)).toEqual(["start:zk3", "await_healthy:*"]);
    expect(plan.stages[start]!.steps[1]).toMatchObject({ role: "check", hosts: ["zk1", "zk2", "zk3"], caughtUp: "zk3" });
    for (const s of steps.filter((x) => x.kind === "await_healthy" && x.role === "gate")) expect(s.kind === "await_healthy" && s.hosts).toContain("zk3");
    expect(steps.find((s) => s.kind === "await_config")).toMatchObject({ hosts: ["zk1", "zk2", "zk3", "zk4"] });
  });

  it("static: a change whose restarts would leave the list in force without a quorum while a voter is down is refused before anything is touched", () => {
    // zk3 leaves and is down: restarting zk2 with the new list would leave the leader alone among {1,2,3}.
    const plan = planMembershipRun(input("static", [v(1), v(2), v(3)], [v(1), v(2)],
      [running("zk1", "leader"), running("zk2", "follower"), { host: "zk3", hasData: true, current: "3.9.3" }, { host: "zk4" }]));
    expect(plan.stages).toEqual([]);
    expect(plan.refusals).toEqual([expect.objectContaining({ code: "quorum_at_risk", host: "zk2", data: expect.objectContaining({ left: 1, quorum: 2, down: ["zk3"] }) })]);
    expect(plan.refusals[0]!.message).toMatch(/leave 1 of the 3 voters \{1,2,3\} serving while zk3 is down/);
  });

  it("static: a leaver a killed run stopped mid-restart (its zoo.cfg already lists the new members) is started again first", () => {
    const listed = (ids: number[]) => ({ [CFG]: ids.map((id) => `server.${id}=zk${id}:2888:3888`).join("\n") + "\n" });
    const plan = planMembershipRun(input("static", [v(1), v(2), v(3), v(4)], [v(1), v(2), v(4)],
      [running("zk1", "leader"), running("zk2", "follower"), { host: "zk3", hasData: true, current: "3.9.3", files: listed([1, 2, 4]) }, running("zk4", "follower")]));
    expect(plan.refusals).toEqual([]);
    const start = plan.stages.findIndex((st) => st.title === "start zk3 (myid 3, participant), down but still counted");
    expect(kinds(plan.stages[start]!.steps)).toEqual(["start:zk3", "await_healthy:*"]);
    // Its removal follows, and it is stopped once no list counts it.
    const after = plan.stages.slice(start + 1).map((st) => st.title);
    expect(after[0]).toMatch(/^remove zk3 \(myid 3, participant\)/);
    expect(after).toContain("stop zk3, which left the ensemble");
  });

  it("static: a leaver its agent started again after the controller died (running, not yet serving) is waited for, and leaves in its turn", () => {
    const listed = { [CFG]: [1, 2, 3, 4].map((id) => `server.${id}=zk${id}:2888:3888`).join("\n") + "\n" };
    const plan = planMembershipRun(input("static", [v(1), v(2), v(3)], [v(1), v(2), v(4)],
      [running("zk1", "leader"), running("zk2", "follower"), { host: "zk3", running: true, current: "3.9.3", files: listed }, { host: "zk4" }]));
    expect(plan.refusals).toEqual([]);
    expect(plan.stages.map((st) => st.title).find((x) => /^(add|remove) /.test(x))).toMatch(/^add zk4 /);
    expect(plan.stages.some((st) => st.title.startsWith("start zk3"))).toBe(false);
  });

  it("static: a voter leaving three is refused: a follower restarted with a list of two never rejoins", () => {
    const plan = planMembershipRun(input("static", [v(1), v(2), v(3)], [v(1), v(2)],
      [running("zk1", "leader"), running("zk2", "follower"), running("zk3", "follower"), { host: "zk4" }]));
    expect(plan.stages).toEqual([]);
    expect(plan.refusals[0]).toMatchObject({ code: "unsafe_membership_change", host: "zk3" });
    expect(plan.refusals[0]!.message).toMatch(/static server lists of two voters \{1,2\}/);
  });

  it("refuses, changing nothing, when the servers live cannot carry the change", () => {
    const plan = planMembershipRun(input("dynamic", [v(1), v(2), v(3)], [v(1), v(2), v(3), v(4)],
      [running("zk1", "leader"), { host: "zk2", running: true }, { host: "zk3" }, { host: "zk4" }]));
    expect(plan.stages).toEqual([]);
    expect(plan.refusals[0]).toMatchObject({ code: "unsafe_membership_change" });
    expect(plan.refusals[0]!.message).toMatch(/below its quorum/);
  });
});
