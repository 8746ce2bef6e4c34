// A run's report: what `runs show` prints and draws, taken from the
// journal's records alone (records in, report out), so the text, the JSON
// and the HTML page tell the same story.
import type { ClientSeries } from "../canary/canary.js";
import type { CanaryRunReport } from "../canary/route.js";
import { type Rec, type RunSummary, type StepRecord, runSteps, summarizeRecords } from "../execute/runs.js";
import type { Plan, Step } from "../plan/steps.js";

/** A gate or check: how long it waited, for what, and what it saw at the end. */
export interface GateWait {
  index: number;
  role: "gate" | "settle";
  hosts: string[];
  caughtUp?: string;
  reason: string;
  outcome: StepRecord["outcome"];
  ms?: number;
  polls?: number;
  /** The first and the last thing it waited for (none when the first look was healthy). */
  waitedFor: string[];
  message?: string;
}

/** A gate or check saw another leader than the one before (null: none). The first is the leader the run found. */
export interface LeaderChange {
  at: string;
  host: string | null;
  previous?: string | null;
  step: number;
}

export interface RunReport {
  summary: RunSummary;
  /** The plan's steps and its undo steps, in the journal's numbering (what canary figures per step refer to). */
  planned: Step[];
  steps: StepRecord[];
  gates: GateWait[];
  leaders: LeaderChange[];
  canary?: CanaryRunReport;
  series: ClientSeries[];
}

export function runReport(recs: readonly Rec[], file: string): RunReport | undefined {
  const summary = summarizeRecords(recs, file);
  if (!summary) return undefined;
  const plan = recs.find((r) => r.event === "plan")?.plan as Plan | undefined;
  const planned = [...(plan?.stages ?? []).flatMap((s) => s.steps), ...(plan?.stages ?? []).flatMap((s) => s.undo ?? [])];
  const steps = runSteps(recs);
  const gates = steps.flatMap((st): GateWait[] => {
    const s = planned[st.index];
    if (s?.kind !== "await_healthy" || st.outcome === "not run") return [];
    const polls = st.data?.polls;
    const waitedFor = st.data?.waitedFor;
    return [{
      index: st.index, role: s.role, hosts: s.hosts, ...(s.caughtUp ? { caughtUp: s.caughtUp } : {}), reason: s.reason, outcome: st.outcome,
      ...(st.ms !== undefined ? { ms: st.ms } : {}), ...(typeof polls === "number" ? { polls } : {}),
      waitedFor: Array.isArray(waitedFor) ? waitedFor.map(String) : [], ...(st.message ? { message: st.message } : {}),
    }];
  });
  const leaders = recs.filter((r) => r.event === "leader").map((r): LeaderChange => ({
    at: r.at, host: typeof r.host === "string" ? r.host : null, step: Number(r.step),
    ...("previous" in r ? { previous: typeof r.previous === "string" ? r.previous : null } : {}),
  }));
  const canaryRec = recs.find((r) => r.event === "canary");
  return {
    summary, planned, steps, gates, leaders,
    ...(canaryRec?.report ? { canary: canaryRec.report as CanaryRunReport } : {}),
    series: Array.isArray(canaryRec?.series) ? (canaryRec.series as ClientSeries[]) : [],
  };
}
