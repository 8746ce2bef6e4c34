// What a stage does when the server it restarted does not come back (pure):
// stop it, write back every file the stage changed, switch back the release
// it switched, start it and wait for it to serve as before. The executor
// runs these steps only when the stage failed after its stop; then the run
// halts with that server as it was and the servers after it untouched. The
// stop is gated like any other: a server that serves after all is never
// stopped while fewer than a quorum of the others serve.
import { unifiedDiff } from "../../common/diff.js";
import type { AwaitHealthyStep, Plan, Stage, StartStep, Step, StopStep } from "./steps.js";

export function putBackSteps(
  host: string, stop: StopStep["args"], start: StartStep["args"], acted: readonly Step[], check: AwaitHealthyStep, gate: AwaitHealthyStep,
): Step[] {
  return [
    { ...gate, quorumWithout: host, reason: `stopping ${host} must leave a quorum of the others serving` },
    { kind: "stop", host, args: stop, mode: "failed", reason: "it did not come back: put it back as it was" },
    ...acted.flatMap((w): Step[] => (w.kind === "write_file" && w.previous !== null
      ? [{ ...w, content: w.previous, previous: w.content, diff: unifiedDiff(w.path, w.content, w.previous), reason: "back to its content before this run" }]
      : [])),
    ...acted.flatMap((st): Step[] => (st.kind === "switch_release" && st.before.current !== null
      ? [{ ...st, version: st.before.current, before: { current: st.version }, reason: `back to ${st.before.current}` }]
      : [])),
    { kind: "start", host, args: start, reason: "on its previous release and configuration" },
    { ...check, reason: `${host} must serve again as before; then the run halts` },
  ];
}

/** A server a run started in a stage that can undo it, and never saw through its check (interrupted, killed, or halted there). */
export interface UncheckedStart {
  host: string;
  /** Its stage's check and undo, as that run planned them. */
  check: AwaitHealthyStep;
  undo: Step[];
}

/**
 * A resumed run checks first every server the run it resumes started and
 * never saw serve, with that run's undo behind the check: observed afresh,
 * such a server only looks like one that runs, and a plan from that alone
 * would go on without ever checking it, and with no way back.
 */
export function checkUncheckedFirst(plan: Plan, unchecked: readonly UncheckedStart[], run: string, timeouts: { gateMs: number; settleMs: number }): Plan {
  if (plan.refusals.length > 0 || unchecked.length === 0) return plan;
  const timed = (s: Step): Step => (s.kind === "await_healthy" ? { ...s, timeoutMs: s.role === "gate" ? timeouts.gateMs : timeouts.settleMs } : { ...s });
  const checks = unchecked.map((u): Stage => ({
    title: `check ${u.host}, started by run ${run} and never seen serving`,
    concurrent: false,
    steps: [{ ...timed(u.check) as AwaitHealthyStep, reason: `run ${run} started ${u.host} and stopped before its check passed: it must serve before anything else` }],
    undo: u.undo.map(timed),
    resumes: u.host,
  }));
  return { ...plan, stages: [...checks, ...plan.stages] };
}
