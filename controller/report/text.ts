// A run's report as lines for people and as JSON for programs.
import type { CanaryRunReport } from "../canary/route.js";
import { type Step, describeStep } from "../plan/steps.js";
import type { RunReport } from "./model.js";

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
/** A canary figure, or "unknown" where a client's report is missing (canary.ts ClientFigures). */
export const figure = (n: number | null, unit = (x: number) => String(x)) => (n === null ? "unknown" : unit(n));
const ms = (n: number) => `${n} ms`;

/** The canary's figures for people: in total, then each step where clients saw something. */
export function formatCanary(r: CanaryRunReport, steps: readonly Step[]): string {
  const t = r.total;
  const lines = [`canary: ${figure(t.ops)} operations, ${figure(t.failed)} failed, longest unavailability ${figure(t.longestGapMs, seconds)} (full connect string), ` +
    `latency p50 ${figure(t.p50Ms, ms)} p99 ${figure(t.p99Ms, ms)}, sessions expired ${figure(t.expired)}, acknowledged writes lost ${figure(t.lost)}` +
    `${t.unknown ? " (unknown: a client's report is missing or incomplete)" : ""}`];
  for (const st of r.steps) {
    if (st.failed === 0 || !steps[st.index]) continue;
    lines.push(`  step ${st.index + 1} (${describeStep(steps[st.index]!)}): ${st.failed} of ${st.ops} failed, longest gap ${seconds(st.longestGapMs)}`);
  }
  for (const c of r.clients) if (c.problem) lines.push(`  ${c.label}: ${c.problem}`);
  for (const w of r.swept ?? []) lines.push(`  removed ${w.znodes} canary znodes run ${w.run} left behind (killed before its canary cleaned up, or its final check could not read them)`);
  for (const note of r.sweepNotes ?? []) lines.push(`  ${note}`);
  return lines.join("\n");
}

/** `runs show`: the run, each step, the gates' waits, leader changes and the canary, per client too. */
export function formatRunReport(r: RunReport): string[] {
  const s = r.summary;
  const t0 = Date.parse(s.started);
  const offset = (at: string) => `+${seconds(Date.parse(at) - t0)}`;
  const lines = [
    `run ${s.run} (${s.command} of ${s.ensemble}): ${s.outcome}${s.detail ? `: ${s.detail}` : ""}`,
    `  started ${s.started}${s.ended ? `, ended ${s.ended}` : ""}; inventory ${s.origin?.inventory ?? "?"}; journal ${s.file}`,
    "steps (when, after the run started):",
  ];
  for (const st of r.steps) {
    lines.push(`  ${String(st.index + 1).padStart(3)}. ${(st.startedAt ? offset(st.startedAt) : "").padStart(7)} ${st.outcome.padEnd(15)} ${st.kind.padEnd(14)} ${st.host.padEnd(8)}` +
      `${st.ms !== undefined ? ` ${seconds(st.ms)}` : ""}${st.undo ? " (undo)" : ""}${st.message ? `  ${st.message}` : ""}`);
  }
  if (r.gates.length > 0) lines.push("gates and checks (how long each waited, and for what):");
  for (const g of r.gates) {
    const what = `${g.hosts.join(", ")} healthy${g.caughtUp ? `, ${g.caughtUp} caught up` : ""}`;
    const waited = g.waitedFor.length > 0 ? `; waited for ${g.waitedFor.join(", then ")}` : g.polls === 1 ? "; healthy at the first look" : "";
    lines.push(`  ${String(g.index + 1).padStart(3)}. ${g.role} ${what}: ${g.ms !== undefined ? seconds(g.ms) : g.outcome}` +
      `${g.polls !== undefined ? `, ${g.polls} look(s)` : ""}${waited}`);
  }
  if (r.leaders.length > 0) {
    lines.push(`leader: ${r.leaders.map((l) => `${l.host ?? "none"} ${offset(l.at)} (step ${l.step + 1})`).join(" -> ")}` +
      ` (${r.leaders.length - 1} change(s) seen by the gates and checks)`);
  }
  if (r.canary) {
    const [total, ...perStep] = formatCanary(r.canary, r.planned).split("\n");
    lines.push(`${total} (clients went ${r.canary.via})`, ...perStep);
    for (const c of r.canary.clients) {
      lines.push(`  client ${c.label.padEnd(6)} ${figure(c.ops)} ops, ${figure(c.failed)} failed, ${figure(c.lost)} lost, ${figure(c.expired)} expired, ` +
        `longest gap ${figure(c.longestGapMs, seconds)}, p50 ${figure(c.p50Ms, ms)}, p99 ${figure(c.p99Ms, ms)}`);
    }
  }
  return lines;
}

/** `runs show --json`: the same as the text (the series only goes into the HTML page). */
export function runReportJson(r: RunReport): Record<string, unknown> {
  return { ...r.summary, stepRecords: r.steps, gates: r.gates, leaders: r.leaders, ...(r.canary ? { canary: r.canary } : {}) };
}
