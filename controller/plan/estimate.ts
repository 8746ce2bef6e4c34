// How long a plan will take, for maintenance windows: per step kind, the
// median of what earlier runs of this ensemble measured, or a conservative
// default where there is no history yet. Pure.
import type { Plan, Stage, Step, StepKind } from "./steps.js";
import { quantile } from "../../common/quantile.js";

/** Generous on purpose: a window is better left early than overrun. */
const DEFAULT_MS: Record<StepKind, number> = {
  install: 30_000,
  write_file: 2_000,
  stop: 10_000,
  switch_release: 2_000,
  clean_data: 2_000,
  restore_data: 30_000,
  start: 15_000,
  await_healthy: 20_000,
  reconfig: 10_000,
  await_config: 10_000,
};

export type StepHistory = Partial<Record<StepKind, number[]>>;

export function estimateStep(step: Step, history: StepHistory): number {
  const seen = history[step.kind];
  return (seen ? quantile(seen, 0.5) : undefined) ?? DEFAULT_MS[step.kind];
}

/** A stage: hosts side by side in a concurrent one (the slowest host counts), one step after another otherwise. */
export function estimateStage(stage: Stage, history: StepHistory): number {
  if (!stage.concurrent) return stage.steps.reduce((sum, s) => sum + estimateStep(s, history), 0);
  const perHost = new Map<string, number>();
  for (const s of stage.steps) perHost.set(s.host, (perHost.get(s.host) ?? 0) + estimateStep(s, history));
  return Math.max(0, ...perHost.values());
}

export function estimatePlan(plan: Plan, history: StepHistory): number {
  return plan.stages.reduce((sum, st) => sum + estimateStage(st, history), 0);
}

/**
 * A window "HH:MM-HH:MM" (local time; one that ends before it starts runs
 * past midnight) as the deadline for a run starting at `now`, or why it
 * cannot be used now.
 */
export function windowDeadline(window: string, now: Date): { deadline: Date } | { error: string } {
  const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(window.trim());
  if (!m) return { error: `"${window}" is not a window like 02:00-04:00` };
  const [sh, sm, eh, em] = m.slice(1).map(Number) as [number, number, number, number];
  if (sh > 23 || eh > 23 || sm > 59 || em > 59) return { error: `"${window}" is not a window like 02:00-04:00` };
  const at = (h: number, min: number, dayOffset: number) => {
    const d = new Date(now);
    d.setHours(h, min, 0, 0);
    d.setDate(d.getDate() + dayOffset);
    return d;
  };
  // The window that contains now: today's, or the one that began yesterday and runs past midnight.
  for (const offset of [0, -1]) {
    const start = at(sh, sm, offset);
    const end = at(eh, em, offset + (eh * 60 + em <= sh * 60 + sm ? 1 : 0));
    if (now >= start && now < end) return { deadline: end };
  }
  const next = at(sh, sm, now < at(sh, sm, 0) ? 0 : 1);
  return { error: `the window ${window} is not open now; it opens at ${next.toString()}` };
}
