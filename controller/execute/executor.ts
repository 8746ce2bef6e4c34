// The executor carries out a plan's steps and nothing else: it runs the steps
// in the order and grouping the plan gives, journals each one before it
// starts and after it ends, and stops between steps when interrupted. The
// acting itself is behind `Actions` (actions.ts on a fleet), so this file
// holds only sequencing, which unit tests drive with a recording double.
import { ZkfleetError } from "../../common/errors.js";
import { type Plan, type Step, type AwaitHealthyStep, assertNever, planSteps } from "../plan/steps.js";
import { type EnsembleReport, serves } from "../status/health.js";
import type { Journal } from "./journal.js";
import { LockTakenOver } from "./lock.js";

/** What a step did; data (a backup path, the release it replaced) goes into the journal for rollback. */
export interface Outcome {
  changed: boolean;
  message: string;
  data?: Record<string, unknown>;
}

/** The only things that act on hosts. One method per step kind that acts, and one observation for gates. */
export interface Actions {
  install(step: Extract<Step, { kind: "install" }>): Promise<Outcome>;
  writeFile(step: Extract<Step, { kind: "write_file" }>): Promise<Outcome>;
  switchRelease(step: Extract<Step, { kind: "switch_release" }>): Promise<Outcome>;
  cleanData(step: Extract<Step, { kind: "clean_data" }>): Promise<Outcome>;
  restoreData(step: Extract<Step, { kind: "restore_data" }>): Promise<Outcome>;
  start(step: Extract<Step, { kind: "start" }>): Promise<Outcome>;
  stop(step: Extract<Step, { kind: "stop" }>): Promise<Outcome>;
  reconfig(step: Extract<Step, { kind: "reconfig" }>): Promise<Outcome>;
  /** Waits (bounded by the step's timeout) until the members report the configuration and a write commits under it. */
  awaitConfig(step: Extract<Step, { kind: "await_config" }>, onWaiting?: (line: string) => void): Promise<Outcome>;
  /**
   * The members named, judged as one ensemble; servers may run any of `versions`; `roles` as the step gives them.
   * With `reuseAfter`, what the previous observation saw of these servers may stand for a new one, when it was
   * made after that time and is still fresh (see actions.ts); `observedAt` then says when it was made.
   */
  observe(plan: Plan, hosts: readonly string[], versions: readonly string[], roles?: AwaitHealthyStep["roles"], reuseAfter?: number): Promise<EnsembleReport & { observedAt?: number }>;
  /** Whether a ZooKeeper server process runs on the host (its pid file, or one started with its zoo.cfg), as its agent sees it. */
  serverProcess(host: string): Promise<{ running: boolean; detail: string }>;
}

export interface StepResult extends Outcome {
  step: Step;
  index: number;
  ms: number;
}

export interface ExecuteOptions {
  actions: Actions;
  journal: Pick<Journal, "path" | "write" | "plan" | "runId">;
  /** Hosts worked on at once in a concurrent stage. */
  parallel: number;
  /** Awaited before a step starts: what must be in place first (apply: its canary, before every step but an upgrade's push). */
  ready?: (step: Step) => Promise<void>;
  onStepStart?: (step: Step, index: number) => void;
  onStepDone?: (result: StepResult) => void;
  onWaiting?: (line: string) => void;
  /** Aborted (Ctrl-C): stop before the next step, never inside one. */
  signal?: AbortSignal;
  /** The ensemble's lock: a step that acts starts only while this run still holds it (execute/lock.ts). */
  lock?: { assertHeld(): void };
  /** Between two observations of a gate; injectable so tests do not wait. */
  pollMs?: number;
  /** GONE_MS, injectable so tests do not wait. */
  goneMs?: number;
  /**
   * The end of the maintenance window: a stage is started only when its
   * estimate fits before it. Stopping between stages leaves every server up
   * and synced (the last check passed), ready for `runs resume`.
   */
  deadline?: { at: Date; estimateStage: (stage: Plan["stages"][number]) => number };
  /**
   * Since when nothing has acted on these hosts (default: when the plan starts). apply passes the moment it asked
   * for the observation it planned from, taken under the ensemble's lock, so a first gate may judge that.
   */
  quietSince?: number;
}

export interface ExecuteResult {
  results: StepResult[];
  /** The last health report of a check, when the plan ends with one. */
  final?: EnsembleReport;
}

/**
 * Between two observations of a gate or check. A server that has just started
 * usually joins within a second or two, and every poll it is late by is wall
 * time the whole roll waits; an observation costs three four-letter words per
 * server over open SSH connections and starts nothing on the hosts, so four
 * a second (bounded by the step's timeout) is no load for an ensemble.
 */
const HEALTH_POLL_MS = 250;

/**
 * A check's first seconds after a start: the start returns as soon as the
 * server answers on its client port, and it follows its leader a few hundred
 * milliseconds later, so here the poll is what the roll waits for.
 */
const CHECK_EARLY_POLL_MS = 100;
const CHECK_EARLY_MS = 2000;

/**
 * A check after a start whose server (each server started since the last
 * check) has had nothing listening on its client port this long asks the
 * host's agent whether the server still runs. A
 * server loading a large snapshot opens the port late, so a closed port alone
 * proves nothing; but one that has exited is not waited for until the check's
 * timeout (two minutes) before it is put back. Measured: ZooKeeper 3.8.0
 * whose election port is taken never opens its client port and exits 3.8 s
 * after its start, which `zkServer.sh` (alive after its 1 s) reports as
 * started.
 */
const GONE_MS = 3000;

/**
 * How far past its timeout a gate or check may end: a look still under way
 * then (a word waits up to 2 s for a frozen server, an agent round trip for
 * a check longer) is not waited for, and the last look that finished is the
 * one judged.
 */
const LATE_MS = 1000;

/**
 * A check that timed out while the server it waits for serves: another
 * server failed during it. The stage's own server works, so its undo must
 * not run: stopping it would only take a voter away from the ensemble.
 */
export class OtherServerFailed extends ZkfleetError {}

/** Resolves with undefined at `at` (epoch ms) unless `p` settles first; a late rejection of `p` is dropped. */
function until<T>(p: Promise<T>, at: number): Promise<T | undefined> {
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, at - Date.now()));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * An undo's gate: stopping `host` must leave a quorum of the other voters
 * serving. A server that is not a voter, or the only voter (its roll took
 * the ensemble down by design), takes no quorum away.
 */
function quorumWithout(step: AwaitHealthyStep, report: EnsembleReport): { ok: boolean; line: string } {
  const host = step.quorumWithout!;
  const voter = (h: EnsembleReport["hosts"][number]) => h.role === "participant" && step.roles?.[h.host] !== "learner";
  const others = report.hosts.filter((h) => h.host !== host && voter(h));
  const serving = others.filter((h) => serves(h) && (h.mode === "leader" || h.mode === "follower"));
  const me = report.hosts.find((h) => h.host === host);
  const ok = report.verdict !== "split-brain" && (serving.length >= report.quorum || !me || !voter(me) || report.voters === 1);
  const line = `without ${host}, ${serving.length} of ${report.voters} voters serve${serving.length > 0 ? ` (${serving.map((h) => h.host).join(", ")})` : ""}; a quorum needs ${report.quorum}`;
  return { ok, line };
}

/**
 * At a check's timeout, when the server it waits for serves and every problem is another server's: the error
 * that halts the run without undoing that server. Undefined when the server itself is what failed.
 */
function otherServerFailed(step: AwaitHealthyStep, report: EnsembleReport | undefined, runId: string): OtherServerFailed | undefined {
  const mine = step.caughtUp;
  if (mine === undefined || report === undefined || report.verdict === "no-quorum" || report.verdict === "split-brain") return undefined;
  const me = report.hosts.find((h) => h.host === mine);
  const own = (p: string) => p.startsWith(`${mine}:`) || p.startsWith(`${mine} (`);
  const theirs = report.problems.filter((p) => !own(p));
  if (!me || !serves(me) || theirs.length === 0 || report.problems.some(own)) return undefined;
  const failing = report.hosts.filter((h) => h.host !== mine && !serves(h)).map((h) => h.host);
  const who = failing.length > 0 ? failing.join(", ") : "another server";
  const role = report.leader === mine ? "as leader" : `following ${report.leader}`;
  return new OtherServerFailed("zookeeper", `${mine} came back and serves (${role}, ${report.votersUp}/${report.voters} voters up), but ${who} ` +
    `failed during its check: ${theirs.join("; ")}; ${mine} is left as it is (putting it back would stop a working server) and the run halted`, {
    where: theirs.join("; "),
    hint: `find out what ails ${who}: \`zkfleet status\`, its ZooKeeper log (log_dir), its process (stopped or frozen: kill -CONT; a long GC pause), ` +
      `its disk, its host; once it serves again, \`zkfleet runs resume ${runId}\` checks ${mine} first and finishes the run`,
  });
}

/**
 * For a check: throws once a server started before it has had nothing
 * listening on its client port for `goneMs` and its agent says it no longer
 * runs (asked at most every goneMs / 3). An agent that cannot be asked proves
 * nothing: the check goes on until its timeout.
 */
function exitWatch(hosts: readonly string[], actions: Actions, goneMs: number): (report: EnsembleReport) => Promise<void> {
  const closedSince = new Map<string, number>();
  const askedAt = new Map<string, number>();
  return async (report) => {
    for (const host of hosts) {
      const mine = report.hosts.find((h) => h.host === host);
      if (!(mine?.reachable && mine.running === false)) {
        closedSince.delete(host);
        continue;
      }
      const since = closedSince.get(host) ?? Date.now();
      closedSince.set(host, since);
      if (Date.now() - since < goneMs || Date.now() - (askedAt.get(host) ?? 0) < goneMs / 3) continue;
      askedAt.set(host, Date.now());
      const process = await actions.serverProcess(host).catch(() => undefined);
      if (process && !process.running) {
        throw new ZkfleetError("zookeeper", `ZooKeeper on ${host} exited after its start: nothing has listened on ${mine.address}'s client port for ${Math.round((Date.now() - since) / 1000)}s; its agent finds ${process.detail}`, {
          where: host,
          hint: `look at ZooKeeper's log on ${host} (log_dir) for why it exited: a port it cannot bind, memory, its data; fix that, then run apply again`,
        });
      }
    }
  };
}

/**
 * Polls until the ensemble is healthy and, for a check naming a host, until
 * that host's zxid has reached the leader's zxid of an earlier poll: then it
 * has every transaction committed before it was seen serving, not only a
 * mode. A gate that times out refuses (exit 5); a check that times out fails.
 */
async function awaitHealthy(
  plan: Plan, step: AwaitHealthyStep, opts: ExecuteOptions, onReport: (report: EnsembleReport) => void, actedAt: number,
  startedHosts: readonly string[] = [],
): Promise<{ outcome: Outcome; report: EnsembleReport }> {
  const started = Date.now();
  const deadline = started + step.timeoutMs;
  let leaderZxid: bigint | undefined;
  let said: { line: string; at: number } | undefined;
  // What it waited for, for the run report: the first reason and the last (a long wait's reasons change, and all of them would bloat the journal).
  let firstWait: string | undefined;
  let lastWait: string | undefined;
  let polls = 0;
  let report: EnsembleReport | undefined;
  let waitingFor: string | undefined;
  const exited = exitWatch(startedHosts, opts.actions, opts.goneMs ?? GONE_MS);
  const timedOut = (why: string) => {
    const waited = step.quorumWithout !== undefined
      ? `no quorum served without ${step.quorumWithout} within ${step.timeoutMs / 1000}s: ${why}`
      : `${step.hosts.join(", ")} did not become healthy within ${step.timeoutMs / 1000}s: ${why}`;
    const problems = report?.problems.join("; ") ?? "";
    if (step.role === "gate") {
      return new ZkfleetError("plan", `not going on: ${waited}; ${step.reason}`, {
        where: problems,
        hint: step.quorumWithout !== undefined
          ? `stopping ${step.quorumWithout} now could cost quorum; bring the other servers back first (\`zkfleet status\`), then run \`zkfleet runs resume ${opts.journal.runId}\``
          : "stopping a server of an ensemble that is not fully healthy could cost quorum; fix the problems above, then run apply again",
      });
    }
    return otherServerFailed(step, report, opts.journal.runId) ?? new ZkfleetError("zookeeper", waited, {
      where: problems,
      hint: "look at the ZooKeeper logs on the hosts named above (log_dir), then run `zkfleet status`; apply can be run again once fixed",
    });
  };
  for (;;) {
    // A gate's first look may be the check's that passed just before it, with no step acting in between: observing
    // again a few milliseconds later would see the same (each look costs about 20 ms of a roll's controller time).
    // A check never reuses: it follows a start. A look still under way past the deadline is not waited for.
    const look = await until(opts.actions.observe(plan, step.hosts, step.versions, step.roles, step.role === "gate" && polls === 0 ? actedAt : undefined), deadline + LATE_MS);
    if (look === undefined) {
      throw timedOut(report ? `${waitingFor ?? report.verdict} (the last look; the one after it did not finish in time)` : "no look at the servers finished in time");
    }
    const { observedAt, ...seen } = look;
    report = seen;
    const reused = observedAt !== undefined && observedAt < started ? started - observedAt : undefined;
    polls += 1;
    onReport(report);
    if (step.quorumWithout !== undefined) {
      const q = quorumWithout(step, report);
      waitingFor = q.ok ? undefined : q.line;
    } else {
      waitingFor = report.verdict === "healthy" ? undefined : `${report.verdict}${report.problems[0] ? ` (${report.problems[0]})` : ""}`;
    }
    if (waitingFor === undefined && step.caughtUp !== undefined) {
      const zxidOf = (host: string | undefined) => {
        const z = report!.hosts.find((h) => h.host === host)?.zxid;
        return z === undefined ? undefined : BigInt(z);
      };
      const mine = zxidOf(step.caughtUp);
      leaderZxid ??= zxidOf(report.leader);
      // A leader's zxid with counter 0 is the marker of an epoch with no transaction yet, which followers
      // never process: then the leader counting this server as synced (part of "healthy") is the whole test.
      const epochMarker = leaderZxid !== undefined && (leaderZxid & 0xffffffffn) === 0n;
      if (mine === undefined || leaderZxid === undefined || (!epochMarker && mine < leaderZxid)) {
        waitingFor = `${step.caughtUp} at zxid ${mine === undefined ? "?" : `0x${mine.toString(16)}`}, the leader was at 0x${leaderZxid?.toString(16) ?? "?"}`;
      }
    }
    if (waitingFor === undefined) {
      const caught = step.caughtUp ? `, ${step.caughtUp} caught up` : "";
      const what = step.quorumWithout !== undefined ? quorumWithout(step, report).line : `leader ${report.leader}, ${report.votersUp}/${report.voters} voters up${caught}`;
      return {
        report,
        outcome: {
          changed: false,
          message: `${what}${reused !== undefined && polls === 1 ? ` (as observed ${reused} ms earlier; nothing acted since)` : ""}`,
          data: { polls, waitedFor: [firstWait, lastWait === firstWait ? undefined : lastWait].filter((w) => w !== undefined), ...(reused !== undefined && polls === 1 ? { reusedMsOld: reused } : {}) },
        },
      };
    }
    // The agent's word on a server that exited is not waited for past the deadline either.
    const watched = await until(exited(report).then(() => true), deadline + LATE_MS);
    if (watched === undefined || Date.now() >= deadline) throw timedOut(waitingFor);
    firstWait ??= waitingFor;
    lastWait = waitingFor;
    const line = `${step.role}: ${waitingFor}, ${report.votersUp}/${report.voters} voters up`;
    // Said when it changes, and once a second while it does not: four lines a second would bury the news.
    if (line !== said?.line || Date.now() - said.at >= 1000) {
      opts.onWaiting?.(line);
      said = { line, at: Date.now() };
    }
    const early = step.role === "check" && Date.now() - started < CHECK_EARLY_MS;
    // The last poll comes at the deadline, not a poll's length after it.
    const pause = Math.min(opts.pollMs ?? (early ? CHECK_EARLY_POLL_MS : HEALTH_POLL_MS), deadline - Date.now());
    await new Promise((r) => setTimeout(r, pause));
  }
}

/** Runs items with at most `limit` at once; every item runs, and the first error (in item order) is thrown after all settle. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const errors: { i: number; err: unknown }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!);
      } catch (err) {
        errors.push({ i, err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length > 0) throw errors.sort((a, b) => a.i - b.i)[0]!.err;
}

/** Every step but a health wait changes something (await_config commits a write of its own). */
export const acts = (step: Step) => step.kind !== "await_healthy";

export async function executePlan(plan: Plan, opts: ExecuteOptions): Promise<ExecuteResult> {
  const { actions, journal } = opts;
  const results: StepResult[] = [];
  let final: EnsembleReport | undefined;
  const indexOf = new Map(planSteps(plan).map((s, i) => [s, i]));
  // Undo steps are numbered after the plan's own, in the journal too.
  let undoIndex = indexOf.size;
  for (const stage of plan.stages) for (const s of stage.undo ?? []) indexOf.set(s, undoIndex++);
  journal.plan(plan);
  // The leader the gates and checks last saw (undefined: none observed yet); a change is journalled where it was seen.
  let leaderSeen: string | null | undefined;
  // When the last step that acts (anything but a wait) ended: an observation older than that shows a state gone by.
  let actedAt = opts.quietSince ?? Date.now();
  // Servers started and not yet seen through a check: the next check watches whether they exit.
  const startedUnchecked = new Set<string>();
  const noteLeader = (index: number) => (report: EnsembleReport) => {
    const leader = report.leader ?? null;
    if (leader === leaderSeen) return;
    journal.write("leader", { host: leader, step: index, ...(leaderSeen !== undefined ? { previous: leaderSeen } : {}) });
    leaderSeen = leader;
  };

  const dispatch = async (step: Step, index: number): Promise<Outcome> => {
    switch (step.kind) {
      case "install": return actions.install(step);
      case "write_file": return actions.writeFile(step);
      case "switch_release": return actions.switchRelease(step);
      case "clean_data": return actions.cleanData(step);
      case "restore_data": return actions.restoreData(step);
      case "start": {
        const outcome = await actions.start(step);
        startedUnchecked.add(step.host);
        return outcome;
      }
      case "stop": return actions.stop(step);
      case "await_healthy": {
        const watched = step.role === "check" ? step.hosts.filter((h) => startedUnchecked.has(h)) : [];
        const { outcome, report } = await awaitHealthy(plan, step, opts, noteLeader(index), actedAt, watched);
        for (const h of watched) startedUnchecked.delete(h);
        final = report;
        return outcome;
      }
      case "reconfig": return actions.reconfig(step);
      case "await_config": return actions.awaitConfig(step, opts.onWaiting);
      default: return assertNever(step);
    }
  };

  const run = async (step: Step) => {
    const index = indexOf.get(step)!;
    if (opts.signal?.aborted) {
      journal.write("interrupted", { before: index, kind: step.kind, host: step.host });
      throw new ZkfleetError("interrupted", `interrupted before step ${index + 1} (${step.kind} on ${step.host}); every earlier step finished`, {
        where: journal.path,
        hint: "run apply again: it observes the hosts afresh and plans only what is still missing",
      });
    }
    if (acts(step)) {
      try {
        opts.lock?.assertHeld();
      } catch (err) {
        if (!(err instanceof LockTakenOver)) throw err;
        journal.write("lock-taken-over", { before: index, kind: step.kind, host: step.host, by: err.by });
        throw err.before(index);
      }
    }
    opts.onStepStart?.(step, index);
    journal.write("step-start", { index, kind: step.kind, host: step.host, ...("before" in step ? { before: step.before } : {}) }, { durable: acts(step) });
    const started = Date.now();
    try {
      const outcome = await dispatch(step, index).finally(() => {
        if (acts(step)) actedAt = Date.now();
      });
      const result: StepResult = { step, index, ...outcome, ms: Date.now() - started };
      journal.write("step-done", { index, kind: step.kind, host: step.host, changed: outcome.changed, message: outcome.message, ...(outcome.data ? { data: outcome.data } : {}), ms: result.ms });
      results.push(result);
      opts.onStepDone?.(result);
    } catch (err) {
      journal.write("step-failed", { index, kind: step.kind, host: step.host, error: String(err instanceof Error ? err.message : err) });
      // Refused by an agent's fence: the step did not run.
      throw err instanceof LockTakenOver ? err.before(index) : err;
    }
  };

  for (const stage of plan.stages) {
    if (opts.deadline && Date.now() + opts.deadline.estimateStage(stage) > opts.deadline.at.getTime()) {
      const next = indexOf.get(stage.steps[0]!)!;
      const needs = Math.round(opts.deadline.estimateStage(stage) / 1000);
      journal.write("window-closing", { before: next, stage: stage.title, deadline: opts.deadline.at.toISOString(), estimateMs: needs * 1000 });
      throw new ZkfleetError("interrupted", `the maintenance window closes at ${opts.deadline.at.toISOString()}: "${stage.title}" needs about ${needs}s; ` +
        `stopped before it (step ${next + 1}), every server up and synced`, {
        where: journal.path,
        hint: `continue in the next window with \`zkfleet runs resume ${journal.runId}\``,
      });
    }
    if (!stage.concurrent) {
      // A stage that checks a server the resumed run started: it was stopped, and is watched like one just started.
      let stopped = stage.resumes !== undefined;
      if (stage.resumes !== undefined) startedUnchecked.add(stage.resumes);
      try {
        for (const step of stage.steps) {
          // Before `stopped`: what is not ready fails the step before it touched the server, with nothing to undo.
          await opts.ready?.(step);
          if (step.kind === "stop") stopped = true;
          await run(step);
        }
      } catch (err) {
        // An interrupt comes between steps and leaves a server as its steps left it: resume goes on from there.
        if (err instanceof ZkfleetError && err.source === "interrupted") throw stopped && stage.undo ? uncheckedOnInterrupt(stage, err) : err;
        // The server of a stage whose check failed on another server's account serves: it is left as it is.
        // A run whose lock was taken over leaves the server to the run that holds it now: an undo would act too.
        if (!stopped || !stage.undo || err instanceof OtherServerFailed || err instanceof LockTakenOver) throw err;
        throw await undoStage(stage.title, stage.undo, err);
      }
      continue;
    }
    const hosts = [...new Set(stage.steps.map((s) => s.host))];
    await inParallel(hosts, opts.parallel, async (host) => {
      for (const step of stage.steps.filter((s) => s.host === host)) {
        await opts.ready?.(step);
        await run(step);
      }
    });
  }
  /**
   * An interrupt after a stage's server was started and before its check passed leaves a server nobody has seen
   * serve, with no undo: resume checks it first (and puts it back if it does not serve), and the message says so.
   */
  function uncheckedOnInterrupt(stage: Plan["stages"][number], err: ZkfleetError): ZkfleetError {
    const host = stage.resumes ?? stage.steps.find((s) => s.kind === "start")?.host;
    if (host === undefined || !startedUnchecked.has(host)) return err;
    journal.write("unchecked", { host, stage: stage.title });
    return new ZkfleetError("interrupted", `${err.message}; ${host} was started and has not been checked yet`, {
      where: journal.path,
      hint: `run \`zkfleet runs resume ${journal.runId}\`: it checks ${host} before anything else and puts it back as it was if it does not serve ` +
        "(a plain apply would only see it running)",
    });
  }

  /** Puts a server back as it was after its stage failed, then halts the run with both stories told. */
  async function undoStage(title: string, undo: Step[], cause: unknown): Promise<ZkfleetError> {
    const why = cause instanceof Error ? cause.message : String(cause);
    journal.write("undo-start", { stage: title, error: why });
    try {
      for (const step of undo) await run(step);
    } catch (undoErr) {
      // The undo's own gate refused: the server is left as it is, since stopping it would cost quorum.
      const gate = undo[0];
      if (undoErr instanceof ZkfleetError && undoErr.source === "plan" && gate?.kind === "await_healthy" && gate.quorumWithout !== undefined) {
        return new ZkfleetError("zookeeper", `${title} failed (${why}); ${gate.quorumWithout} was not put back, since stopping it would leave fewer than a quorum serving: ${undoErr.message}`, {
          where: undoErr.where ?? journal.path,
          hint: `bring the servers named back first (\`zkfleet status\`, their ZooKeeper logs), then run \`zkfleet runs resume ${journal.runId}\`: it checks ${gate.quorumWithout} again and puts it back if it still does not serve`,
          cause,
        });
      }
      return new ZkfleetError("zookeeper", `${title} failed (${why}), and putting it back failed too: ${undoErr instanceof Error ? undoErr.message : String(undoErr)}`, {
        where: journal.path,
        hint: "the ensemble may be short of this server: run `zkfleet status`, look at its ZooKeeper log, fix it by hand; the journal lists what ran",
        cause,
      });
    }
    journal.write("undo-done", { stage: title });
    return new ZkfleetError("zookeeper", `${title} failed: ${why}; the server was put back on its previous release and configuration and serves again; the run halted, servers after it were not touched`, {
      where: journal.path,
      hint: "find out why it did not come back on the new release or configuration (its ZooKeeper log), fix the inventory, then run apply again",
      cause,
    });
  }

  journal.write("done", { changed: results.filter((r) => r.changed).length });
  return { results: results.sort((a, b) => a.index - b.index), final };
}
