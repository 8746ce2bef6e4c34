// The one place a plan is assembled (pure), as changesets' assemble step
// takes its pre-state: everything comes in as data (the inventory's target
// and its rendered files, what the hosts were observed to hold, the
// journal's facts the caller read, the request), and out comes a plan, or a
// plan that holds only typed refusals. It chooses the planner: a membership
// change (membership/change.ts, static or dynamic), else the rolling plan
// (plan.ts), staging only with --stage, a restore's stage put in before the
// starts, and a resumed run's unsettled servers settled first. Every
// /etc/hosts a finished membership plan writes is scanned for lines that
// would win over zkfleet's block.
import { type LastApplied, type MembershipEnsemble, type MembershipRenderer, planMembershipChange } from "./membership/change.js";
import { type DesiredHost, type PlanInput, hostsConflictRefusals, planApply } from "./plan.js";
import { type UnsettledStart, settleUnsettledFirst } from "./undo.js";
import { type RestoreSpec, planRestore } from "./restore.js";
import { type CanaryPlan, type Plan, type Refusal, type Step, planSteps, withExitWatches } from "./steps.js";
import { type ObservedHost, fileContent } from "../model/observed.js";
import type { EnsembleTarget } from "../model/target.js";
import { ETC_HOSTS, hostsBlockOf } from "../render/hosts-block.js";

/** What a rollback puts back: per host, per path, the content the file had before the run rolled back. */
export type RollbackFiles = ReadonlyMap<string, ReadonlyMap<string, string>>;

export interface AssembleInput {
  /** The members the inventory asks for (its present hosts). */
  target: EnsembleTarget;
  /** Every host of the inventory, present and leaving, as it should look: its files rendered, /etc/hosts merged into what it holds. */
  desired: DesiredHost[];
  observed: ObservedHost[];
  config: PlanInput["config"];
  /** The managed /etc/hosts block (hosts_file: managed). */
  hostsFile?: PlanInput["hostsFile"];
  timeouts: PlanInput["timeouts"];
  /** The inventory as the membership planner needs it, and how it renders a configuration (pure). */
  ensemble: MembershipEnsemble;
  render: MembershipRenderer;
  /** Facts from the journal, read by the caller. */
  journal: {
    /** Where the ensemble last ran (read when no server runs or holds data: membership/change.ts ensembleExists). */
    lastApplied?: LastApplied;
  };
  request: {
    /** --limit: change only these hosts; every host is still observed. */
    limit?: string[];
    /** --stage: only push an upgrade's release; membership changes wait too. */
    stageOnly?: boolean;
    /** --new-ensemble: an empty ensemble under a name the journal saw elsewhere is meant. */
    newEnsemble?: boolean;
    /** A rollback: the files to put back (the inventory's target names the release to go back to). */
    rollback?: { files: RollbackFiles };
    /** A restore: the backup goes into every member before any starts. */
    restore?: RestoreSpec;
    /** A resumed run: the servers it started and never saw serve are checked first, each with its stage's undo. */
    resume?: { run: string; unsettled: readonly UnsettledStart[] };
    /** The canary, unless --no-canary: how its clients reach the servers, where its znodes go. */
    canary?: Omit<CanaryPlan, "pinned">;
  };
}

export function assemblePlan(input: AssembleInput): Plan {
  const { request, timeouts } = input;
  const rollback = request.rollback?.files;
  const desired = rollback ? input.desired.map((d) => putBack(d, rollback.get(d.host))) : input.desired;
  // A membership change is planned on its own, one server at a time; the rest of the inventory follows in the next apply.
  const membership = request.stageOnly ? {} : planMembershipChange({
    ensemble: input.ensemble, observed: input.observed, desired, zooCfg: input.config.zooCfg, timeouts, render: input.render,
    ...(input.journal.lastApplied ? { lastApplied: input.journal.lastApplied } : {}), newEnsemble: request.newEnsemble ?? false,
  });
  const planned = membership.plan ?? planApply({
    target: input.target,
    // Hosts leaving the ensemble are the membership change's to handle.
    desired: desired.filter((d) => input.target.members.some((m) => m.host === d.host)),
    observed: input.observed,
    ...(request.limit ? { limit: request.limit } : {}),
    config: input.config,
    ...(input.hostsFile ? { hostsFile: input.hostsFile } : {}),
    timeouts,
    ...(request.stageOnly ? { stageOnly: true } : {}),
  });
  // The rolling planner refuses such lines itself, on every host and before it plans; a membership change writes other blocks on its way.
  const conflicts = membership.plan && planned.refusals.length === 0 ? hostsConflicts(input.target.name, planned, input.observed) : [];
  if (conflicts.length > 0) return { target: planned.target, stages: [], unchanged: [], refusals: conflicts };
  const restoring = request.restore ? planRestore(planned, input.observed, request.restore) : planned;
  // Resumed: a server the run started and never saw serve is checked before anything else, its undo behind it.
  const resumed = request.resume ? settleUnsettledFirst(restoring, request.resume.unsettled, request.resume.run, timeouts) : restoring;
  const plan = withExitWatches(resumed);
  const canary = request.canary && canaryFor(plan, input.observed, request.canary);
  return canary ? { ...plan, canary } : plan;
}

/**
 * Clients only notice servers that stop: a canary watches a plan that stops
 * one (or whose undo does: a resumed check's stage has no stop of its own),
 * pinned to each server that served when the hosts were observed.
 */
function canaryFor(plan: Plan, observed: readonly ObservedHost[], canary: Omit<CanaryPlan, "pinned">): CanaryPlan | undefined {
  const stops = (st: Step) => st.kind === "stop" || st.kind === "reconfig";
  if (plan.refusals.length > 0 || !plan.stages.some((s) => s.steps.some(stops) || s.undo?.some(stops))) return undefined;
  const byHost = new Map(observed.map((o) => [o.host, o]));
  return { ...canary, pinned: plan.target.members.filter((m) => byHost.get(m.host)?.server?.mode !== undefined).map((m) => m.host) };
}

/** A host's files with a rollback's content where it put one back. */
function putBack(d: DesiredHost, back: ReadonlyMap<string, string> | undefined): DesiredHost {
  return back ? { ...d, files: d.files.map((f) => (back.has(f.path) ? { ...f, content: back.get(f.path)! } : f)) } : d;
}

/**
 * A line outside the block that maps one of its names elsewhere wins over it
 * (the first match does): a joiner whose own /etc/hosts names itself after
 * the server it replaces would dial itself for that server. Checked on every
 * block the plan writes, against the file as observed.
 */
function hostsConflicts(ensemble: string, plan: Plan, observed: readonly ObservedHost[]): Refusal[] {
  const found = new Map<string, Refusal>();
  const byHost = new Map(observed.map((o) => [o.host, o]));
  for (const step of planSteps(plan)) {
    if (step.kind !== "write_file" || step.path !== ETC_HOSTS) continue;
    const block = hostsBlockOf(step.content, ensemble);
    if (block === undefined) continue;
    const existing = fileContent(byHost.get(step.host)!, ETC_HOSTS) ?? "";
    for (const r of hostsConflictRefusals(step.host, ETC_HOSTS, existing, block, ensemble, " during this change")) {
      // One refusal per line, name and address the run needs, however many of its blocks repeat it.
      found.set(r.message, r);
    }
  }
  return [...found.values()];
}
