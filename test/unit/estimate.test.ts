// Maintenance windows: estimates from history or defaults, window parsing,
// and the executor stopping before a stage that no longer fits.
import { describe, expect, it } from "vitest";
import { ExitCode, exitCodeFor } from "../../common/errors.js";
import { type Actions, executePlan } from "../../controller/execute/executor.js";
import { estimatePlan, estimateStage, windowDeadline } from "../../controller/plan/estimate.js";
import { stepHistory } from "../../controller/execute/runs.js";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Plan, Stage, Step } from "../../controller/plan/steps.js";

const start = (host: string): Step => ({ kind: "start", host, reason: "r", args: { install_dir: "/i", config_dir: "/c", data_dir: "/d" } });
const install = (host: string): Step => ({
  kind: "install", host, version: "3.8.0", tarball: "/t", transferDir: "/x", installDir: "/i", setCurrent: true, before: { current: null, installed: [] }, reason: "r",
});

describe("estimates", () => {
  it("use the median of earlier runs per kind, and defaults where there is none", () => {
    const serial: Stage = { title: "s", concurrent: false, steps: [start("zk1"), start("zk2")] };
    expect(estimateStage(serial, { start: [1000, 3000, 2000] })).toBe(4000);
    expect(estimateStage(serial, {})).toBe(30_000);
  });

  it("are read from the step-done records of the newest journals only, whatever the plan's file contents say", () => {
    const dir = mkdtempSync(join(tmpdir(), "zkfleet-history-"));
    try {
      mkdirSync(join(dir, "e"));
      const line = (event: string, data: object) => JSON.stringify({ at: "t", run: "r", event, ...data });
      // A file whose content looks like a record must not count: in the journal it is a JSON string, quotes escaped.
      const plan = line("plan", { plan: { content: line("step-done", { kind: "start", ms: 99_999 }) } });
      for (const [name, ms] of [["2026-01-01T00-00-00-000Z-a-apply.jsonl", 1000], ["2026-01-02T00-00-00-000Z-b-apply.jsonl", 3000], ["2026-01-03T00-00-00-000Z-c-apply.jsonl", 2000]] as const) {
        writeFileSync(join(dir, "e", name), [plan, line("step-start", { kind: "start" }), line("step-done", { kind: "start", ms }), '{"event":"step-done","kind":"sta'].join("\n"));
      }
      expect(stepHistory(dir, "e")).toEqual({ start: [1000, 3000, 2000] });
      expect(stepHistory(dir, "e", 2)).toEqual({ start: [3000, 2000] });
      expect(stepHistory(dir, "none")).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("count the slowest host of a parallel stage, not the sum", () => {
    const parallel: Stage = { title: "p", concurrent: true, steps: [install("zk1"), start("zk1"), install("zk2")] };
    expect(estimateStage(parallel, { install: [5000], start: [1000] })).toBe(6000);
    const plan: Plan = { target: { name: "e", inventory: "i", version: "3.8.0", members: [] }, stages: [parallel, parallel], unchanged: [], refusals: [] };
    expect(estimatePlan(plan, { install: [5000], start: [1000] })).toBe(12_000);
  });
});

describe("windowDeadline", () => {
  const at = (h: number, m: number) => { const d = new Date(2026, 10, 29, h, m); return d; };
  it("ends the window that is open now, across midnight too", () => {
    expect(windowDeadline("02:00-04:00", at(3, 0))).toEqual({ deadline: at(4, 0) });
    const overnight = windowDeadline("23:00-01:30", at(0, 30));
    expect("deadline" in overnight && overnight.deadline.getHours()).toBe(1);
    expect("deadline" in windowDeadline("23:00-01:30", at(23, 30))).toBe(true);
  });
  it("says when a window is closed or malformed", () => {
    expect(windowDeadline("02:00-04:00", at(5, 0))).toMatchObject({ error: expect.stringMatching(/is not open now; it opens at/) });
    expect(windowDeadline("2-4", at(3, 0))).toMatchObject({ error: expect.stringMatching(/not a window like 02:00-04:00/) });
    expect(windowDeadline("25:00-04:00", at(3, 0))).toHaveProperty("error");
  });
});

describe("the executor near the end of a window", () => {
  it("runs the stages that fit and stops before the first that does not (exit 130), journalled", async () => {
    const acted: string[] = [];
    const act = async (s: Step) => { acted.push(`${s.kind}:${s.host}`); return { changed: true, message: "ok" }; };
    const actions = { install: act, writeFile: act, switchRelease: act, cleanData: act, start: act, stop: act, observe: async () => { throw new Error("no gates here"); } } as unknown as Actions;
    const events: string[] = [];
    const journal = { runId: "r1", path: "(memory)", write: (e: string) => void events.push(e), plan: () => void events.push("plan") };
    const stages: Stage[] = [
      { title: "first", concurrent: false, steps: [start("zk1")] },
      { title: "second", concurrent: false, steps: [start("zk2")] },
    ];
    const plan: Plan = { target: { name: "e", inventory: "i", version: "3.8.0", members: [] }, stages, unchanged: [], refusals: [] };
    const deadline = { at: new Date(Date.now() + 60_000), estimateStage: (s: Stage) => (s.title === "first" ? 1_000 : 120_000) };
    const err = await executePlan(plan, { actions, journal, parallel: 1, deadline }).catch((e) => e);
    expect(acted).toEqual(["start:zk1"]);
    expect(exitCodeFor(err)).toBe(ExitCode.interrupted);
    expect(err.message).toMatch(/window closes at .*"second" needs about 120s; stopped before it \(step 2\), every server up and synced/);
    expect(err.hint).toContain("zkfleet runs resume r1");
    expect(events).toContain("window-closing");
  });
});
