// Property tests over planApply with random observed ensembles (versions,
// modes, membership, stopped and fresh hosts, unreadable files, --limit):
// no plan changes the membership of an ensemble that exists, nothing is
// touched outside --limit, every restart sits between a gate and a check,
// and the executor carries out exactly the steps --check prints, in order.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostMembership } from "../../controller/model/ensemble.js";
import { parseMembership, sameMembership } from "../../controller/model/membership.js";
import type { EnsembleTarget } from "../../controller/model/target.js";
import { type DesiredHost, type PlanInput, describeStep, planApply, planSteps } from "../../controller/plan/plan.js";
import { type HostShape, observedHost } from "../helpers/observed.js";
import { expectExecutedAsPrinted } from "../helpers/plan-exec.js";

const CFG = "/etc/zookeeper/conf/zoo.cfg";
const DYN = "/etc/zookeeper/conf/zoo.cfg.dynamic";
const MYID = "/var/lib/zookeeper/myid";
const line = (n: number, modern: boolean) => `server.${n}=zk${n}:2888:3888${modern ? ":participant;2181" : ""}`;

interface Scenario { input: PlanInput; reconfig: boolean }

const hostState = fc.record({
  reachable: fc.integer({ min: 0, max: 19 }).map((x) => x > 0),
  kind: fc.constantFrom("fresh", "stopped", "running", "running", "running"),
  mode: fc.constantFrom("leader", "follower", "follower", "observer", undefined),
  otherVersion: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
  settingsDrift: fc.boolean(),
  unreadable: fc.integer({ min: 0, max: 14 }).map((x) => x === 0),
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  n: fc.integer({ min: 1, max: 5 }),
  version: fc.constantFrom("3.4.13", "3.8.0"),
  reconfigWanted: fc.boolean(),
  membershipEdit: fc.constantFrom("same", "same", "add", "remove", "port"),
  states: fc.array(hostState, { minLength: 5, maxLength: 5 }),
  limitMask: fc.option(fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), { nil: undefined }),
}).map(({ n, version, reconfigWanted, membershipEdit, states, limitMask }) => {
  const reconfig = reconfigWanted && version !== "3.4.13";
  const hosts = Array.from({ length: n }, (_, i) => `zk${i + 1}`);
  const existing = hosts.map((_, i) => i + 1);
  let wanted = [...existing];
  if (membershipEdit === "add") wanted = [...existing, n + 1];
  if (membershipEdit === "remove" && n > 1) wanted = existing.slice(0, -1);
  const render = (ids: number[], port = 2888) =>
    ids.map((id) => line(id, version !== "3.4.13").replace(":2888:", `:${membershipEdit === "port" ? port : 2888}:`)).join("\n") + "\n";
  const staticCfg = (ids: number[], extra: string) => `tickTime=2000\n${extra}${render(ids)}`;
  const reconfigCfg = (extra: string) => `tickTime=2000\n${extra}reconfigEnabled=true\ndynamicConfigFile=${DYN}\n`;
  const wantedFiles = (h: string): Record<string, string> => reconfig
    ? { [CFG]: reconfigCfg(""), [DYN]: render(wanted, 2889), [MYID]: `${h.slice(2)}\n` }
    : { [CFG]: staticCfg(wanted, "").replace(/:2888:/g, membershipEdit === "port" ? ":2889:" : ":2888:"), [MYID]: `${h.slice(2)}\n` };
  const existingFiles = (h: string, drift: boolean): Record<string, string> => {
    const extra = drift ? "maxClientCnxns=7\n" : "";
    return reconfig
      ? { [CFG]: reconfigCfg(extra), [DYN]: existing.map((id) => line(id, true)).join("\n") + "\n", [MYID]: `${h.slice(2)}\n` }
      : { [CFG]: staticCfg(existing, extra).replace(/:2889:/g, ":2888:"), [MYID]: `${h.slice(2)}\n` };
  };
  const desired: DesiredHost[] = hosts.map((host) => ({
    host, version, tarball: "/a/zk.tgz", installDir: "/opt/zookeeper", transferDir: "/opt/zkfleet/dists", stateDir: "/opt/zkfleet/state",
    files: Object.entries(wantedFiles(host)).map(([path, content]) => ({ path, content, mode: 0o644 })),
    start: { install_dir: "/opt/zookeeper", config_dir: "/etc/zookeeper/conf", data_dir: "/var/lib/zookeeper" },
    stop: { data_dir: "/var/lib/zookeeper", config_path: CFG },
    clean: { data_dir: "/var/lib/zookeeper", config_path: CFG },
  }));
  const shapes = hosts.map((host, i): HostShape => {
    const s = states[i]!;
    if (!s.reachable) return { host, reachable: false };
    const files: HostShape["files"] = s.kind === "fresh" ? {} : existingFiles(host, s.settingsDrift);
    if (s.unreadable) files[MYID] = { unreadable: "EIO: i/o error" };
    const current = s.kind === "fresh" ? null : s.otherVersion ? (version === "3.4.13" ? "3.8.0" : "3.4.13") : version;
    return {
      host, files, current, hasData: s.kind !== "fresh", running: s.kind === "running",
      ...(s.kind === "running" && s.mode ? { mode: s.mode } : {}),
      ...(reconfig && s.kind !== "fresh" ? { dynamic: { path: DYN, content: existingFiles(host, false)[DYN]! } } : {}),
    };
  });
  const target: EnsembleTarget = {
    name: "e", inventory: "e.yml", version,
    members: hosts.map((h, i) => ({ host: h, address: `10.0.0.${i + 1}`, myid: i + 1, role: "participant", probe: { address: "127.0.0.1", port: 2181 } })),
  };
  const limit = limitMask ? hosts.filter((_, i) => limitMask[i]) : undefined;
  return {
    reconfig,
    input: {
      target, desired, observed: shapes.map(observedHost), config: { zooCfg: CFG, ...(reconfig ? { dynamic: DYN } : {}) },
      timeouts: { gateMs: 1, settleMs: 1 }, ...(limit ? { limit } : {}),
    },
  };
});


describe("planApply over random observed ensembles", () => {
  it("never changes the membership of an ensemble that exists, and refuses or plans nothing else", () => {
    fc.assert(fc.property(scenario, ({ input }) => {
      const plan = planApply(input);
      if (plan.refusals.length > 0) {
        expect(plan.stages).toEqual([]);
        return;
      }
      const exists = input.observed.some((o) => o.facts?.process?.state === "running" || o.facts?.data_dir?.version2);
      if (!exists) return;
      const declared = input.observed.map((o) => hostMembership(o, CFG)).filter((m) => m !== undefined);
      for (const step of planSteps(plan)) {
        if (step.kind !== "write_file" || (step.path !== CFG && step.path !== DYN)) continue;
        const written = parseMembership(step.content).servers;
        if (written.length === 0) continue;
        for (const m of declared) expect(sameMembership(written, m.servers), `${step.host} ${step.path} vs ${m.host}`).toBe(true);
      }
      // A host started with the files it has: those must agree with the running ensemble too.
      for (const step of planSteps(plan)) {
        if (step.kind !== "start") continue;
        const o = input.observed.find((x) => x.host === step.host)!;
        const own = hostMembership(o, CFG);
        if (own) for (const m of declared) expect(sameMembership(own.servers, m.servers)).toBe(true);
      }
    }), { numRuns: 3000 });
  });

  it("touches no host outside --limit, and every stop sits between a gate and its own start and check", () => {
    fc.assert(fc.property(scenario, ({ input }) => {
      const plan = planApply(input);
      for (const step of planSteps(plan)) if (step.host !== "*" && input.limit) expect(input.limit).toContain(step.host);
      // A voter is stopped only when the voters running or started by the plan keep a quorum without it.
      const voters = input.target.members.filter((m) => m.role === "participant").map((m) => m.host);
      const up = voters.filter((h) => input.observed.find((o) => o.host === h)?.facts?.process?.state === "running" ||
        planSteps(plan).some((s) => s.kind === "start" && s.host === h && !plan.stages.some((st) => st.steps.some((x) => x.kind === "stop" && x.host === h))));
      if (voters.length > 1 && planSteps(plan).some((s) => s.kind === "stop")) expect(up.length - 1).toBeGreaterThanOrEqual(Math.floor(voters.length / 2) + 1);
      for (const stage of plan.stages) {
        stage.steps.forEach((step, i) => {
          if (step.kind !== "stop") return;
          expect(stage.concurrent).toBe(false);
          expect(stage.steps[0]).toMatchObject({ kind: "await_healthy", role: "gate" });
          // Between its stop and its start only the release switch and the data move, on the same host.
          let j = i + 1;
          while (stage.steps[j]?.kind === "switch_release" || stage.steps[j]?.kind === "clean_data") expect(stage.steps[j++]!.host).toBe(step.host);
          expect(stage.steps[j]).toMatchObject({ kind: "start", host: step.host });
          expect(stage.steps[j + 1]).toMatchObject({ kind: "await_healthy", role: "settle", caughtUp: step.host });
        });
        // Nothing of a running server changes except in the stage that restarts it (unpacking a release beside it is not a change).
        for (const step of stage.steps) {
          if (step.kind === "install" && !step.setCurrent) continue;
          const o = input.observed.find((x) => x.host === step.host);
          if (o?.facts?.process?.state !== "running") continue;
          expect(stage.steps.some((s) => s.kind === "stop" && s.host === step.host), `${describeStep(step)} in "${stage.title}"`).toBe(true);
        }
      }
    }), { numRuns: 3000 });
  });

  it("the executor is handed exactly what --check prints, and runs it in that order (per host in parallel stages)", async () => {
    await fc.assert(fc.asyncProperty(scenario, async ({ input }) => {
      const plan = planApply(input);
      await expectExecutedAsPrinted(plan);
    }), { numRuns: 300 });
  });
});
