// What `runs rollback` puts back and what `runs resume` of a rollback goes
// on toward, read from journals written here as the executor writes them:
// a run and its resumes count as one (an upgrade killed in its push and
// finished by a resume switched nothing itself), and a step announced and
// never ended may have acted.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findRun, rollbackOf } from "../../controller/execute/runs.js";

const CFG = "/etc/zookeeper/conf/zoo.cfg";
type Line = Record<string, unknown>;

function journal(runs: { id: string; command: string; origin?: Record<string, string>; steps: Line[]; events: Line[] }[]): string {
  const dir = mkdtempSync(join(tmpdir(), "zkfleet-rollback-"));
  mkdirSync(join(dir, "e"));
  runs.forEach((r, n) => {
    const at = `2026-01-01T00:0${n}:00.000Z`;
    const plan = { target: { name: "e", members: [] }, stages: [{ title: "s", concurrent: false, steps: r.steps }], unchanged: [], refusals: [] };
    const lines = [
      { at, run: r.id, event: "plan", command: r.command, ensemble: "e", inventory: "/tmp/e.yml", inventoryHash: "h", lockRun: r.origin?.lockRun ?? r.id, ...(r.origin ?? {}), plan },
      ...r.events.map((e) => ({ at, run: r.id, ...e })),
    ];
    writeFileSync(join(dir, "e", `${r.id}-${r.command}.jsonl`), lines.map((l) => JSON.stringify(l) + "\n").join(""));
  });
  return dir;
}

const unpack = (host: string) => ({ kind: "install", host, version: "3.9.3", setCurrent: false, before: { current: "3.8.0", installed: ["3.8.0"] } });
const switchTo = (host: string, from: string, to: string) => ({ kind: "switch_release", host, version: to, before: { current: from } });
const write = (host: string, previous: string, content: string) => ({ kind: "write_file", host, path: CFG, previous, content });
const done = (index: number, changed = true) => ({ event: "step-done", index, changed });
const started = (index: number) => ({ event: "step-start", index });

describe("rollbackOf", () => {
  it("an upgrade killed in its push and finished by its resume: rolled back to the release before, from the resume's switches", () => {
    const dir = journal([
      { id: "u1", command: "apply", steps: [unpack("zk1"), unpack("zk2")], events: [started(0), done(0), started(1)] },
      { id: "u2", command: "resume", origin: { resumes: "u1", lockRun: "u1" }, steps: [switchTo("zk1", "3.8.0", "3.9.3"), switchTo("zk2", "3.8.0", "3.9.3")],
        events: [started(0), done(0), started(1), done(1), { event: "done" }] },
    ]);
    const back = rollbackOf(dir, findRun(dir, "u1"));
    expect(back).toMatchObject({ run: "u1", version: "3.8.0" });
    // The resume alone, asked for by its own id, is rolled back the same way.
    expect(rollbackOf(dir, findRun(dir, "u2")).version).toBe("3.8.0");
  });

  it("a rollback's resume, and the resume of that resume, go on toward what the rollback puts back", () => {
    const dir = journal([
      { id: "a1", command: "apply", steps: [write("zk1", "old", "new"), switchTo("zk1", "3.8.0", "3.9.3")], events: [started(0), done(0), started(1), done(1), { event: "done" }] },
      { id: "r1", command: "rollback", origin: { rollsBack: "a1" }, steps: [switchTo("zk1", "3.9.3", "3.8.0")], events: [started(0)] },
      { id: "r2", command: "resume", origin: { resumes: "r1", rollsBack: "a1", lockRun: "r1" }, steps: [], events: [] },
    ]);
    const r2 = findRun(dir, "r2");
    expect(r2.origin).toMatchObject({ resumes: "r1", rollsBack: "a1", lockRun: "r1" });
    const back = rollbackOf(dir, findRun(dir, r2.origin!.rollsBack!));
    expect(back.version).toBe("3.8.0");
    expect(back.files.get("zk1")?.get(CFG)).toBe("old");
    // The rollback's own switch (3.9.3 -> 3.8.0) is not what a rollback of the upgrade puts back.
    expect(rollbackOf(dir, findRun(dir, "a1")).version).toBe("3.8.0");
  });

  it("a step announced and never ended counts (the controller was killed while it ran); one that changed nothing does not", () => {
    const dir = journal([
      { id: "k1", command: "apply", steps: [write("zk1", "before", "after"), write("zk2", "same", "same"), switchTo("zk1", "3.8.0", "3.9.3")],
        events: [started(0), done(1, false), started(2)] },
    ]);
    const back = rollbackOf(dir, findRun(dir, "k1"));
    expect(back.version).toBe("3.8.0");
    expect([...back.files.keys()]).toEqual(["zk1"]);
    expect(back.files.get("zk1")?.get(CFG)).toBe("before");
  });

  it("the first write of a path in the chain holds what was there before the run", () => {
    const dir = journal([
      { id: "w1", command: "apply", steps: [write("zk1", "v1", "v2")], events: [started(0), done(0)] },
      { id: "w2", command: "resume", origin: { resumes: "w1", lockRun: "w1" }, steps: [write("zk1", "v2", "v3")], events: [started(0), done(0), { event: "done" }] },
    ]);
    expect(rollbackOf(dir, findRun(dir, "w1")).files.get("zk1")?.get(CFG)).toBe("v1");
  });
});
