// The planner's rules on observed ensembles built in memory: what it plans,
// in which order and grouping, and what it refuses, with the refusal codes
// that --json and tests match on.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DesiredHost, type PlanInput, type Step, planApply, planSteps, restartOrder } from "../../controller/plan/plan.js";
import type { EnsembleTarget } from "../../controller/model/target.js";
import { type HostShape, observedHost } from "../helpers/observed.js";

const CFG = "/etc/zookeeper/conf/zoo.cfg";
const DYN = "/etc/zookeeper/conf/zoo.cfg.dynamic";
const MYID = "/var/lib/zookeeper/myid";
const lines = (ids: number[], modern = false) => ids.map((n) => `server.${n}=zk${n}:2888:3888${modern ? ":participant;2181" : ""}`);
const cfg = (ids: number[], extra: string[] = []) => ["tickTime=2000", ...extra, ...lines(ids)].join("\n") + "\n";
const reconfigCfg = (extra: string[] = []) => ["tickTime=2000", "clientPort=2181", ...extra, "reconfigEnabled=true", `dynamicConfigFile=${DYN}`].join("\n") + "\n";
const dyn = (ids: number[]) => lines(ids, true).join("\n") + "\n";

function target(hosts: string[], version = "3.8.0"): EnsembleTarget {
  return {
    name: "e", inventory: "e.yml", version,
    members: hosts.map((h, i) => ({ host: h, address: `10.0.0.${i + 1}`, myid: i + 1, role: "participant", probe: { address: "127.0.0.1", port: 2181 } })),
  };
}

function desired(host: string, files: Record<string, string>, version = "3.8.0"): DesiredHost {
  return {
    host, version, tarball: "/a/zk.tgz", installDir: "/opt/zookeeper", transferDir: "/opt/zkfleet/dists", stateDir: "/opt/zkfleet/state",
    files: [...Object.entries(files).map(([path, content]) => ({ path, content, mode: 0o644 })), { path: MYID, content: `${host.slice(2)}\n`, mode: 0o644 }],
    start: { install_dir: "/opt/zookeeper", config_dir: "/etc/zookeeper/conf", data_dir: "/var/lib/zookeeper" },
    stop: { data_dir: "/var/lib/zookeeper", config_path: CFG },
    clean: { data_dir: "/var/lib/zookeeper", config_path: CFG },
  };
}

/** A host as the desired one would leave it, running in `mode`. */
function asDesired(d: DesiredHost, over: Partial<HostShape> = {}): HostShape {
  return {
    host: d.host, running: true, mode: "follower", current: d.version,
    files: Object.fromEntries(d.files.map((f) => [f.path, f.content])), ...over,
  };
}

function input(ds: DesiredHost[], shapes: HostShape[], over: Partial<PlanInput> = {}): PlanInput {
  return {
    target: target(ds.map((d) => d.host), ds[0]?.version), desired: ds, observed: shapes.map(observedHost),
    config: { zooCfg: CFG }, timeouts: { gateMs: 30_000, settleMs: 120_000 }, ...over,
  };
}

const kinds = (steps: Step[]) => steps.map((s) => `${s.kind}:${s.host}`);
const hosts3 = ["zk1", "zk2", "zk3"];

describe("planApply", () => {
  it("brings a new ensemble up: hosts prepared in parallel, then started one by one, then a check", () => {
    const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3]) }));
    const plan = planApply(input(ds, hosts3.map((host) => ({ host }))));
    expect(plan.refusals).toEqual([]);
    expect(plan.stages.map((s) => [s.concurrent, kinds(s.steps)])).toEqual([
      [true, ["install:zk1", "write_file:zk1", "write_file:zk1", "install:zk2", "write_file:zk2", "write_file:zk2", "install:zk3", "write_file:zk3", "write_file:zk3"]],
      [false, ["start:zk1", "start:zk2", "start:zk3", "await_healthy:*"]],
    ]);
    const write = planSteps(plan).find((s) => s.kind === "write_file");
    expect(write).toMatchObject({ before: "absent", stateDir: "/opt/zkfleet/state" });
    expect(write?.kind === "write_file" && write.diff).toContain("+server.1=zk1:2888:3888");
    expect(planSteps(plan).find((s) => s.kind === "start")).toMatchObject({ args: { install_dir: "/opt/zookeeper", data_dir: "/var/lib/zookeeper" } });
  });

  it("plans nothing when every host is as desired (idempotent)", () => {
    const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3]) }));
    const plan = planApply(input(ds, ds.map((d) => asDesired(d))));
    expect(plan.stages).toEqual([]);
    expect(plan.unchanged).toEqual(hosts3);
  });

  it("refuses everything when one host cannot be observed, with a code", () => {
    const ds = ["zk1", "zk2"].map((h) => desired(h, { [CFG]: cfg([1, 2]) }));
    const plan = planApply(input(ds, [{ host: "zk1" }, { host: "zk2", reachable: false, error: "connection refused" }]));
    expect(plan.stages).toEqual([]);
    expect(plan.refusals).toEqual([{
      code: "unobservable_host", host: "zk2", message: "zk2: cannot be observed (connection refused); nothing was changed", data: { error: "connection refused" },
    }]);
  });

  it("rolls a changed configuration one stage per host, leader last: gate, write, stop, start, check", () => {
    const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3], ["maxClientCnxns=100"]) }));
    const modes: Record<string, string> = { zk1: "leader", zk2: "follower", zk3: "follower" };
    const shapes = ds.map((d) => asDesired(d, { mode: modes[d.host]!, files: { [CFG]: cfg([1, 2, 3]), [MYID]: `${d.host.slice(2)}\n` } }));
    const plan = planApply(input(ds, shapes));
    expect(plan.stages.map((s) => s.title)).toEqual(["roll zk2 (follower)", "roll zk3 (follower)", "roll zk1 (leader)"]);
    for (const stage of plan.stages) {
      const h = stage.steps[1]!.host;
      expect(kinds(stage.steps)).toEqual(["await_healthy:*", `write_file:${h}`, `stop:${h}`, `start:${h}`, "await_healthy:*"]);
      expect(stage.steps.map((s) => (s.kind === "await_healthy" ? s.role : undefined))).toEqual(["gate", undefined, undefined, undefined, "settle"]);
    }
  });

  it("touches only --limit hosts, and awaits no ensemble the others cannot form", () => {
    const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3]) }));
    const plan = planApply(input(ds, hosts3.map((host) => ({ host })), { limit: ["zk2"] }));
    expect(new Set(planSteps(plan).map((s) => s.host))).toEqual(new Set(["zk2"]));
    expect(planSteps(plan).some((s) => s.kind === "await_healthy")).toBe(false);
  });

  describe("refusals", () => {
    it("refuses a roll that would restart a voter while another is down and left out by --limit", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3], ["maxClientCnxns=100"]) }));
      const shapes = ds.map((d) => asDesired(d, {
        files: { [CFG]: cfg([1, 2, 3]), [MYID]: `${d.host.slice(2)}\n` }, ...(d.host === "zk3" ? { running: false, hasData: true } : {}),
      }));
      const plan = planApply(input(ds, shapes, { limit: ["zk1", "zk2"] }));
      expect(plan.stages).toEqual([]);
      expect(plan.refusals).toEqual([expect.objectContaining({ code: "quorum_at_risk", data: { voters: 3, votersUp: 2, quorum: 2 } })]);
      // In scope, the stopped voter is started first and the roll can go ahead.
      expect(planApply(input(ds, shapes)).stages.map((s) => s.title)).toEqual(["prepare hosts that serve nothing yet", "start servers that are down", "roll zk1 (follower)", "roll zk2 (follower)"]);
    });

    it("refuses to rewrite the membership of a running ensemble (static server lines)", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3, 4]) }));
      const plan = planApply(input(ds, ds.map((d) => asDesired(d, { files: { [CFG]: cfg([1, 2, 3]) } }))));
      expect(plan.stages).toEqual([]);
      expect(plan.refusals.map((r) => [r.code, r.host])).toEqual([["membership_change", "zk1"], ["membership_change", "zk2"], ["membership_change", "zk3"]]);
      expect(plan.refusals[0]!.data).toEqual({ source: CFG, added: ["server.4=zk4:2888:3888:participant"], removed: [] });
    });

    it("hole 1: with reconfig, a membership edit is refused, read from what the running server reports", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: reconfigCfg(), [DYN]: dyn([1, 2, 3, 4]) }));
      // ZooKeeper has rewritten zoo.cfg and moved the dynamic file; its conf lists the members.
      const conf = Object.fromEntries(lines([1, 2, 3], true).map((l) => l.split("=") as [string, string]).map(([k, v]) => [k, v.replace(";2181", ";0.0.0.0:2181")]));
      const live = `${DYN}.100000000`;
      const shapes = ds.map((d) => asDesired(d, {
        files: { [CFG]: `tickTime=2000\nreconfigEnabled=true\ndynamicConfigFile=${live}\n`, [DYN]: dyn([1, 2, 3]), [MYID]: `${d.host.slice(2)}\n` },
        dynamic: { path: live, content: dyn([1, 2, 3]) }, conf,
      }));
      const plan = planApply(input(ds, shapes, { config: { zooCfg: CFG, dynamic: DYN } }));
      expect(plan.stages).toEqual([]);
      expect(plan.refusals[0]).toMatchObject({ code: "membership_change", data: { source: "the running server (conf)", added: ["server.4=zk4:2888:3888:participant;0.0.0.0:2181"] } });
    });

    it("a member named by its address in what the servers report is the member the inventory names: no membership change", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: reconfigCfg(), [DYN]: dyn([1, 2, 3]) }));
      // zk1 joined by address while its name still belonged to the server it replaced (a move under the same name).
      const reported = (id: number) => `${id === 1 ? "10.0.0.1" : `zk${id}`}:2888:3888:participant;0.0.0.0:2181`;
      const conf = Object.fromEntries([1, 2, 3].map((id) => [`server.${id}`, reported(id)]));
      const live = `${DYN}.100000000`;
      const shapes = ds.map((d) => asDesired(d, {
        files: { [CFG]: `tickTime=2000\nreconfigEnabled=true\ndynamicConfigFile=${live}\n`, [DYN]: dyn([1, 2, 3]), [MYID]: `${d.host.slice(2)}\n` },
        dynamic: { path: live, content: dyn([1, 2, 3]) }, conf,
      }));
      expect(planApply(input(ds, shapes, { config: { zooCfg: CFG, dynamic: DYN } })).refusals).toEqual([]);
      // Another address is another server: refused as before.
      const elsewhere = shapes.map((sh) => ({ ...sh, conf: { ...conf, "server.1": "10.9.9.9:2888:3888:participant;0.0.0.0:2181" } }));
      expect(planApply(input(ds, elsewhere, { config: { zooCfg: CFG, dynamic: DYN } })).refusals[0]).toMatchObject({ code: "membership_change" });
    });

    it("hole 2: --limit on a stopped host with a new server list is refused; membership is checked on every host", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 4]) }));
      const shapes = ds.map((d) => asDesired(d, { files: { [CFG]: cfg([1, 2, 3]) }, ...(d.host === "zk3" ? { running: false, hasData: true } : {}) }));
      const plan = planApply(input(ds, shapes, { limit: ["zk3"] }));
      expect(plan.stages).toEqual([]);
      expect(plan.refusals.map((r) => `${r.code}:${r.host}`)).toEqual(["membership_change:zk1", "membership_change:zk2", "membership_change:zk3"]);
    });

    it("hole 3: a managed file that exists but cannot be read stops the plan instead of being created", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3]) }));
      const shapes = hosts3.map((host): HostShape => (host === "zk2" ? { host, files: { [MYID]: { unreadable: "EACCES: permission denied" } } } : { host }));
      const plan = planApply(input(ds, shapes));
      expect(plan.stages).toEqual([]);
      expect(plan.refusals).toEqual([{
        code: "unreadable_file", host: "zk2", data: { path: MYID, error: "EACCES: permission denied" },
        message: `zk2: ${MYID} exists but cannot be read (EACCES: permission denied); planning it as absent would overwrite it`,
      }]);
    });

    it("refuses a hop that cannot be rolled (back to 3.4 from 3.8), on running and stopped servers alike", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3]) }, "3.4.13"));
      const shapes = ds.map((d) => asDesired(d, { current: "3.8.0", ...(d.host === "zk3" ? { running: false, hasData: true } : {}) }));
      const plan = planApply(input(ds, shapes));
      expect(plan.stages).toEqual([]);
      expect(plan.refusals.map((r) => [r.code, r.host, r.data.from])).toEqual([
        ["unsafe_version_hop", "zk1", "3.8.0"], ["unsafe_version_hop", "zk2", "3.8.0"], ["unsafe_version_hop", "zk3", "3.8.0"],
      ]);
      expect(plan.refusals[0]!.message).toMatch(/restore of a backup/);
    });
  });

  describe("a restart that is pending (a run killed between writing and restarting)", () => {
    const ds = () => hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3], ["maxClientCnxns=100"]) }));

    it("a file newer than the running server means it runs the old configuration: restart it, without writing", () => {
      const shapes = ds().map((d) => asDesired(d, d.host === "zk2" ? { startedAt: 5_000, writtenAt: { [CFG]: 9_000 } } : {}));
      const plan = planApply(input(ds(), shapes));
      expect(plan.stages.map((s) => s.title)).toEqual(["roll zk2 (follower)"]);
      expect(kinds(plan.stages[0]!.steps)).toEqual(["await_healthy:*", "stop:zk2", "start:zk2", "await_healthy:*"]);
      expect(plan.stages[0]!.steps[1]!.reason).toMatch(/^a restart is pending: \/etc\/zookeeper\/conf\/zoo\.cfg changed after the server started/);
    });

    it("a setting the server reports otherwise than its zoo.cfg means the same", () => {
      const shapes = ds().map((d) => asDesired(d, d.host === "zk3" ? { conf: { maxClientCnxns: "60", tickTime: "2000" } } : { conf: { maxClientCnxns: "100" } }));
      const plan = planApply(input(ds(), shapes));
      expect(plan.stages.map((s) => s.title)).toEqual(["roll zk3 (follower)"]);
      expect(plan.stages[0]!.steps[1]!.reason).toBe("a restart is pending: the server runs maxClientCnxns=60, its zoo.cfg says 100");
    });

    it("static lists on 3.5+: a server that runs a line naming a member by its address, its zoo.cfg by its name, restarts; one running the names does not", () => {
      const dsm = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3]).replace(/:3888$/gm, ":3888:participant;2181") }));
      const running = (byAddress: number[]) => Object.fromEntries([1, 2, 3].map((n) => [`server.${n}`, `${byAddress.includes(n) ? `10.0.0.${n}` : `zk${n}`}:2888:3888:participant;0.0.0.0:2181`]));
      const shapes = dsm.map((d) => asDesired(d, { conf: running(d.host === "zk2" ? [] : [1]), mode: d.host === "zk3" ? "leader" : "follower" }));
      const plan = planApply(input(dsm, shapes));
      expect(plan.refusals).toEqual([]);
      expect(plan.stages.map((s) => s.title)).toEqual(["roll zk1 (follower)", "roll zk3 (leader)"]);
      expect(plan.stages[0]!.steps[1]!.reason).toBe("a restart is pending: the server runs server.1=10.0.0.1:2888:3888:participant, its zoo.cfg says server.1=zk1:2888:3888:participant");
    });

    it("reconfig turned on in a running static ensemble: each zoo.cfg keeps its server lines and names no dynamic file (ZooKeeper makes its own); leader last", () => {
      const modern = (ids: number[]) => cfg(ids).replace(/:3888$/gm, ":3888:participant;2181");
      const dsr = hosts3.map((h) => desired(h, { [CFG]: reconfigCfg(), [DYN]: dyn([1, 2, 3]) }));
      const shapes = dsr.map((d) => asDesired(d, {
        files: { [CFG]: modern([1, 2, 3]), [MYID]: `${d.host.slice(2)}\n` }, mode: d.host === "zk1" ? "leader" : "follower",
      }));
      const plan = planApply(input(dsr, shapes, { config: { zooCfg: CFG, dynamic: DYN } }));
      expect(plan.refusals).toEqual([]);
      expect(plan.stages.map((s) => s.title)).toEqual(["roll zk2 (follower)", "roll zk3 (follower)", "roll zk1 (leader)"]);
      const writes = planSteps(plan).filter((s) => s.kind === "write_file");
      expect(writes.map((w) => `${w.host} ${w.kind === "write_file" ? w.path : ""}`)).toEqual([`zk2 ${CFG}`, `zk3 ${CFG}`, `zk1 ${CFG}`]);
      const content = writes[0]!.kind === "write_file" ? writes[0]!.content : "";
      expect(content).toMatch(/^reconfigEnabled=true$/m);
      expect(content).not.toMatch(/dynamicConfigFile/);
      expect(content.match(/^server\..*$/gm)).toEqual(lines([1, 2, 3], true));

      // Killed after writing it, before the restart: the server still runs without reconfig, and is restarted.
      const halfway = dsr.map((d) => asDesired(d, {
        files: { [CFG]: content, [MYID]: `${d.host.slice(2)}\n` }, startedAt: 5_000, writtenAt: { [CFG]: d.host === "zk2" ? 9_000 : 1_000 },
        mode: d.host === "zk1" ? "leader" : "follower",
      }));
      const resumed = planApply(input(dsr, halfway, { config: { zooCfg: CFG, dynamic: DYN } }));
      expect(resumed.stages.map((s) => s.title)).toEqual(["roll zk2 (follower)"]);
      expect(resumed.stages[0]!.steps[1]!.reason).toMatch(/^a restart is pending: \/etc\/zookeeper\/conf\/zoo\.cfg changed after the server started/);
    });

    it("with reconfig, zoo.cfg rewritten by ZooKeeper after it started is not a pending restart", () => {
      const live = `${DYN}.100000000`;
      const dsr = hosts3.map((h) => desired(h, { [CFG]: reconfigCfg(), [DYN]: dyn([1, 2, 3]) }));
      const shapes = dsr.map((d) => asDesired(d, {
        files: { [CFG]: `tickTime=2000\nreconfigEnabled=true\ndynamicConfigFile=${live}\n`, [DYN]: dyn([1, 2, 3]), [MYID]: `${d.host.slice(2)}\n` },
        dynamic: { path: live, content: dyn([1, 2, 3]) }, startedAt: 5_000, writtenAt: { [CFG]: 9_000 },
      }));
      expect(planApply(input(dsr, shapes, { config: { zooCfg: CFG, dynamic: DYN } })).stages).toEqual([]);
    });
  });

  describe("version upgrades", () => {
    const upgradeInput = (opts: { logsOnly?: string[] } = {}) => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: cfg([1, 2, 3]) }, "3.8.0"));
      const modes: Record<string, string> = { zk1: "follower", zk2: "leader", zk3: "follower" };
      const shapes = ds.map((d) => asDesired(d, { current: "3.4.13", mode: modes[d.host]! }));
      const i = input(ds, shapes);
      // 3.4 followers that only ever received diffs: logs, no snapshot.
      for (const o of i.observed) {
        if (!opts.logsOnly?.includes(o.host) || !o.facts?.data_dir) continue;
        o.facts.data_dir.logs = [{ name: "log.100000001", size: 1024, zxid: "0x100000001" }];
      }
      return i;
    };

    it("pushes the new release everywhere first, then upgrades one server per stage, leader last, gates accepting both versions", () => {
      const plan = planApply(upgradeInput());
      expect(plan.refusals).toEqual([]);
      expect(plan.stages.map((s) => [s.title, s.concurrent])).toEqual([
        ["push the new release to every host (nothing restarts)", true],
        ["upgrade zk1 (follower)", false], ["upgrade zk3 (follower)", false], ["upgrade zk2 (leader)", false],
      ]);
      expect(kinds(plan.stages[0]!.steps)).toEqual(["install:zk1", "install:zk2", "install:zk3"]);
      expect(plan.stages[0]!.steps.every((s) => s.kind === "install" && !s.setCurrent)).toBe(true);
      expect(kinds(plan.stages[1]!.steps)).toEqual(["await_healthy:*", "stop:zk1", "switch_release:zk1", "clean_data:zk1", "start:zk1", "await_healthy:*"]);
      expect(plan.stages[1]!.steps[0]).toMatchObject({ role: "gate", versions: ["3.4.13", "3.8.0"] });
      expect(plan.stages[1]!.steps[5]).toMatchObject({ role: "settle", caughtUp: "zk1" });
    });

    it("--stage: only the push, even with a server down; nothing once every host has the release unpacked", () => {
      const i = upgradeInput();
      const staged = planApply({ ...i, stageOnly: true });
      expect(staged.refusals).toEqual([]);
      expect(staged.stages.map((s) => s.title)).toEqual(["push the new release to every host (nothing restarts)"]);
      expect(planSteps(staged).every((s) => s.kind === "install" && !s.setCurrent)).toBe(true);
      // Staging restarts nothing, so a voter down does not stop it (the upgrade itself would be refused then).
      const zk1 = i.observed.find((o) => o.host === "zk1")!;
      const down = { ...i, observed: i.observed.map((o) => (o === zk1 ? { ...o, server: { ...o.server!, running: false, mode: undefined } } : o)) };
      expect(planSteps(planApply({ ...down, stageOnly: true })).map((s) => `${s.kind}:${s.host}`)).toEqual(["install:zk1", "install:zk2", "install:zk3"]);
      for (const o of i.observed) o.facts!.releases!.versions = ["3.4.13", "3.8.0"];
      expect(planApply({ ...i, stageOnly: true }).stages).toEqual([]);
      expect(planApply(i).stages.map((s) => s.title)).toEqual(["upgrade zk1 (follower)", "upgrade zk3 (follower)", "upgrade zk2 (leader)"]);
    });

    it("on every 3.4 -> 3.5+ server, moves its data aside before the start if by then it holds logs and no snapshot (decided by the agent at that moment)", () => {
      const plan = planApply(upgradeInput({ logsOnly: ["zk2"] }));
      const cleans = planSteps(plan).filter((s) => s.kind === "clean_data");
      expect(cleans.map((s) => s.host).sort()).toEqual(["zk1", "zk2", "zk3"]);
      expect(cleans.every((s) => s.kind === "clean_data" && s.args.only_if_logs_without_snapshot === true)).toBe(true);
      expect(cleans.find((s) => s.host === "zk2")?.reason).toMatch(/^3\.4 left transaction logs/);
      expect(cleans.find((s) => s.host === "zk1")?.reason).toMatch(/^if by then 3\.4 has left/);
      const zk2 = plan.stages.find((s) => s.title.startsWith("upgrade zk2"))!;
      expect(kinds(zk2.steps)).toEqual(["await_healthy:*", "stop:zk2", "switch_release:zk2", "clean_data:zk2", "start:zk2", "await_healthy:*"]);
    });
  });

  describe("reconfig ensembles (ZooKeeper owns the dynamic file once it runs)", () => {
    const live = `${DYN}.100000000`;
    const rewrittenByZk = (extra = "") => `${extra}reconfigEnabled=true\ntickTime=2000\ndynamicConfigFile=${live}\n`;
    const shape = (d: DesiredHost, zooCfg: string): HostShape => asDesired(d, {
      files: { [CFG]: zooCfg, [DYN]: dyn([1, 2, 3]), [MYID]: `${d.host.slice(2)}\n` },
      dynamic: { path: live, content: dyn([1, 2, 3]) },
    });

    it("a zoo.cfg ZooKeeper rewrote (reordered, new dynamic file name) is not drift: nothing to do", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: reconfigCfg(), [DYN]: dyn([1, 2, 3]) }));
      const plan = planApply(input(ds, ds.map((d) => shape(d, rewrittenByZk())), { config: { zooCfg: CFG, dynamic: DYN } }));
      expect(plan.refusals).toEqual([]);
      expect(plan.stages).toEqual([]);
    });

    it("a settings change rolls zoo.cfg keeping the dynamic file the server uses now", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: reconfigCfg(["maxClientCnxns=100"]), [DYN]: dyn([1, 2, 3]) }));
      const plan = planApply(input(ds, ds.map((d) => shape(d, rewrittenByZk())), { config: { zooCfg: CFG, dynamic: DYN } }));
      const writes = planSteps(plan).filter((s) => s.kind === "write_file");
      expect(writes.map((w) => `${w.host}:${w.kind === "write_file" && w.path}`)).toEqual([`zk1:${CFG}`, `zk2:${CFG}`, `zk3:${CFG}`]);
      for (const w of writes) expect(w.kind === "write_file" && w.content).toMatch(new RegExp(`^dynamicConfigFile=${live.replace(/\./g, "\\.")}$`, "m"));
    });
  });
  describe("taking over an adopted ensemble", () => {
    const ENV = "/etc/zookeeper/conf/zookeeper-env.sh";
    const marked = (text: string) => `# managed by zkfleet, do not edit\n${text}`;
    // zkfleet's rendering of the same settings: a header, another order.
    const rendered = (extra: string[] = []) => marked(["dataDir=/var/lib/zookeeper", ...extra, "tickTime=2000", ...lines([1, 2, 3])].join("\n") + "\n");
    const byHand = ["# the ensemble's config, by hand", "tickTime=2000", "", "dataDir=/var/lib/zookeeper", ...lines([1, 2, 3])].join("\n") + "\n";
    const adopted = (ds: DesiredHost[], files: (d: DesiredHost) => Record<string, string | null>) =>
      ds.map((d, i) => asDesired(d, { mode: i === 0 ? "leader" : "follower", files: { ...files(d), [MYID]: `${d.host.slice(2)}` } }));

    it("restarts nothing when hand-written files already say what the inventory says; they wait for the next restart", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: rendered(), [ENV]: marked("SERVER_JVMFLAGS='-Xmx1000m'\n") }));
      const plan = planApply(input(ds, adopted(ds, () => ({ [CFG]: byHand, [ENV]: null }))));
      expect(plan.stages).toEqual([]);
      expect(plan.unchanged).toEqual(hosts3);
      expect(plan.deferred?.filter((w) => w.host === "zk1").map((w) => w.path)).toEqual([CFG, ENV, MYID]);
      expect(plan.deferred?.find((w) => w.path === ENV)?.reason).toBe("read only when the server starts");
    });

    it("rolls when a hand-written zoo.cfg differs in a setting, and writes the waiting files with that restart", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: rendered(["maxClientCnxns=100"]), [ENV]: marked("X=1\n") }));
      const plan = planApply(input(ds, adopted(ds, () => ({ [CFG]: byHand, [ENV]: null }))));
      expect(plan.stages.map((s) => s.title)).toEqual(["roll zk2 (follower)", "roll zk3 (follower)", "roll zk1 (leader)"]);
      expect(plan.stages[0]!.steps.filter((s) => s.kind === "write_file").map((s) => s.kind === "write_file" && s.path)).toEqual([CFG, ENV, MYID]);
      expect(plan.deferred).toBeUndefined();
    });

    it("the AdminServer's port and address zkfleet writes change nothing while the AdminServer is off", () => {
      const off = ["admin.enableServer=false"];
      const ds = hosts3.map((h) => desired(h, { [CFG]: rendered([...off, "admin.serverPort=8080", "admin.serverAddress=10.0.0.1"]) }));
      const byHandOff = byHand.replace("tickTime=2000", "tickTime=2000\nadmin.enableServer=false");
      expect(planApply(input(ds, adopted(ds, () => ({ [CFG]: byHandOff })))).stages).toEqual([]);
      // Switched on, the port is real: the hand-written file without it is not the same configuration.
      const on = hosts3.map((h) => desired(h, { [CFG]: rendered(["admin.serverPort=8080"]) }));
      expect(planApply(input(on, adopted(on, () => ({ [CFG]: byHand })))).stages).toHaveLength(3);
    });

    it("rolls a file zkfleet wrote before, even one read only at start-up (an edited heap size takes effect)", () => {
      const ds = hosts3.map((h) => desired(h, { [CFG]: rendered(), [ENV]: marked("SERVER_JVMFLAGS='-Xmx2000m'\n") }));
      const plan = planApply(input(ds, adopted(ds, () => ({ [CFG]: rendered(), [ENV]: marked("SERVER_JVMFLAGS='-Xmx1000m'\n") }))));
      expect(plan.stages).toHaveLength(3);
    });

    it("takes over /etc/hosts only when every name already resolves there as the block would say", () => {
      const block = "# BEGIN zkfleet e\n10.0.0.1 zk1\n10.0.0.2 zk2\n10.0.0.3 zk3\n# END zkfleet e\n";
      const ds = hosts3.map((h) => desired(h, { [CFG]: rendered() }));
      const withHosts = (existing: string) => ds.map((d) => ({ ...d, files: [...d.files, { path: "/etc/hosts", content: existing + block, mode: 0o644 }] }));
      const shapes = (existing: string, ws: DesiredHost[]) => adopted(ws, () => ({ [CFG]: rendered(), "/etc/hosts": existing }));
      const hosts = { path: "/etc/hosts", block };
      const resolved = "127.0.0.1 localhost\n10.0.0.1 zk1\n10.0.0.2 zk2\n10.0.0.3 zk3\n";
      const same = withHosts(resolved);
      expect(planApply(input(same, shapes(resolved, same), { hostsFile: hosts })).stages).toEqual([]);
      const missing = "127.0.0.1 localhost\n10.0.0.1 zk1\n10.0.0.2 zk2\n";
      const other = withHosts(missing);
      expect(planApply(input(other, shapes(missing, other), { hostsFile: hosts })).stages.length).toBeGreaterThan(0);
    });
  });
});

describe("restartOrder", () => {
  const mode = fc.constantFrom<string | undefined>("leader", "follower", "observer", undefined);
  it("puts servers that are down first and the leader last, whatever the input order", () => {
    fc.assert(fc.property(fc.array(fc.tuple(mode, fc.boolean()), { minLength: 1, maxLength: 9 }), (xs) => {
      const hosts = xs.map(([m, running], i) => observedHost({ host: `zk${i}`, running, ...(running && m ? { mode: m } : {}), current: "3.8.0" }));
      const order = restartOrder(hosts);
      expect(order).toHaveLength(hosts.length);
      const leaderAt = order.findIndex((h) => h.server?.mode === "leader");
      if (leaderAt >= 0) expect(order.slice(leaderAt + 1).every((h) => h.server?.mode === "leader")).toBe(true);
      const firstUp = order.findIndex((h) => h.server?.running && h.server.mode !== undefined);
      if (firstUp >= 0) expect(order.slice(firstUp).every((h) => h.server?.running && h.server.mode !== undefined)).toBe(true);
    }));
  });

});
