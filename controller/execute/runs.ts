// Reading journals back: which runs an ensemble had, how each ended, and
// where a run came from (for `runs resume`). A run killed outright has no
// closing record: it is reported as such, never guessed to have finished.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import type { StepHistory } from "../plan/estimate.js";
import type { Plan, StepKind } from "../plan/steps.js";
import type { UncheckedStart } from "../plan/put-back.js";
import type { RunOrigin } from "./journal.js";
import { compareText } from "../../common/compare.js";

export type RunOutcome = "done" | "failed" | "interrupted" | "refused" | "no end record (controller killed?)";

export interface RunSummary {
  run: string;
  ensemble: string;
  command: string;
  file: string;
  started: string;
  ended?: string;
  outcome: RunOutcome;
  steps: number;
  stepsDone: number;
  changed: number;
  /** The failed step's error, or where it was interrupted. */
  detail?: string;
  origin?: RunOrigin;
}

/** One line of a journal. */
export interface Rec { at: string; run: string; event: string; [k: string]: unknown }

/** A journal's records; with `event`, only the lines that name it are parsed (a plan's line carries every file's content). */
export function records(file: string, event?: string): Rec[] {
  const wanted = event === undefined ? undefined : `"event":${JSON.stringify(event)}`;
  return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "" && (wanted === undefined || l.includes(wanted))).flatMap((l) => {
    try {
      return [JSON.parse(l) as Rec];
    } catch {
      // A line cut short by a kill mid-write is not a record.
      return [];
    }
  });
}

export function summarize(file: string): RunSummary | undefined {
  return summarizeRecords(records(file), file);
}

/** A run's summary from its records (file: where they were read, for people). */
export function summarizeRecords(recs: readonly Rec[], file: string): RunSummary | undefined {
  const plan = recs.find((r) => r.event === "plan");
  if (!plan) return undefined;
  const steps = ((plan.plan as Plan | undefined)?.stages ?? []).reduce((n, s) => n + s.steps.length, 0);
  const last = recs.at(-1)!;
  // The canary's report may follow the closing record.
  const doneRec = recs.find((r) => r.event === "done");
  const failed = recs.find((r) => r.event === "step-failed");
  const interrupted = recs.find((r) => r.event === "interrupted" || r.event === "window-closing" || r.event === "lock-taken-over");
  const outcome: RunOutcome = doneRec ? "done" : failed ? "failed" : interrupted ? "interrupted" : "no end record (controller killed?)";
  const detail = failed ? `step ${Number(failed.index) + 1} (${String(failed.kind)} on ${String(failed.host)}): ${String(failed.error)}`
    : interrupted ? `before step ${Number(interrupted.before) + 1}${interrupted.event === "lock-taken-over" ? `: the lock was taken over by run ${String((interrupted.by as { run?: unknown } | null)?.run ?? "?")}` : ""}` : undefined;
  const origin = plan.inventory ? {
    inventory: String(plan.inventory), inventoryHash: String(plan.inventoryHash), lockRun: String(plan.lockRun ?? plan.run),
    ...(plan.resumes ? { resumes: String(plan.resumes) } : {}), ...(plan.rollsBack ? { rollsBack: String(plan.rollsBack) } : {}),
    ...(Array.isArray(plan.limit) ? { limit: plan.limit as string[] } : {}),
    ...(plan.restores ? { restores: String(plan.restores) } : {}),
  } : undefined;
  return {
    run: plan.run, ensemble: String(plan.ensemble), command: String(plan.command), file, started: plan.at,
    ...(doneRec || failed || interrupted ? { ended: last.at } : {}),
    outcome, steps, stepsDone: recs.filter((r) => r.event === "step-done").length,
    changed: recs.filter((r) => r.event === "step-done" && r.changed === true).length,
    ...(detail ? { detail } : {}), ...(origin ? { origin } : {}),
  };
}

/** Every run in the journal directory (optionally of one ensemble), oldest first. */
export function listRuns(dir: string, ensemble?: string): RunSummary[] {
  if (!existsSync(dir)) return [];
  const ensembles = ensemble ? [ensemble] : readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  return ensembles.flatMap((e) => {
    const folder = join(dir, e);
    if (!existsSync(folder)) return [];
    return readdirSync(folder).filter((f) => f.endsWith(".jsonl")).flatMap((f) => summarize(join(folder, f)) ?? []);
  }).sort((a, b) => compareText(a.started, b.started));
}

export function findRun(dir: string, run: string): RunSummary {
  const found = listRuns(dir).filter((r) => r.run === run || r.run.startsWith(run));
  if (found.length === 1) return found[0]!;
  throw new ZkfleetError("usage", found.length === 0 ? `no run ${run} in ${dir}` : `${run} names ${found.length} runs: ${found.map((r) => r.run).join(", ")}`, {
    where: dir, hint: "`zkfleet runs` lists the runs; give the whole id (or --journal for another journal directory)",
  });
}

export interface StepRecord {
  index: number;
  kind: string;
  host: string;
  outcome: "changed" | "ok" | "failed" | "started, no end" | "not run";
  ms?: number;
  message?: string;
  /** When its step-start and its step-done or step-failed record were written. */
  startedAt?: string;
  endedAt?: string;
  undo?: true;
  /** What the step did, as it recorded (a gate: its polls and what it waited for). */
  data?: Record<string, unknown>;
}

/** The step records of a run, for `runs show`: the plan's steps, then its stages' undo steps (numbered after them, as the executor does). */
export function runSteps(recs: readonly Rec[]): StepRecord[] {
  const plan = recs.find((r) => r.event === "plan")?.plan as Plan | undefined;
  const own = (plan?.stages ?? []).flatMap((s) => s.steps);
  const steps = [...own, ...(plan?.stages ?? []).flatMap((s) => s.undo ?? [])];
  return steps.map((s, index): StepRecord => {
    const done = recs.find((r) => r.event === "step-done" && r.index === index);
    const failed = recs.find((r) => r.event === "step-failed" && r.index === index);
    const started = recs.find((r) => r.event === "step-start" && r.index === index);
    const end = done ?? failed;
    return {
      index, kind: s.kind, host: s.host,
      outcome: done ? (done.changed ? "changed" : "ok") : failed ? "failed" : started ? "started, no end" : "not run",
      ...(done ? { ms: Number(done.ms), message: String(done.message) } : failed ? { message: String(failed.error) } : {}),
      ...(started ? { startedAt: started.at } : {}), ...(end ? { endedAt: end.at } : {}),
      ...(index >= own.length ? { undo: true as const } : {}),
      ...(done?.data && typeof done.data === "object" ? { data: done.data as Record<string, unknown> } : {}),
    };
  // An undo step that never ran is no news: every stage that stops a server has some.
  }).filter((st) => !st.undo || st.outcome !== "not run");
}

/** How long each kind of step took in this ensemble's earlier runs (successful steps only), for estimates. */
export function stepHistory(dir: string, ensemble: string, runs = 20): StepHistory {
  const history: StepHistory = {};
  const folder = join(dir, ensemble);
  if (!existsSync(folder)) return history;
  // Run ids start with their time, so names sort by age; an old journal directory must not slow every apply.
  const newest = readdirSync(folder).filter((f) => f.endsWith(".jsonl")).sort().slice(-runs);
  for (const file of newest) {
    for (const r of records(join(folder, file), "step-done")) {
      if (r.event !== "step-done" || typeof r.ms !== "number") continue;
      (history[r.kind as StepKind] ??= []).push(r.ms);
    }
  }
  return history;
}

/**
 * A run and the runs that continued it (`runs resume` of it, of those, ...),
 * oldest first: what the operator started is done by all of them together.
 */
export function runChain(dir: string, run: RunSummary): RunSummary[] {
  const all = listRuns(dir, run.ensemble);
  const chain = [run];
  for (let i = 0; i < chain.length; i++) chain.push(...all.filter((r) => r.origin?.resumes === chain[i]!.run));
  return chain.sort((a, b) => compareText(a.started, b.started));
}

/**
 * What a run replaced, read from the journals of it and its resumes (files
 * in that order): for every file a step of theirs may have changed, the
 * content before (only files that existed; a created file is left), and the
 * release its servers ran before, if one switched them. A step announced and
 * never ended (the controller killed while it ran) may have acted, so it
 * counts: putting back what was there is harmless where it had not.
 */
export function replacedBy(files: readonly string[]): { files: Map<string, Map<string, string>>; version?: string } {
  const replaced = new Map<string, Map<string, string>>();
  let version: string | undefined;
  for (const file of files) {
    const recs = records(file);
    const plan = recs.find((r) => r.event === "plan")?.plan as Plan | undefined;
    const steps = (plan?.stages ?? []).flatMap((s) => s.steps);
    const done = new Set(recs.filter((r) => r.event === "step-done" && r.changed === true).map((r) => Number(r.index)));
    const ended = new Set(recs.filter((r) => r.event === "step-done" || r.event === "step-failed").map((r) => Number(r.index)));
    const cut = new Set(recs.filter((r) => r.event === "step-start" && !ended.has(Number(r.index))).map((r) => Number(r.index)));
    steps.forEach((st, index) => {
      if (!done.has(index) && !cut.has(index)) return;
      if (st.kind === "write_file" && st.previous !== null && st.previous !== undefined) {
        const mine = replaced.get(st.host) ?? new Map<string, string>();
        // The first write of a path holds what was there before the run.
        if (!mine.has(st.path)) mine.set(st.path, st.previous);
        replaced.set(st.host, mine);
      }
      if ((st.kind === "switch_release" || (st.kind === "install" && st.setCurrent)) && st.before.current !== null) version ??= st.before.current;
    });
  }
  return { files: replaced, ...(version ? { version } : {}) };
}

/**
 * What a rollback of `run` puts back: what it and its resumes replaced. The
 * same for `runs rollback` and for a resume of that rollback, which goes on
 * toward it and never toward the inventory.
 */
export function rollbackOf(dir: string, run: RunSummary): { run: string; files: Map<string, Map<string, string>>; version?: string } {
  return { run: run.run, ...replacedBy(runChain(dir, run).map((r) => r.file)) };
}

/**
 * Where the ensemble ran after its newest finished run that acted: the
 * members (names and addresses) of that plan's target. What lets apply tell
 * an ensemble that moved from one that never existed.
 */
export function lastAppliedMembers(dir: string, ensemble: string): { run: string; members: { host: string; address: string; myid: number }[] } | undefined {
  const done = listRuns(dir, ensemble).filter((r) => r.outcome === "done" && r.changed > 0);
  const last = done.at(-1);
  if (!last) return undefined;
  const plan = records(last.file).find((r) => r.event === "plan")?.plan as Plan | undefined;
  const members = plan?.target.members.map((m) => ({ host: m.host, address: m.address, myid: m.myid })) ?? [];
  return members.length > 0 ? { run: last.run, members } : undefined;
}

/**
 * The servers a run started in a stage that can undo them and never saw
 * through that stage's check: its start began (or the stage was itself such
 * a check, of a run before it) and the check did not pass, and no undo of
 * the stage finished. What `runs resume` checks before anything else.
 */
export function uncheckedStarts(file: string): UncheckedStart[] {
  const recs = records(file);
  const plan = recs.find((r) => r.event === "plan")?.plan as Plan | undefined;
  const indexes = (event: string) => new Set(recs.filter((r) => r.event === event).map((r) => Number(r.index)));
  const started = indexes("step-start");
  const done = indexes("step-done");
  const undone = new Set(recs.filter((r) => r.event === "undo-done").map((r) => String(r.stage)));
  const found: UncheckedStart[] = [];
  let first = 0;
  for (const stage of plan?.stages ?? []) {
    const at = first;
    first += stage.steps.length;
    if (!stage.undo || undone.has(stage.title)) continue;
    const startAt = stage.steps.findIndex((s) => s.kind === "start");
    const host = stage.resumes ?? stage.steps[startAt]?.host;
    const checkAt = stage.steps.findIndex((s, i) => i > startAt && s.kind === "await_healthy" && s.role === "check");
    const check = stage.steps[checkAt];
    if (host === undefined || check?.kind !== "await_healthy" || done.has(at + checkAt)) continue;
    if (stage.resumes === undefined && !started.has(at + startAt)) continue;
    found.push({ host, check, undo: stage.undo });
  }
  return found;
}
