// The adapter apply, runs resume, runs rollback and restore share: --window
// and --deadline parsed, the prompt, Ctrl-C, the plan and the progress
// printed, the JSON document, the exit code. The work is usecases/acting.ts
// (and apply.ts behind it), loaded when one of these commands runs.
import { createInterface } from "node:readline/promises";
import { ExitCode, ZkfleetError } from "../../common/errors.js";
import type { RuntimePush } from "../agent-client/runtime.js";
import { formatFinding } from "../inventory/findings.js";
import { windowDeadline } from "../plan/estimate.js";
import { type Plan, type Step, describeStep, planSteps } from "../plan/steps.js";
import { formatCanary } from "../report/text.js";
import type { ResumeOf, RollbackOf } from "../usecases/acting.js";
import type { Restoring } from "../usecases/backup.js";
import type { CommandContext } from "./context.js";
import { type ApplyFlags, type AuthFlags, READ_RETRIES, credentials } from "./options.js";
import { describeTakeover, printPlan } from "./print/plan.js";

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

/** What a command that acts continues or puts back: a run to resume, a run to roll back, a backup to restore. */
export interface Acting {
  resume?: ResumeOf;
  rollback?: RollbackOf;
  restoring?: Restoring;
}

/** apply, and `runs resume`, `runs rollback`, `restore`: the same adapter around usecases/acting.ts. */
export async function applyAction({ io, setExit, fleetOptions }: CommandContext, o: ApplyFlags, { resume, rollback, restoring }: Acting = {}): Promise<void> {
  const deadline = deadlineOf(o);
  const human = !o.json;
  const runtimePushes: RuntimePush[] = [];
  // Ctrl-C stops at the next safe point (between steps); a second one exits at once.
  const interrupt = new AbortController();
  const onSigint = () => {
    io.err("interrupted: finishing the current step, then stopping (Ctrl-C again to quit now)");
    interrupt.abort();
    process.once("SIGINT", () => process.exit(130));
  };
  let planned: Plan | undefined;
  const withoutContent = (st: Step) => ("content" in st ? { ...st, content: undefined, previous: undefined } : st);
  const { act } = await import("../usecases/acting.js");
  const result = await act({
    signal: interrupt.signal,
    file: o.inventory, check: !!o.check, limit: o.limit, journalDir: o.journal, fleet: fleetOptions(o, runtimePushes),
    gateTimeoutMs: o.gateTimeout * 1000, settleTimeoutMs: o.settleTimeout * 1000,
    breakLock: !!o.breakLock, newEnsemble: !!o.newEnsemble, ...(o.stage ? { stageOnly: true } : {}), ...(deadline ? { deadline } : {}),
    canary: { enabled: o.canary !== false, via: o.canaryVia },
    ...(resume ? { resume } : {}), ...(rollback ? { rollback } : {}), ...(restoring ? { restore: restoring.spec } : {}),
    onFindings: (findings) => {
      if (human) for (const w of findings) io.err(formatFinding(w));
    },
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
      if (human && plan.refusals.length === 0) printPlan(io, plan, estimateMs, { check: !!o.check, diff: !!o.diff, stage: !!o.stage, ...(deadline ? { deadline } : {}) });
    },
    onStepStart: (st) => human && io.err(`  ... ${describeStep(st)}`),
    onStepDone: (r) => human && io.out(`  ${r.changed ? "changed" : "ok     "} ${describeStep(r.step)} [${(r.ms / 1000).toFixed(1)}s]${r.changed ? "" : ": " + r.message}`),
    onWaiting: (line) => human && io.err(`      ${line}`),
    onCanaryRoute: (_via, reason) => human && io.out(`canary: ${reason}`),
    // On stderr in --json mode too: taking a lock from another run is never silent.
    onLockTakenOver: (ensemble, previous, generation) => {
      for (const h of previous) io.err(describeTakeover(ensemble, h, generation));
    },
    onOpened: () => process.once("SIGINT", onSigint),
    onRound: (round, remaining) => human && io.err(`round ${round}: observing again for the next membership change (${remaining.length} left)`),
  }).catch((err: unknown) => {
    // --json gets the refusals as data (code, host, data) as well as the error on stderr.
    if (o.json && planned && planned.refusals.length > 0) {
      io.out(JSON.stringify({ ensemble: planned.target.name, check: !!o.check, executed: false, changed: 0, refusals: planned.refusals }, null, 2));
    }
    throw err;
  }).finally(() => process.removeListener("SIGINT", onSigint));
  const steps = planSteps(result.plan);
  const changed = result.executed ? result.changed : steps.length;
  // A restore's verification belongs to the same report (one JSON document).
  const v = await restoring?.verify(result);
  const { formatVerification } = await import("../backup/restore.js");
  const after = v && {
    json: { verification: { ok: v.ok, lastZxid: v.lastZxid, explained: v.explained, unexplained: v.unexplained, backup: v.report.a, restored: v.report.b } },
    lines: formatVerification(v), failed: !v.ok,
  };
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
}

export interface RestoreOptions extends AuthFlags, ApplyFlags {
  from: string;
}

/** `zkfleet restore`, and `runs resume` of a restore: the backup checked, then apply with it. */
export async function restoreAction(ctx: CommandContext, o: RestoreOptions, resume?: ResumeOf): Promise<void> {
  const { io, fleetOptions } = ctx;
  // So are the credentials the verification will read the restored tree with (a resumed restore has those of
  // ZKFLEET_AUTH: the journal keeps none), before any host is contacted.
  const auth = await credentials(o, io.env);
  const { prepareRestoring } = await import("../usecases/backup.js");
  const { manifest, restoring } = await prepareRestoring({ inventory: o.inventory, from: o.from, check: !!o.check, auth, fleet: fleetOptions(o), retryReads: READ_RETRIES });
  if (!o.json) io.err(`backup ${o.from}: ${manifest.ensemble} on ZooKeeper ${manifest.zookeeper_version}, ${restoring.spec.files.length} file(s) checked, the tree at ${manifest.last_zxid}`);
  await applyAction(ctx, o, { ...(resume ? { resume } : {}), restoring });
}
