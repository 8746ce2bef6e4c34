// Property tests over assemblePlan, the plan apply, runs resume, runs
// rollback and restore carry out, with random observed ensembles and random
// requests: membership added or removed (static or by reconfig), --stage, a
// restore, a rollback, --limit, hosts stopped, fresh, unreachable or on
// another version. A refused plan has no stages; --stage only unpacks;
// restore never stops a server and puts the backup under every member
// before it starts; every stop of a server that counts is gated; and the
// executor carries out exactly what --check prints, in order.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { HostSpec } from "../../controller/inventory/schema.js";
import type { EnsembleTarget } from "../../controller/model/target.js";
import { type AssembleInput, assemblePlan } from "../../controller/plan/assemble.js";
import type { MembershipRenderer, MembershipView } from "../../controller/plan/membership/change.js";
import { type DesiredHost, type Step, describeStep, planSteps } from "../../controller/plan/plan.js";
import { type HostShape, observedHost } from "../helpers/observed.js";
import { expectExecutedAsPrinted } from "../helpers/plan-exec.js";

const CFG = "/etc/zookeeper/conf/zoo.cfg";
const DYN = "/etc/zookeeper/conf/zoo.cfg.dynamic";
const MYID = "/var/lib/zookeeper/myid";
const RECORD = "/opt/zkfleet/state/membership-e.json";

const hostState = fc.record({
  reachable: fc.integer({ min: 0, max: 19 }).map((x) => x > 0),
  kind: fc.constantFrom("fresh", "stopped", "running", "running", "running"),
  mode: fc.constantFrom("leader", "follower", "follower", "observer", undefined),
  otherVersion: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
  settingsDrift: fc.boolean(),
});

const request = fc.constantFrom("apply", "apply", "apply", "stage", "restore", "rollback");

interface Scenario { input: AssembleInput; kind: "apply" | "stage" | "restore" | "rollback" }

const scenario: fc.Arbitrary<Scenario> = fc.record({
  n: fc.integer({ min: 1, max: 5 }),
  version: fc.constantFrom("3.4.13", "3.8.0", "3.9.3"),
  reconfigWanted: fc.boolean(),
  membershipEdit: fc.constantFrom("same", "same", "add", "remove"),
  states: fc.array(hostState, { minLength: 6, maxLength: 6 }),
  limitMask: fc.option(fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), { nil: undefined }),
  kind: request,
  canary: fc.boolean(),
}).map(({ n, version, reconfigWanted, membershipEdit, states, limitMask, kind, canary }): Scenario => {
  const dynamic = reconfigWanted && version !== "3.4.13";
  const modern = version !== "3.4.13";
  const existing = Array.from({ length: n }, (_, i) => i + 1);
  const wanted = membershipEdit === "add" ? [...existing, n + 1] : membershipEdit === "remove" && n > 1 ? existing.slice(0, -1) : existing;
  const all = [...new Set([...existing, ...wanted])];
  const spec = (id: number): HostSpec => ({
    name: `zk${id}`, address: `10.0.0.${id}`, myid: id, role: "participant", state: wanted.includes(id) ? "present" : "absent",
  } as HostSpec);
  const specs = all.map(spec);
  const line = (h: HostSpec) => `server.${h.myid}=${h.name}:2888:3888${modern ? `:${h.role};2181` : ""}`;
  const lines = (servers: readonly HostSpec[]) => [...servers].sort((a, b) => a.myid - b.myid).map(line).join("\n") + "\n";
  const present = specs.filter((h) => h.state === "present");
  // What the inventory renders, for the target or for a configuration on the way (a pure stand-in for the templates).
  const render: MembershipRenderer = {
    hostFiles: (host: HostSpec, m?: MembershipView) => {
      const servers = m?.servers ?? present;
      return dynamic
        ? [{ path: CFG, content: `tickTime=2000\nreconfigEnabled=true\ndynamicConfigFile=${DYN}\n`, mode: 0o644 }, { path: DYN, content: lines(servers), mode: 0o644 },
          { path: MYID, content: `${host.myid}\n`, mode: 0o644 }]
        : [{ path: CFG, content: `tickTime=2000\n${lines(servers)}`, mode: 0o644 }, { path: MYID, content: `${host.myid}\n`, mode: 0o644 }];
    },
    hostsBlock: () => "# BEGIN zkfleet e\n# END zkfleet e\n",
    serverSpecLine: (h) => `server.${h.myid}=${h.name}:2888:3888:${h.role};2181`,
  };
  const desired: DesiredHost[] = specs.map((h) => ({
    host: h.name, version, tarball: "/a/zk.tgz", installDir: "/opt/zookeeper", transferDir: "/opt/zkfleet/dists", stateDir: "/opt/zkfleet/state",
    files: render.hostFiles(h),
    start: { install_dir: "/opt/zookeeper", config_dir: "/etc/zookeeper/conf", data_dir: "/var/lib/zookeeper" },
    stop: { data_dir: "/var/lib/zookeeper", config_path: CFG },
    clean: { data_dir: "/var/lib/zookeeper", config_path: CFG },
  }));
  const existingSpecs = existing.map((id) => ({ ...spec(id), state: "present" as const }));
  const shapes = specs.map((h, i): HostShape => {
    const s = states[i]!;
    const host = h.name;
    if (!s.reachable) return { host, reachable: false };
    // A joiner is a fresh host; every other host held the existing ensemble's files.
    const kindOf = existing.includes(h.myid) ? s.kind : "fresh";
    if (kindOf === "fresh") return { host, files: {}, current: null };
    const drift = s.settingsDrift ? "maxClientCnxns=7\n" : "";
    const files: Record<string, string> = dynamic
      ? { [CFG]: `tickTime=2000\n${drift}reconfigEnabled=true\ndynamicConfigFile=${DYN}\n`, [DYN]: lines(existingSpecs), [MYID]: `${h.myid}\n` }
      : { [CFG]: `tickTime=2000\n${drift}${lines(existingSpecs)}`, [MYID]: `${h.myid}\n` };
    const current = s.otherVersion ? (version === "3.4.13" ? "3.8.0" : "3.4.13") : version;
    const running = kindOf === "running";
    return {
      host, files, current, hasData: true, running,
      ...(running && s.mode ? { mode: s.mode } : {}),
      ...(running && modern ? { conf: Object.fromEntries(existingSpecs.map((x) => [`server.${x.myid}`, line(x).split("=")[1]!])) } : {}),
      ...(dynamic ? { dynamic: { path: DYN, content: lines(existingSpecs) } } : {}),
    };
  });
  const member = (h: HostSpec) => ({ host: h.name, address: h.address, myid: h.myid, role: h.role, probe: { address: "127.0.0.1", port: 2181 } });
  const target: EnsembleTarget = { name: "e", inventory: "e.yml", version, members: present.map(member) };
  const limit = limitMask ? specs.filter((_, i) => limitMask[i]).map((h) => h.name) : undefined;
  const names = specs.map((h) => h.name);
  return {
    kind,
    input: {
      target, desired, observed: shapes.map(observedHost), config: { zooCfg: CFG, ...(dynamic ? { dynamic: DYN } : {}) },
      timeouts: { gateMs: 1, settleMs: 1 },
      ensemble: { target: { ...target, members: specs.map(member) }, hosts: specs, dynamic, hostsFileManaged: false, clientPort: 2181, recordPath: RECORD },
      render,
      journal: {},
      request: {
        ...(limit && kind === "apply" ? { limit } : {}),
        ...(kind === "stage" ? { stageOnly: true } : {}),
        ...(canary ? { canary: { clientPort: 2181, via: "auto" as const, path: "/zkfleet-canary/r1" } } : {}),
        ...(kind === "rollback" ? { rollback: { files: new Map(names.map((h) => [h, new Map([[MYID, "0\n"]])])) } } : {}),
        ...(kind === "restore" ? {
          restore: {
            backup: "/backups/b", backupId: "b1", lockRun: "r1", markerPath: "/opt/zkfleet/state/restore-e.json",
            files: [{ name: "snapshot.100", size: 1, sha256: "00" }],
            hosts: Object.fromEntries(names.map((h) => [h, { stagingDir: "/var/tmp/zkfleet-restore", args: { data_dir: "/var/lib/zookeeper", config_path: CFG } }])),
          },
        } : {}),
      },
    },
  };
});


const running = (input: AssembleInput, host: string) => input.observed.find((o) => o.host === host)?.facts?.process?.state === "running";

describe("assemblePlan over random observed ensembles and requests", () => {
  it("a refused plan has no stages; --stage only unpacks releases; restore stops nothing and puts the backup under every member before it starts", () => {
    let membershipPlans = 0;
    fc.assert(fc.property(scenario, ({ input, kind }) => {
      const plan = assemblePlan(input);
      if (plan.refusals.length > 0) {
        expect(plan.stages).toEqual([]);
        return;
      }
      const steps = planSteps(plan);
      if (steps.some((s) => s.kind === "reconfig") || plan.continues || plan.stages.some((s) => /^(add|remove) /.test(s.title))) membershipPlans++;
      if (kind === "stage") for (const s of steps) expect(s).toMatchObject({ kind: "install", setCurrent: false });
      if (kind === "restore") {
        expect(steps.some((s) => s.kind === "stop" || s.kind === "reconfig")).toBe(false);
        for (const m of plan.target.members) {
          const start = steps.findIndex((s) => s.kind === "start" && s.host === m.host);
          if (start === -1) continue;
          const restored = steps.findIndex((s) => s.kind === "restore_data" && s.host === m.host);
          expect(restored, `${m.host} restored before it starts`).toBeGreaterThanOrEqual(0);
          expect(restored).toBeLessThan(start);
        }
      }
    }), { numRuns: 3000 });
    // The generator reaches the membership planner, not only the rolling one.
    expect(membershipPlans).toBeGreaterThan(50);
  });

  it("a canary watches every plan that stops a server (its own steps or an undo), pinned to the servers that serve, and no other", () => {
    fc.assert(fc.property(scenario, ({ input }) => {
      const plan = assemblePlan(input);
      const stops = (s: Step) => s.kind === "stop" || s.kind === "reconfig";
      const stopping = plan.stages.some((st) => st.steps.some(stops) || (st.undo ?? []).some(stops));
      expect(plan.canary !== undefined).toBe(input.request.canary !== undefined && plan.refusals.length === 0 && stopping);
      for (const h of plan.canary?.pinned ?? []) {
        expect(plan.target.members.map((m) => m.host)).toContain(h);
        expect(input.observed.find((o) => o.host === h)?.server?.mode).toBeDefined();
      }
    }), { numRuns: 1000 });
  });

  it("a check watches the servers started since the check before it that it waits for, and each started server is watched once", () => {
    fc.assert(fc.property(scenario, ({ input }) => {
      const plan = assemblePlan(input);
      const open = new Set<string>();
      for (const step of planSteps(plan)) {
        if (step.kind === "start") open.add(step.host);
        if (step.kind !== "await_healthy") continue;
        if (step.role === "gate") expect(step.watch).toBeUndefined();
        if (step.role !== "settle") continue;
        expect(step.watch ?? []).toEqual(step.hosts.filter((h) => open.has(h)));
        for (const h of step.watch ?? []) open.delete(h);
      }
    }), { numRuns: 1000 });
  });

  it("every stop of a server that counts sits after a gate in its stage; a rolling plan touches no host outside --limit", () => {
    fc.assert(fc.property(scenario, ({ input }) => {
      const plan = assemblePlan(input);
      const steps = planSteps(plan);
      const membership = steps.some((s) => s.kind === "reconfig") || plan.continues !== undefined || plan.stages.some((s) => /^(add|remove|start|stop|prepare|check|restart|finish|names)\b/.test(s.title) && !/servers that are down/.test(s.title));
      if (!membership && input.request.limit) for (const s of steps) if (s.host !== "*") expect(input.request.limit).toContain(s.host);
      for (const stage of plan.stages) {
        stage.steps.forEach((step, i) => {
          // A server no configuration counts any more (it left) takes no quorum away when it stops.
          if (step.kind !== "stop" || step.mode === "left") return;
          expect(stage.concurrent).toBe(false);
          const gate = stage.steps.findIndex((s) => s.kind === "await_healthy" && s.role === "gate");
          expect(gate, `${describeStep(step)} in "${stage.title}"`).toBeGreaterThanOrEqual(0);
          expect(gate).toBeLessThan(i);
        });
        // Nothing of a running server changes except in a stage that stops it, or a write the server reads only at its next start.
        for (const step of stage.steps) {
          if (step.kind === "install" && !step.setCurrent) continue;
          if (step.kind === "write_file" || step.kind === "await_healthy" || step.kind === "await_config" || step.kind === "reconfig") continue;
          if (!running(input, step.host)) continue;
          expect(stage.steps.some((s) => s.kind === "stop" && s.host === step.host), `${describeStep(step)} in "${stage.title}"`).toBe(true);
        }
      }
    }), { numRuns: 3000 });
  });

  it("the executor is handed exactly what --check prints, and runs it in that order (per host in parallel stages)", async () => {
    await fc.assert(fc.asyncProperty(scenario, async ({ input }) => {
      const plan = assemblePlan(input);
      await expectExecutedAsPrinted(plan);
    }), { numRuns: 300 });
  });
});
