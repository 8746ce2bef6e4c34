// A plan as people read it (apply, runs resume, runs rollback, restore):
// its stages, their steps, each stage's undo, what waits for a restart and
// what is planned afresh after it.
import type { EnsembleLock } from "../../execute/lock.js";
import { type Plan, type Step, describeStep, planSteps } from "../../plan/steps.js";
import type { Io } from "../context.js";

export function printPlan(io: Io, plan: Plan, estimateMs: number, o: { check: boolean; diff: boolean; stage: boolean; deadline?: Date }): void {
  const count = planSteps(plan).length;
  const deferred = plan.deferred ?? [];
  const sayDeferred = () => {
    if (deferred.length === 0) return;
    io.out(` not taken over yet, written with each server's next restart (none is needed for them):`);
    for (const w of deferred) io.out(`  - ${w.host}: ${w.path} (${w.reason})`);
  };
  if (count === 0 && o.stage) return io.out(`${plan.target.name}: nothing to stage, every host has ZooKeeper ${plan.target.version} unpacked`);
  if (count === 0) {
    io.out(`${plan.target.name}: nothing to do, every host is as the inventory says`);
    return sayDeferred();
  }
  io.out(`${plan.target.name}: plan of ${count} step(s) in ${plan.stages.length} stage(s), about ${Math.ceil(estimateMs / 1000)}s` +
    `${o.deadline ? ` (the window closes at ${o.deadline.toISOString()})` : ""}${o.check ? " (check mode: nothing will be changed)" : ""}`);
  plan.stages.forEach((stage, n) => {
    io.out(` stage ${n + 1}/${plan.stages.length}: ${stage.title}${stage.concurrent ? " (hosts in parallel)" : ""}`);
    for (const st of stage.steps) {
      io.out(`  - ${describeStep(st)}`);
      if (o.diff && st.kind === "write_file") io.out(st.diff.split("\n").map((l) => "      " + l).join("\n").trimEnd());
    }
    const undoStep = (u: Step) => (u.kind !== "await_healthy" ? u.kind : u.quorumWithout !== undefined ? `gate (a quorum serves without ${u.quorumWithout})` : "settle");
    if (stage.undo) io.out(`    if it does not come back: ${stage.undo.map(undoStep).join(", ")} (previous release and files), then halt`);
  });
  sayDeferred();
  if (plan.continues?.length) io.out(` then, each planned afresh once the one before is done: ${plan.continues.join("; ")}`);
  if (plan.canary) io.out(` ${describeCanary(plan.canary)}`);
}

/** The canary a plan runs, in a line: its clients, where they write, how they reach the servers. */
export function describeCanary(c: NonNullable<Plan["canary"]>): string {
  const via = c.via === "auto" ? "direct when every serving server's client port answers from here within 1 s, else through the SSH connections"
    : c.via === "direct" ? "direct to the client ports" : "through the SSH connections";
  const pinned = c.pinned.length > 0 ? ` and one pinned to each of ${c.pinned.join(", ")}` : "";
  return `canary: a client on the full connect string${pinned}, writing and reading under ${c.path} ten times a second, ${via}`;
}

/** The line a run prints when it takes the ensemble's lock over from another. */
export function describeTakeover(ensemble: string, h: EnsembleLock["tookOver"][number], generation: number): string {
  const why = h.process_state === "gone" ? `its controller is gone (pid ${h.process?.pid ?? "?"} no longer runs here)`
    : `its lease had lapsed (last renewed ${h.renewed_at}${h.process_state === "stopped" ? `; its controller pid ${h.process?.pid ?? "?"} is stopped` : ""})`;
  return `took over the lock of ensemble ${ensemble} from run ${h.run} (${h.holder}, since ${h.since}, generation ${h.generation}): ${why}; ` +
    `this run holds generation ${generation}, and that run is refused at its next step that acts`;
}
