// What apply, runs resume, runs rollback and restore share once their
// arguments are parsed: the inventory checked and loaded, the hosts contacted,
// the run carried out and reported. Loaded only by those commands (cli.ts
// imports it when one of them runs); the agent protocol, the planner,
// renderer, executor and canary only once the hosts' SSH handshakes (and then
// their agents) are under way: those take a few hundred milliseconds on the
// hosts, which the controller spends loading its modules instead of waiting.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import { ExitCode, ZkfleetError } from "../../common/errors.js";
import type { RuntimePush } from "../agent/runtime.js";
import type { CanaryViaOption } from "../canary/route.js";
import type { EnsembleLock } from "../execute/lock.js";
import type { Io } from "../cli.js";
import { sshConnector } from "../connection/host-connector.js";
import type { Fleet, FleetOptions } from "../fleet.js";
import { formatFinding } from "../inventory/findings.js";
import { inventoryError } from "../inventory/load.js";
import { windowDeadline } from "../plan/estimate.js";
import { type Plan, type Step, describeStep, planSteps } from "../plan/steps.js";
import { formatCanary } from "../report/text.js";
import type { Restoring } from "./backup.js";
import { runCheck } from "./check.js";

/** The options apply and runs resume share. */
export interface ApplyOptions {
  inventory: string;
  check?: boolean;
  diff?: boolean;
  limit?: string[];
  yes?: boolean;
  json?: boolean;
  parallel?: number;
  acceptNewHostKeys?: boolean;
  journal: string;
  gateTimeout: number;
  settleTimeout: number;
  breakLock?: boolean;
  newEnsemble?: boolean;
  window?: string;
  deadline?: string;
  /** apply --stage: only push an upgrade's release (not on resume or rollback). */
  stage?: boolean;
  /** commander's --no-canary: false when given. */
  canary?: boolean;
  canaryVia: CanaryViaOption;
}

export type ResumeOf = { run: string; lockRun: string; inventoryHash: string };

/** What every command's action is handed by cli.ts. */
export interface CommandContext {
  io: Io;
  setExit: (code: ExitCode) => void;
  fleetOptions: (o: { parallel?: number; acceptNewHostKeys?: boolean; json?: boolean }, runtimePushes?: RuntimePush[]) => FleetOptions;
}

/** --deadline: an ISO time, or HH:MM meaning its next occurrence. */
function parseDeadline(text: string, now: Date): Date {
  const hm = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (hm && Number(hm[1]) < 24 && Number(hm[2]) < 60) {
    const d = new Date(now);
    d.setHours(Number(hm[1]), Number(hm[2]), 0, 0);
    if (d <= now) d.setDate(d.getDate() + 1);
    return d;
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new ZkfleetError("usage", `--deadline takes a time like 04:00 or 2026-12-01T04:00:00Z, got "${text}"`, { where: "--deadline" });
  if (d <= now) throw new ZkfleetError("usage", `--deadline ${text} has passed already`, { where: "--deadline" });
  return d;
}

function deadlineOf(o: { window?: string; deadline?: string }, now = new Date()): Date | undefined {
  if (o.window !== undefined && o.deadline !== undefined) {
    throw new ZkfleetError("usage", "give --window or --deadline, not both", { where: "--window/--deadline" });
  }
  if (o.deadline !== undefined) return parseDeadline(o.deadline, now);
  if (o.window === undefined) return undefined;
  const w = windowDeadline(o.window, now);
  if ("error" in w) throw new ZkfleetError("usage", `--window: ${w.error}`, { where: "--window", hint: "run it inside the window, or pass the window you are in" });
  return w.deadline;
}

/** The line a run prints when it takes the ensemble's lock over from another. */
export function describeTakeover(ensemble: string, h: EnsembleLock["tookOver"][number], generation: number): string {
  const why = h.process_state === "gone" ? `its controller is gone (pid ${h.process?.pid ?? "?"} no longer runs here)`
    : `its lease had lapsed (last renewed ${h.renewed_at}${h.process_state === "stopped" ? `; its controller pid ${h.process?.pid ?? "?"} is stopped` : ""})`;
  return `took over the lock of ensemble ${ensemble} from run ${h.run} (${h.holder}, since ${h.since}, generation ${h.generation}): ${why}; ` +
    `this run holds generation ${generation}, and that run is refused at its next step that acts`;
}

/** apply, and `runs resume` (the same run continued from what the hosts are now). */
export async function applyCommand(
  { io, setExit, fleetOptions }: CommandContext,
  o: ApplyOptions,
  resume?: ResumeOf,
  restore?: { run: string; files: Map<string, Map<string, string>>; version?: string },
  restoring?: Restoring,
): Promise<void> {
  // apply refuses what check calls an error, so the two never disagree.
  const checked = await runCheck([o.inventory]);
  if (!checked.ok) throw inventoryError(o.inventory, checked.findings.filter((f) => f.severity === "error"));
  if (!o.json) for (const w of checked.findings) io.err(formatFinding(w));
  const deadline = deadlineOf(o);
  const loaded = checked.inventories[0]!.inventory;
  // A rollback asks for the release the run replaced; everything else comes from the inventory as it is.
  const inventory = restore?.version ? { ...loaded, zookeeper: { ...loaded.zookeeper, version: restore.version as typeof loaded.zookeeper.version } } : loaded;
  const inventoryHash = createHash("sha256").update(await readFile(o.inventory)).digest("hex");
  if (resume && resume.inventoryHash !== inventoryHash) {
    throw new ZkfleetError("usage", `${o.inventory} changed since run ${resume.run} was planned; nothing was changed`, {
      where: o.inventory, hint: "resume continues a run as it was asked for: run `zkfleet apply` with the inventory as it is now instead",
    });
  }
  // The hosts' SSH handshakes start first and their agents as soon as the agent protocol is loaded: the hosts
  // work while the controller loads the rest of apply.
  const runtimePushes: RuntimePush[] = [];
  const options = fleetOptions(o, runtimePushes);
  const connect = await sshConnector(options);
  const early = new Map(inventory.hosts.map((spec) => [spec.name, connect({ inventory, spec, key: spec.name })]));
  for (const pending of early.values()) pending.catch(() => undefined);
  const { Fleet } = await import("../fleet.js").catch(async (err: unknown) => {
    await Promise.allSettled([...early.values()].map(async (c) => (await c).close()));
    throw err;
  });
  const fleet = await Fleet.open([inventory], {
    ...options,
    // Each early connection serves once; a host whose handshake failed is connected afresh when next asked.
    connect: (h) => {
      const pending = early.get(h.key);
      early.delete(h.key);
      return pending ?? connect(h);
    },
  });
  try {
    fleet.warm(inventory.hosts.map((h) => h.name));
    const { runApplyUntilDone } = await import("./apply.js");
    const human = !o.json;
    // Ctrl-C stops at the next safe point (between steps); a second one exits at once.
    const interrupt = new AbortController();
    const onSigint = () => {
      io.err("interrupted: finishing the current step, then stopping (Ctrl-C again to quit now)");
      interrupt.abort();
      process.once("SIGINT", () => process.exit(130));
    };
    process.once("SIGINT", onSigint);
    let planned: Plan | undefined;
    const withoutContent = (st: Step) => ("content" in st ? { ...st, content: undefined, previous: undefined } : st);
    const result = await runApplyUntilDone({
      signal: interrupt.signal,
      file: o.inventory, inventory, check: !!o.check, limit: o.limit, journalDir: o.journal, fleet: fleetOptions(o, runtimePushes), opened: fleet,
      gateTimeoutMs: o.gateTimeout * 1000, settleTimeoutMs: o.settleTimeout * 1000,
      inventoryHash, breakLock: !!o.breakLock, newEnsemble: !!o.newEnsemble, ...(o.stage ? { stageOnly: true } : {}), ...(deadline ? { deadline } : {}), canary: { enabled: o.canary !== false, via: o.canaryVia },
      ...(resume ? { resume: { run: resume.run, lockRun: resume.lockRun } } : {}), ...(restore ? { restore: { run: restore.run, files: restore.files } } : {}),
      ...(restoring ? { backup: restoring.spec } : {}),
      confirm: async (plan) => {
        if (o.yes) return true;
        if (!process.stdin.isTTY) return false;
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          return /^y(es)?$/i.test((await rl.question(`apply ${planSteps(plan).length} step(s) to ${plan.target.name}? [y/N] `)).trim());
        } finally {
          rl.close();
        }
      },
      onPlan: (plan, estimateMs) => {
        planned = plan;
        // A refused plan is reported by the error that follows; "plan of 0 step(s)" would mislead.
        if (!human || plan.refusals.length > 0) return;
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
          `${deadline ? ` (the window closes at ${deadline.toISOString()})` : ""}${o.check ? " (check mode: nothing will be changed)" : ""}`);
        plan.stages.forEach((stage, n) => {
          io.out(` stage ${n + 1}/${plan.stages.length}: ${stage.title}${stage.concurrent ? " (hosts in parallel)" : ""}`);
          for (const st of stage.steps) {
            io.out(`  - ${describeStep(st)}`);
            if (o.diff && st.kind === "write_file") io.out(st.diff.split("\n").map((l) => "      " + l).join("\n").trimEnd());
          }
          const undoStep = (u: Step) => (u.kind !== "await_healthy" ? u.kind : u.quorumWithout !== undefined ? `gate (a quorum serves without ${u.quorumWithout})` : "check");
          if (stage.undo) io.out(`    if it does not come back: ${stage.undo.map(undoStep).join(", ")} (previous release and files), then halt`);
        });
        sayDeferred();
        if (plan.continues?.length) io.out(` then, each planned afresh once the one before is done: ${plan.continues.join("; ")}`);
      },
      onStepStart: (st) => human && io.err(`  ... ${describeStep(st)}`),
      onStepDone: (r) => human && io.out(`  ${r.changed ? "changed" : "ok     "} ${describeStep(r.step)} [${(r.ms / 1000).toFixed(1)}s]${r.changed ? "" : ": " + r.message}`),
      onWaiting: (line) => human && io.err(`      ${line}`),
      onCanaryRoute: (_via, reason) => human && io.out(`canary: ${reason}`),
      // On stderr in --json mode too: taking a lock from another run is never silent.
      onLockTakenOver: (previous, generation) => {
        for (const h of previous) io.err(describeTakeover(inventory.ensemble, h, generation));
      },
    }, (round, remaining) => human && io.err(`round ${round}: observing again for the next membership change (${remaining.length} left)`)).catch((err: unknown) => {
      // --json gets the refusals as data (code, host, data) as well as the error on stderr.
      if (o.json && planned && planned.refusals.length > 0) {
        io.out(JSON.stringify({ ensemble: planned.target.name, check: !!o.check, executed: false, changed: 0, refusals: planned.refusals }, null, 2));
      }
      throw err;
    }).finally(() => process.removeListener("SIGINT", onSigint));
    const steps = planSteps(result.plan);
    const changed = result.executed ? result.changed : steps.length;
    // A restore's verification belongs to the same report (one JSON document).
    const after = await restoring?.after(result);
    if (o.json) {
      io.out(JSON.stringify({
        ensemble: result.plan.target.name, check: !!o.check, executed: result.executed, changed,
        stages: result.plan.stages.map((stage) => ({ ...stage, steps: stage.steps.map(withoutContent), ...(stage.undo ? { undo: stage.undo.map(withoutContent) } : {}) })),
        steps: steps.map(withoutContent),
        refusals: result.plan.refusals, deferred: result.plan.deferred ?? [],
        results: result.results.map((r) => ({ index: r.index, kind: r.step.kind, host: r.step.host, changed: r.changed, message: r.message, ms: r.ms })),
        final: result.final, journal: result.journal, run: result.runId, canary: result.canary, runtimePushes,
        ...(result.lockTakenOver ? { lock_taken_over: result.lockTakenOver } : {}), ...(after?.json ?? {}),
      }, null, 2));
    } else if (result.executed && o.stage) {
      io.out(`${result.plan.target.name}: ZooKeeper ${result.plan.target.version} unpacked on ${changed} host(s), nothing restarted; journal ${result.journal}`);
      io.out(`  the upgrade itself: zkfleet apply -i ${o.inventory} (in the window; it restarts the servers only)`);
    } else if (result.executed) {
      const outcome = result.final
        ? `leader ${result.final.leader ?? "none"}, ${result.final.verdict}`
        : "ensemble not awaited (hosts left out by --limit are not running)";
      io.out(`${result.plan.target.name}: ${changed} changed, ${outcome}; journal ${result.journal}`);
      if (result.canary) io.out(formatCanary(result.canary, planSteps(result.plan)));
    }
    if (!o.json) for (const line of after?.lines ?? []) io.out(line);
    setExit(after?.failed ? ExitCode.failed : changed > 0 ? ExitCode.changed : ExitCode.ok);
  } finally {
    // apply closes the fleet it was handed; this is for a refusal before it took it (closing twice is harmless).
    await fleet.close();
  }
}
