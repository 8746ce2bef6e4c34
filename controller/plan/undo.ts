// A stage's undo (pure): what the stage does when the server it restarted
// does not come back: stop it, write back every file the stage changed,
// switch back the release it switched, start it and wait for it to serve as before. The executor
// runs these steps only when the stage failed after its stop; then the run
// halts with that server as it was and the servers after it untouched. The
// stop is gated like any other: a server that serves after all is never
// stopped while fewer than a quorum of the others serve.
import { unifiedDiff } from "../../common/diff.js";
import { type AwaitHealthyStep, type Plan, type Stage, type StartStep, type Step, type StopStep, startStep, stopStep } from "./steps.js";

export function undoSteps(
  host: string, stop: StopStep["args"], start: StartStep["args"], acted: readonly Step[], settle: AwaitHealthyStep, gate: AwaitHealthyStep,
): Step[] {
  return [
    { ...gate, quorumWithout: host, reason: `stopping ${host} must leave a quorum of the others serving` },
    stopStep(host, stop, "failed", "it did not come back: put it back as it was"),
    ...acted.flatMap((w): Step[] => (w.kind === "write_file" && w.previous !== null
      ? [{ ...w, content: w.previous, previous: w.content, diff: unifiedDiff(w.path, w.content, w.previous), reason: "back to its content before this run" }]
      : [])),
    ...acted.flatMap((st): Step[] => (st.kind === "switch_release" && st.before.current !== null
      ? [{ ...st, version: st.before.current, before: { current: st.version }, reason: `back to ${st.before.current}` }]
      : [])),
    startStep(host, start, "on its previous release and configuration"),
    { ...settle, reason: `${host} must serve again as before; then the run halts` },
  ];
}

/** A server a run started in a stage that can undo it, and never saw through its settle (interrupted, killed, or halted there). */
export interface UnsettledStart {
  host: string;
  /** Its stage's start (absent in journals written before a resume started it again), settle and undo, as that run planned them. */
  start?: StartStep;
  check: AwaitHealthyStep;
  undo: Step[];
}

/**
 * A resumed run waits first for every server the run it resumes started and
 * never saw serve, to settle, with that run's undo behind the settle: observed afresh,
 * such a server only looks like one that runs, and a plan from that alone
 * would go on without ever seeing it serve, and with no way back.
 * The start comes again first: the journal says a start began, not that it
 * ran (a controller killed right after writing "start" never sent it, and
 * that server's settle would fail on a server nobody started). A start of a
 * server that runs is a no-op that says so.
 */
export function settleUnsettledFirst(plan: Plan, unsettled: readonly UnsettledStart[], run: string, timeouts: { gateMs: number; settleMs: number }): Plan {
  if (plan.refusals.length > 0 || unsettled.length === 0) return plan;
  const timed = (s: Step): Step => (s.kind === "await_healthy" ? { ...s, timeoutMs: s.role === "gate" ? timeouts.gateMs : timeouts.settleMs } : { ...s });
  const settles = unsettled.map((u): Stage => ({
    title: `settle ${u.host}, started by run ${run} and never seen serving`,
    concurrent: false,
    steps: [
      ...(u.start ? [{ ...u.start, reason: `run ${run} began to start ${u.host}: started unless it runs` }] : []),
      { ...timed(u.check) as AwaitHealthyStep, reason: `run ${run} started ${u.host} and stopped before it settled: it must serve before anything else` },
    ],
    undo: u.undo.map(timed),
    resumes: u.host,
  }));
  return { ...plan, stages: [...settles, ...plan.stages] };
}
