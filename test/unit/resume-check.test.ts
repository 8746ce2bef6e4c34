// runs resume after a run that started a server and never saw it through its
// check (Ctrl-C between the two, a killed controller, a check that halted):
// which servers the journal says those are, and the plan that checks them
// first with the run's own undo behind the check.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Journal } from "../../controller/execute/journal.js";
import { uncheckedStarts } from "../../controller/execute/runs.js";
import { checkUncheckedFirst, putBackSteps } from "../../controller/plan/put-back.js";
import type { AwaitHealthyStep, Plan, Stage, Step } from "../../controller/plan/steps.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const hosts = ["zk1", "zk2", "zk3"];
const healthy = (role: "gate" | "check", caughtUp?: string): AwaitHealthyStep => ({
  kind: "await_healthy", host: "*", role, hosts, versions: ["3.8.0"], timeoutMs: role === "gate" ? 30_000 : 120_000, reason: "r", ...(caughtUp ? { caughtUp } : {}),
});
function roll(host: string): Stage {
  const write: Step = { kind: "write_file", host, path: "/c/zoo.cfg", content: "new", previous: "old", mode: 0o644, stateDir: "/s", diff: "", before: "present", reason: "r" };
  const stop: Step = { kind: "stop", host, mode: "follower", reason: "r", args: { data_dir: "/d", config_path: "/c/zoo.cfg" } };
  const start: Step = { kind: "start", host, reason: "r", args: { install_dir: "/i", config_dir: "/c", data_dir: "/d" } };
  const check = healthy("check", host);
  return { title: `roll ${host} (follower)`, concurrent: false, steps: [healthy("gate"), write, stop, start, check], undo: putBackSteps(host, stop.args, start.args, [write], check, healthy("gate")) };
}
const plan = (...stages: Stage[]): Plan => ({ target: { name: "e", inventory: "e.yml", version: "3.8.0", members: [] }, stages, unchanged: [], refusals: [] });

/** A journal of `p` in which the steps numbered `started` started and `done` ended, and then `more` records. */
function journal(p: Plan, started: number[], done: number[], more: [string, Record<string, unknown>][] = []): string {
  const dir = mkdtempSync(join(tmpdir(), "zkfleet-resume-check-"));
  dirs.push(dir);
  const j = new Journal(dir, "e", "apply", "r1");
  j.plan(p);
  for (const index of started) j.write("step-start", { index });
  for (const index of done) j.write("step-done", { index });
  for (const [event, data] of more) j.write(event, data);
  j.close();
  return j.path;
}

describe("uncheckedStarts", () => {
  const p = plan(roll("zk1"), roll("zk3"));
  it("a server whose start began and whose check did not pass; not one whose check passed or whose undo finished", () => {
    // Interrupted after zk1's start (step 4), before its check (step 5).
    expect(uncheckedStarts(journal(p, [0, 1, 2, 3], [0, 1, 2, 3])).map((u) => u.host)).toEqual(["zk1"]);
    // Killed while starting: it may run.
    expect(uncheckedStarts(journal(p, [0, 1, 2, 3], [0, 1, 2])).map((u) => u.host)).toEqual(["zk1"]);
    // Halted at its check (another server failed).
    expect(uncheckedStarts(journal(p, [0, 1, 2, 3, 4], [0, 1, 2, 3])).map((u) => u.host)).toEqual(["zk1"]);
    // Checked: then zk3 stopped before its start, which the plan observed afresh sees and starts.
    expect(uncheckedStarts(journal(p, [0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7]))).toEqual([]);
    // Put back by its undo.
    expect(uncheckedStarts(journal(p, [0, 1, 2, 3, 4], [0, 1, 2, 3], [["undo-done", { stage: "roll zk1 (follower)" }]]))).toEqual([]);
    const [u] = uncheckedStarts(journal(p, [0, 1, 2, 3], [0, 1, 2, 3]));
    expect(u!.check).toMatchObject({ role: "check", caughtUp: "zk1" });
    expect(u!.undo.map((s) => s.kind)).toEqual(["await_healthy", "stop", "write_file", "start", "await_healthy"]);
  });

  it("plans the check first, with that run's undo and this run's timeouts; a resume of that resume still knows the server", () => {
    const unchecked = uncheckedStarts(journal(p, [0, 1, 2, 3], [0, 1, 2, 3]));
    const fresh = plan(roll("zk3"));
    const resumed = checkUncheckedFirst(fresh, unchecked, "r1", { gateMs: 10_000, settleMs: 45_000 });
    expect(resumed.stages.map((s) => s.title)).toEqual(["check zk1, started by run r1 and never seen serving", "roll zk3 (follower)"]);
    const first = resumed.stages[0]!;
    expect(first).toMatchObject({ resumes: "zk1", concurrent: false });
    expect(first.steps).toEqual([expect.objectContaining({ kind: "await_healthy", role: "check", caughtUp: "zk1", timeoutMs: 45_000 })]);
    expect(first.undo![0]).toMatchObject({ role: "gate", quorumWithout: "zk1", timeoutMs: 10_000 });
    expect(first.undo!.map((s) => `${s.kind}:${s.host}`)).toEqual(["await_healthy:*", "stop:zk1", "write_file:zk1", "start:zk1", "await_healthy:*"]);
    // That resume interrupted before its check: resumed again, zk1 is still to check.
    expect(uncheckedStarts(journal(resumed, [], [])).map((u) => u.host)).toEqual(["zk1"]);
    // Nothing to check, or a refused plan: unchanged.
    expect(checkUncheckedFirst(fresh, [], "r1", { gateMs: 1, settleMs: 1 })).toBe(fresh);
    const refused = { ...fresh, stages: [], refusals: [{ code: "quorum_at_risk" as const, message: "m", data: {} }] };
    expect(checkUncheckedFirst(refused, unchecked, "r1", { gateMs: 1, settleMs: 1 })).toBe(refused);
  });
});
