// The executor's sequencing with recording actions (the acting is tested in
// the lab): journal before and after every step, stop at the first failure,
// stop between steps when interrupted, gates and checks with their exit codes.
import { describe, expect, it, vi } from "vitest";
import { ExitCode, ZkfleetError, exitCodeFor } from "../../common/errors.js";
import { type Actions, OtherServerFailed, executePlan } from "../../controller/execute/executor.js";
import { LockTakenOver } from "../../controller/execute/lock.js";
import { putBackSteps } from "../../controller/plan/put-back.js";
import type { AwaitHealthyStep, Plan, StartStep, Step, StopStep } from "../../controller/plan/steps.js";
import { type EnsembleReport, type HostReport, judgeEnsemble } from "../../controller/status/health.js";

const report = (verdict: EnsembleReport["verdict"]): EnsembleReport => ({
  ensemble: "e", inventory: "e.yml", version: "3.8.0", hosts: [], leader: "zk1", voters: 3, votersUp: verdict === "healthy" ? 3 : 2, quorum: 2, verdict,
  problems: verdict === "healthy" ? [] : ["zk3: ZooKeeper is not running"],
});

const stop = (host: string): Step => ({ kind: "stop", host, mode: "follower", reason: "r", args: { data_dir: "/d", config_path: "/c" } });
const start = (host: string): Step => ({ kind: "start", host, reason: "r", args: { install_dir: "/i", config_dir: "/c", data_dir: "/d" } });
const gate: Step = { kind: "await_healthy", host: "*", role: "gate", hosts: ["zk1", "zk2", "zk3"], versions: ["3.8.0"], timeoutMs: 0, reason: "r" };
const check: Step = { ...gate, role: "check" } as Step;

function planWithUndo(steps: Step[], undo: Step[]): Plan {
  return { target: { name: "e", inventory: "e.yml", version: "3.8.0", members: [] }, stages: [{ title: "roll zk2 (follower)", concurrent: false, steps, undo }], unchanged: [], refusals: [] };
}

function plan(...stages: Step[][]): Plan {
  return { target: { name: "e", inventory: "e.yml", version: "3.8.0", members: [] }, stages: stages.map((steps) => ({ title: "t", concurrent: false, steps })), unchanged: [], refusals: [] };
}

function harness(opts: { verdicts?: EnsembleReport["verdict"][]; failOn?: string; onAct?: (s: Step) => void } = {}) {
  const acted: string[] = [];
  const records: { event: string; index?: number; durable?: true }[] = [];
  const verdicts = [...(opts.verdicts ?? [])];
  const act = async (s: Step) => {
    acted.push(`${s.kind}:${s.host}`);
    opts.onAct?.(s);
    if (opts.failOn === `${s.kind}:${s.host}`) throw new ZkfleetError("agent", "boom");
    return { changed: true, message: "ok", data: { backup: "/b" } };
  };
  const actions: Actions = {
    install: act, writeFile: act, switchRelease: act, cleanData: act, restoreData: act, start: act, stop: act, reconfig: act, awaitConfig: act,
    observe: async () => report(verdicts.shift() ?? "healthy"),
    serverProcess: async () => ({ running: true, detail: "ZooKeeper running as pid 7" }),
  };
  const journal = { runId: "r1", path: "(memory)", write: (event: string, data: Record<string, unknown>, o?: { durable?: boolean }) => void records.push({ event, ...data, ...(o?.durable ? { durable: true } : {}) }), plan: () => void records.push({ event: "plan" }) };
  return { acted, records, actions, journal };
}

describe("executePlan", () => {
  it("journals the plan, then each step before it runs and after it ends, with what it left (backups)", async () => {
    const h = harness();
    const { results } = await executePlan(plan([gate, stop("zk2"), start("zk2"), check]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 });
    expect(h.acted).toEqual(["stop:zk2", "start:zk2"]);
    expect(h.records.map((r) => `${r.event}${r.index ?? ""}`)).toEqual([
      "plan", "step-start0", "leader", "step-done0", "step-start1", "step-done1", "step-start2", "step-done2", "step-start3", "step-done3", "done",
    ]);
    expect(h.records[5]).toMatchObject({ event: "step-done", index: 1, data: { backup: "/b" } });
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    // On the disk before it runs: the announcement of a step that acts; the rest rides with it.
    expect(h.records.filter((r) => r.durable).map((r) => `${r.event}${r.index}`)).toEqual(["step-start1", "step-start2"]);
  });

  it("journals the leader the gates and checks see when it changes (none in between is a change too), and what a gate waited for", async () => {
    const seen: EnsembleReport[] = [
      report("healthy"),
      { ...report("no-quorum"), leader: undefined }, { ...report("no-quorum"), leader: undefined }, { ...report("degraded"), leader: "zk2" }, report("healthy"),
    ];
    seen[4]!.leader = "zk2";
    const h = harness();
    h.actions.observe = async () => seen.shift()!;
    const waiting = { ...check, timeoutMs: 10_000 } as Step;
    await executePlan(plan([gate, stop("zk1"), start("zk1"), waiting]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 });
    expect(seen).toHaveLength(0);
    expect(h.records.filter((r) => r.event === "leader")).toEqual([
      { event: "leader", host: "zk1", step: 0 },
      { event: "leader", host: null, step: 3, previous: "zk1" },
      { event: "leader", host: "zk2", step: 3, previous: null },
    ]);
    const done = h.records.filter((r) => r.event === "step-done" && r.index === 3)[0] as { data?: { polls: number; waitedFor: string[] } };
    expect(done.data?.polls).toBe(4);
    expect(done.data?.waitedFor).toEqual([expect.stringMatching(/^no-quorum/), expect.stringMatching(/^degraded/)]);
  });

  it("lets a gate's first look be the previous check's when no step acted since; a check, and a gate after a step that acted, look afresh", async () => {
    const h = harness();
    const calls: { role: string; reuseAfter: number | undefined; lastActStarted: number }[] = [];
    let role = "";
    let lastActStarted = 0;
    h.actions.observe = async (_plan, _hosts, _versions, _roles, reuseAfter) => {
      calls.push({ role, reuseAfter, lastActStarted });
      return { ...report("healthy"), observedAt: Date.now() };
    };
    const steps = [{ ...gate }, stop("zk2"), start("zk2"), { ...check }, { ...gate }, stop("zk3")] as Step[];
    await executePlan(plan(steps), {
      actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0,
      onStepStart: (st) => {
        role = st.kind === "await_healthy" ? st.role : "";
        if (st.kind !== "await_healthy") lastActStarted = Date.now();
      },
    });
    expect(calls.map((c) => [c.role, c.reuseAfter === undefined ? "fresh" : "may reuse"])).toEqual([["gate", "may reuse"], ["check", "fresh"], ["gate", "may reuse"]]);
    // The second gate may reuse only a look made after the start (the last step that acted) ended.
    expect(calls[2]!.reuseAfter).toBeGreaterThanOrEqual(calls[2]!.lastActStarted);
    expect(calls[2]!.lastActStarted).toBeGreaterThan(0);
  });

  it("lets the first gate judge the look the plan was made from (quietSince), but not once a step acted", async () => {
    const h = harness();
    const asked: (number | undefined)[] = [];
    h.actions.observe = async (_plan, _hosts, _versions, _roles, reuseAfter) => {
      asked.push(reuseAfter);
      return report("healthy");
    };
    await executePlan(plan([{ ...gate }, stop("zk2")]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0, quietSince: 1234 });
    expect(asked).toEqual([1234]);
    const later: (number | undefined)[] = [];
    h.actions.observe = async (_plan, _hosts, _versions, _roles, reuseAfter) => {
      later.push(reuseAfter);
      return report("healthy");
    };
    await executePlan(plan([start("zk2"), { ...gate }]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0, quietSince: 1234 });
    expect(later).toHaveLength(1);
    expect(later[0]).toBeGreaterThan(1234);
  });

  describe("a check after a start, when nothing listens on the started server's client port", () => {
    const closed = (): EnsembleReport => ({
      ...report("degraded"), problems: ["zk2: ZooKeeper is not running"],
      hosts: [{ host: "zk2", address: "127.94.0.12", myid: 2, role: "participant", reachable: true, running: false, observedInMs: 1 }],
    });
    const waitingCheck = { ...check, caughtUp: "zk2", timeoutMs: 10_000 } as Step;
    // Healthy, with zk2 at the leader's zxid: what ends a check that waits for zk2.
    const caughtUp = (): EnsembleReport => ({
      ...report("healthy"),
      hosts: ["zk1", "zk2"].map((host, i) => ({ host, address: `127.94.0.1${i + 1}`, myid: i + 1, role: "participant" as const, reachable: true, running: true, zxid: "0x100000005", observedInMs: 1 })),
    });

    it("asks the host's agent once the port has been closed goneMs, and stops at once when the server has exited", async () => {
      const h = harness();
      h.actions.observe = async () => closed();
      const asked: number[] = [];
      const t0 = Date.now();
      h.actions.serverProcess = async () => {
        asked.push(Date.now() - t0);
        return { running: false, detail: "stale pid file /d/zookeeper_server.pid: process 4321 is gone" };
      };
      const err = await executePlan(plan([start("zk2"), waitingCheck]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 5, goneMs: 60 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ZkfleetError);
      expect((err as ZkfleetError).message).toMatch(/ZooKeeper on zk2 exited after its start: nothing has listened on 127\.94\.0\.12's client port .*process 4321 is gone/);
      expect(asked).toHaveLength(1);
      expect(asked[0]).toBeGreaterThanOrEqual(60);
      // Well before the check's own timeout.
      expect(Date.now() - t0).toBeLessThan(5_000);
    });

    /** Closed for `closedPolls` observations, then caught up; the agent answers with `agent`. What the check ended with, and how often it asked. */
    async function closedThenBack(closedPolls: number, agent: () => Promise<{ running: boolean; detail: string }>) {
      const h = harness();
      let polls = 0;
      h.actions.observe = async () => (++polls <= closedPolls ? closed() : caughtUp());
      let asked = 0;
      h.actions.serverProcess = async () => {
        asked += 1;
        return agent();
      };
      const { results } = await executePlan(plan([start("zk2"), waitingCheck]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 5, goneMs: 30 });
      return { message: results[1]!.message, asked };
    }

    it("keeps waiting while the agent says the server runs (a large snapshot opens the port late)", async () => {
      const r = await closedThenBack(40, async () => ({ running: true, detail: "ZooKeeper running as pid 7" }));
      expect(r.message).toMatch(/^leader zk1/);
      expect(r.asked).toBeGreaterThan(0);
    });

    it("goes on waiting when the agent cannot be asked", async () => {
      const r = await closedThenBack(30, async () => {
        throw new ZkfleetError("ssh", "connection lost");
      });
      expect(r.message).toMatch(/^leader zk1/);
      expect(r.asked).toBeGreaterThan(0);
    });

    it("watches every server started since the last check (servers that were down), and only those", async () => {
      const h = harness();
      // zk2 started here and closed; zk3 closed too, but nothing started it (out of scope, say): only zk2 is asked about.
      const bothClosed = (): EnsembleReport => ({
        ...closed(), hosts: [...closed().hosts, { host: "zk3", address: "127.94.0.13", myid: 3, role: "participant", reachable: true, running: false, observedInMs: 1 }],
      });
      h.actions.observe = async () => bothClosed();
      const asked: string[] = [];
      h.actions.serverProcess = async (host) => {
        asked.push(host);
        return { running: false, detail: "no pid file at /d/zookeeper_server.pid" };
      };
      const plainCheck = { ...check, timeoutMs: 10_000 } as Step;
      const err = await executePlan(plan([start("zk1"), start("zk2"), plainCheck]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 5, goneMs: 30 })
        .catch((e: unknown) => e);
      expect((err as ZkfleetError).message).toMatch(/^ZooKeeper on zk2 exited after its start: .*its agent finds no pid file/);
      expect(asked).toEqual(["zk2"]);
    });

    it("never asks for a gate, nor while the server answers", async () => {
      const h = harness();
      const seen = [report("degraded"), report("degraded"), report("healthy"), { ...caughtUp(), verdict: "degraded" as const }, caughtUp()];
      h.actions.observe = async () => seen.shift() ?? caughtUp();
      h.actions.serverProcess = async () => {
        throw new Error("not to be asked");
      };
      await executePlan(plan([{ ...gate, timeoutMs: 10_000 } as Step, stop("zk2"), start("zk2"), waitingCheck]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 5, goneMs: 0 });
    });
  });

  it("says in a gate's result that it judged the previous step's look, and how old it was", async () => {
    const h = harness();
    let n = 0;
    h.actions.observe = async () => ({ ...report("healthy"), observedAt: n++ === 1 ? Date.now() - 7 : Date.now() });
    const { results } = await executePlan(plan([start("zk2"), check, gate]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 });
    expect(results[1]!.message).not.toMatch(/earlier/);
    expect(results[2]!.message).toMatch(/as observed \d+ ms earlier; nothing acted since/);
    expect(results[2]!.data).toMatchObject({ polls: 1, reusedMsOld: expect.any(Number) });
  });

  it("awaits what must be ready before a step; when it fails, that step never starts and nothing is undone", async () => {
    const h = harness();
    const undo = [start("zk2")];
    const asked: string[] = [];
    const ready = async (st: Step) => {
      asked.push(`${st.kind}:${st.host}`);
      if (st.kind === "stop") throw new ZkfleetError("zookeeper", "the canary could not start");
    };
    const err = await executePlan(planWithUndo([{ ...gate }, stop("zk2"), start("zk2")], undo), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0, ready })
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/canary could not start/);
    expect(asked).toEqual(["await_healthy:*", "stop:zk2"]);
    expect(h.acted).toEqual([]);
    expect(h.records.map((r) => `${r.event}${r.index ?? ""}`)).toEqual(["plan", "step-start0", "leader", "step-done0"]);
  });

  it("stops at the first failed step; nothing after it runs", async () => {
    const h = harness({ failOn: "stop:zk2" });
    await expect(executePlan(plan([stop("zk2"), start("zk2")], [stop("zk3")]), { actions: h.actions, journal: h.journal, parallel: 1 })).rejects.toThrow("boom");
    expect(h.acted).toEqual(["stop:zk2"]);
    expect(h.records.at(-1)).toMatchObject({ event: "step-failed", index: 0 });
  });

  it("a gate that never sees a healthy ensemble refuses as unsafe (exit 5), before stopping anything", async () => {
    const h = harness({ verdicts: ["degraded", "degraded"] });
    const err = await executePlan(plan([gate, stop("zk2")]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 }).catch((e) => e);
    expect(exitCodeFor(err)).toBe(ExitCode.unsafe);
    expect(err.where).toContain("zk3: ZooKeeper is not running");
    expect(h.acted).toEqual([]);
  });

  it("a check that times out fails the run (exit 4)", async () => {
    const h = harness({ verdicts: ["no-quorum"] });
    const err = await executePlan(plan([start("zk1"), check]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 }).catch((e) => e);
    expect(exitCodeFor(err)).toBe(ExitCode.failed);
  });

  it("a check waits until the restarted server's zxid reaches the leader's, except at an epoch's first zxid", async () => {
    const rows = (leader: string, mine: string) => ({
      ...report("healthy"), leader: "zk1",
      hosts: [
        { host: "zk1", address: "a", myid: 1, role: "participant" as const, reachable: true, mode: "leader", zxid: leader },
        { host: "zk2", address: "b", myid: 2, role: "participant" as const, reachable: true, mode: "follower", zxid: mine },
      ],
    });
    const seen = [rows("0x100000009", "0x100000004"), rows("0x10000000c", "0x100000008"), rows("0x10000000f", "0x10000000a")];
    const h = harness();
    h.actions.observe = async () => seen.shift()!;
    const caught = { ...check, caughtUp: "zk2", timeoutMs: 10_000 } as Step;
    const { results } = await executePlan(plan([caught]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 });
    expect(seen).toHaveLength(0);
    expect(results[0]!.message).toMatch(/zk2 caught up/);
    // After a leader change with no write yet, the leader reports 0x300000000, which no follower processes.
    const h2 = harness();
    h2.actions.observe = async () => rows("0x300000000", "0x200000004");
    await expect(executePlan(plan([caught]), { actions: h2.actions, journal: h2.journal, parallel: 1, pollMs: 0 })).resolves.toBeDefined();
  });

  it("a server that does not come back is put back by the stage's undo, then the run halts (exit 4) saying so", async () => {
    const h = harness({ verdicts: ["healthy", "no-quorum", "healthy"] });
    const failingCheck = { ...check, timeoutMs: 0 } as Step;
    const err = await executePlan(planWithUndo([gate, stop("zk2"), start("zk2"), failingCheck], [stop("zk2"), start("zk2"), check]),
      { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 }).catch((e) => e);
    expect(h.acted).toEqual(["stop:zk2", "start:zk2", "stop:zk2", "start:zk2"]);
    expect(exitCodeFor(err)).toBe(ExitCode.failed);
    expect(err.message).toMatch(/^roll zk2 \(follower\) failed: .*put back on its previous release and configuration and serves again; the run halted/);
    expect(h.records.map((r) => r.event)).toContain("undo-done");
  });

  it("no undo when the stage failed before its server was stopped (at the gate)", async () => {
    const h = harness({ verdicts: ["degraded"] });
    const err = await executePlan(planWithUndo([gate, stop("zk2")], [stop("zk2"), start("zk2")]), { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 }).catch((e) => e);
    expect(exitCodeFor(err)).toBe(ExitCode.unsafe);
    expect(h.acted).toEqual([]);
  });

  describe("when a roll's check fails: the restarted server's failure, or another's", () => {
    /** An ensemble as judgeEnsemble sees it: zk1..zk3 in these modes ("down": nothing listens, "frozen": answers nothing). */
    const ensemble = (modes: Record<string, string>): EnsembleReport => judgeEnsemble({ name: "e", inventory: "e.yml", version: "3.8.0" },
      Object.entries(modes).map(([host, mode]): HostReport => ({
        host, address: `127.0.0.${host.slice(2)}`, myid: Number(host.slice(2)), role: "participant", reachable: true, zxid: "0x200000005",
        ...(mode === "down" ? { running: false } : mode === "frozen" ? { running: true, answering: false } : { running: true, mode, ...(mode === "leader" ? { syncedFollowers: 1 } : {}) }),
      })));
    const hosts = ["zk1", "zk2", "zk3"];
    const caught = (timeoutMs: number): AwaitHealthyStep => ({ kind: "await_healthy", host: "*", role: "check", hosts, versions: ["3.8.0"], caughtUp: "zk1", timeoutMs, reason: "r" });
    const gateOf = (timeoutMs: number): AwaitHealthyStep => ({ kind: "await_healthy", host: "*", role: "gate", hosts, versions: ["3.8.0"], timeoutMs, reason: "r" });
    const write: Step = { kind: "write_file", host: "zk1", path: "/c/zoo.cfg", content: "new", previous: "old", mode: 0o644, stateDir: "/s", diff: "", before: "present", reason: "r" };
    /** roll zk1 as the planner makes it, its undo included; the looks the check and the undo see come from `looks`. */
    function roll(looks: () => EnsembleReport) {
      const h = harness();
      h.actions.observe = async () => looks();
      const check = caught(30);
      const undo = putBackSteps("zk1", (stop("zk1") as StopStep).args, (start("zk1") as StartStep).args, [write], check, gateOf(30));
      const p = { target: { name: "e", inventory: "e.yml", version: "3.8.0", members: [] }, unchanged: [], refusals: [],
        stages: [{ title: "roll zk1 (follower)", concurrent: false, steps: [write, stop("zk1"), start("zk1"), check], undo }] } as Plan;
      return { h, run: () => executePlan(p, { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 1, goneMs: 60_000 }).then(() => { throw new Error("the run passed"); }, (e: unknown) => e as ZkfleetError) };
    }

    it("another server failed (the leader frozen; zk1 came back and serves with zk3): halts naming it and what to do, and zk1 is not put back", async () => {
      const { h, run } = roll(() => ensemble({ zk1: "follower", zk2: "frozen", zk3: "leader" }));
      const err = await run();
      expect(err).toBeInstanceOf(OtherServerFailed);
      expect(exitCodeFor(err)).toBe(ExitCode.failed);
      expect(err.message).toMatch(/^zk1 came back and serves \(following zk3, 2\/3 voters up\), but zk2 failed during its check: zk2: ZooKeeper accepts connections .* answers nothing/);
      expect(err.message).toMatch(/zk1 is left as it is \(putting it back would stop a working server\) and the run halted$/);
      expect(err.hint).toMatch(/zkfleet runs resume r1/);
      expect(h.acted).toEqual(["write_file:zk1", "stop:zk1", "start:zk1"]);
      expect(h.records.map((r) => r.event)).not.toContain("undo-start");
    });

    it("the restarted server did not come back (the others serve): it is put back, its undo's gate passing first", async () => {
      const { h, run } = roll(() => ensemble({ zk1: "down", zk2: "leader", zk3: "follower" }));
      const err = await run();
      expect(err).not.toBeInstanceOf(OtherServerFailed);
      expect(h.records.map((r) => r.event)).toContain("undo-start");
      expect(h.acted).toEqual(["write_file:zk1", "stop:zk1", "start:zk1", "stop:zk1", "write_file:zk1", "start:zk1"]);
      const gate = h.records.find((r) => r.event === "step-done" && r.index === 4) as { message?: string } | undefined;
      expect(gate?.message).toBe("without zk1, 2 of 3 voters serve (zk2, zk3); a quorum needs 2");
    });

    it("the undo's gate refuses to stop the server when that would leave fewer than a quorum serving, and the run halts saying so", async () => {
      // zk1 never serves, and of the others only zk3: stopping zk1 (were it serving after all) would leave one of three.
      const { h, run } = roll(() => ensemble({ zk1: "down", zk2: "frozen", zk3: "follower" }));
      const err = await run();
      expect(exitCodeFor(err)).toBe(ExitCode.failed);
      expect(err.message).toMatch(/^roll zk1 \(follower\) failed \(.*\); zk1 was not put back, since stopping it would leave fewer than a quorum serving: not going on: .*without zk1, 1 of 3 voters serve \(zk3\); a quorum needs 2/);
      expect(err.hint).toMatch(/zkfleet runs resume r1/);
      // Its second stop never ran.
      expect(h.acted).toEqual(["write_file:zk1", "stop:zk1", "start:zk1"]);
      expect(h.records.map((r) => r.event)).toContain("undo-start");
      expect(h.records.map((r) => r.event)).not.toContain("undo-done");
    });
  });

  describe("a gate or check ends within its timeout and a small bound", () => {
    it("when a look never finishes, and when each look is slow", async () => {
      vi.useFakeTimers();
      try {
        for (const observe of [() => new Promise<never>(() => {}), () => new Promise<EnsembleReport>((r) => setTimeout(() => r(report("degraded")), 4_000))]) {
          const h = harness();
          h.actions.observe = observe;
          let ended: unknown;
          void executePlan(plan([{ ...gate, timeoutMs: 10_000 } as Step, stop("zk2")]), { actions: h.actions, journal: h.journal, parallel: 1 })
            .then(() => (ended = "passed"), (e: unknown) => (ended = e));
          // The timeout and 1 s more: a look under way then is not waited for.
          await vi.advanceTimersByTimeAsync(11_000);
          expect(ended).toBeInstanceOf(ZkfleetError);
          expect(exitCodeFor(ended)).toBe(ExitCode.unsafe);
          expect((ended as ZkfleetError).message).toMatch(/did not become healthy within 10s/);
          expect(h.acted).toEqual([]);
        }
      } finally {
        vi.useRealTimers();
      }
    });
  });

  it("an interrupt between a server's start and its check says it was not checked, and that runs resume checks it first", async () => {
    const abort = new AbortController();
    const h = harness({ onAct: (s) => s.kind === "start" && abort.abort() });
    const err = await executePlan(planWithUndo([gate, stop("zk2"), start("zk2"), check], [stop("zk2"), start("zk2"), { ...check }]),
      { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0, signal: abort.signal }).catch((e) => e);
    expect(exitCodeFor(err)).toBe(ExitCode.interrupted);
    expect(err.message).toMatch(/^interrupted before step 4 \(await_healthy on \*\); every earlier step finished; zk2 was started and has not been checked yet$/);
    expect(err.hint).toMatch(/^run `zkfleet runs resume r1`: it checks zk2 before anything else and puts it back as it was if it does not serve/);
    expect(h.acted).toEqual(["stop:zk2", "start:zk2"]);
    expect(h.records.filter((r) => r.event === "unchecked")).toEqual([{ event: "unchecked", host: "zk2", stage: "roll zk2 (follower)" }]);
  });

  it("a stage that checks a server a resumed run started undoes it when it does not serve, though the stage stopped nothing", async () => {
    const h = harness({ verdicts: ["no-quorum", "healthy", "healthy"] });
    const p: Plan = { ...planWithUndo([{ ...check, timeoutMs: 0 } as Step], [stop("zk2"), start("zk2"), check]) };
    p.stages[0]!.resumes = "zk2";
    const err = await executePlan(p, { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 }).catch((e) => e);
    expect(err.message).toMatch(/put back on its previous release and configuration/);
    expect(h.acted).toEqual(["stop:zk2", "start:zk2"]);
  });

  it("an interrupt stops between steps, journals where, and exits 130 (not 'invalid input')", async () => {
    const abort = new AbortController();
    const h = harness({ onAct: (s) => s.kind === "stop" && abort.abort() });
    const err = await executePlan(plan([stop("zk2"), start("zk2")]), { actions: h.actions, journal: h.journal, parallel: 1, signal: abort.signal }).catch((e) => e);
    expect(h.acted).toEqual(["stop:zk2"]);
    expect(exitCodeFor(err)).toBe(ExitCode.interrupted);
    expect(err.message).toMatch(/interrupted before step 2 \(start on zk2\); every earlier step finished/);
    expect(h.records.map((r) => r.event)).toEqual(["plan", "step-start", "step-done", "interrupted"]);
  });
  it("a run whose lock was taken over stops before its next step that acts, gates still looking; no undo (exit 5)", async () => {
    const by = { run: "run-9", holder: "eve@ctl pid 9", since: "2025-02-02T02:02:02Z", generation: 2, token: "9".repeat(32), process: null, lease_ms: 45_000, renewed_at: "x", lease_left_ms: 45_000 };
    let lost: LockTakenOver | undefined;
    const h = harness({ onAct: (s) => s.kind === "stop" && (lost = new LockTakenOver("e", by, "zk2")) });
    const lock = { assertHeld: () => { if (lost) throw lost; } };
    const err = await executePlan(planWithUndo([gate, stop("zk2"), start("zk2"), check], [start("zk2")]),
      { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0, lock }).catch((e) => e);
    expect(h.acted).toEqual(["stop:zk2"]);
    expect(exitCodeFor(err)).toBe(ExitCode.unsafe);
    expect(err.message).toBe("the lock of ensemble e was taken over by run run-9 (eve@ctl pid 9) at 2025-02-02T02:02:02Z; this run stopped before step 3; nothing more was changed by it");
    expect(h.records.map((r) => r.event)).toEqual(["plan", "step-start", "leader", "step-done", "step-start", "step-done", "lock-taken-over"]);
    expect(h.records.at(-1)).toMatchObject({ before: 2, kind: "start", host: "zk2", by: { run: "run-9" } });
  });

  it("a step an agent refused for its fence ends the run there, with no undo after it", async () => {
    const by = { run: "run-9", holder: "eve@ctl pid 9", since: "t", generation: 2, token: "9".repeat(32), process: null, lease_ms: 45_000, renewed_at: "x", lease_left_ms: 45_000 };
    const h = harness();
    h.actions.start = async () => {
      throw new LockTakenOver("e", by, "zk2");
    };
    const err = await executePlan(planWithUndo([gate, stop("zk2"), start("zk2"), check], [stop("zk2"), start("zk2")]),
      { actions: h.actions, journal: h.journal, parallel: 1, pollMs: 0 }).catch((e) => e);
    expect(h.acted).toEqual(["stop:zk2"]);
    expect(err).toBeInstanceOf(LockTakenOver);
    expect(err.message).toMatch(/this run stopped before step 3; nothing more was changed by it$/);
    expect(h.records.map((r) => r.event)).not.toContain("undo-start");
  });
});
