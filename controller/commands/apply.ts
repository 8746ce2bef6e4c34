// `zkfleet apply`: take the ensemble's lock, observe the hosts, plan (pure),
// show the plan, and unless --check, carry it out: create an ensemble, roll
// configuration changes and version upgrades through it. Membership changes
// and unsafe hops are refused by the planner rather than improvised here.
import { existsSync } from "node:fs";
import { join, posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import { Canary } from "../canary/canary.js";
import { type CanaryRoute, type CanaryRunReport, type CanaryVia, type CanaryViaOption, openCanaryRoute } from "../canary/route.js";
import { fleetActions } from "../execute/actions.js";
import { planMembershipChange, recordPath } from "./membership.js";
import { type StepResult, acts, executePlan } from "../execute/executor.js";
import { Journal, newRunId } from "../execute/journal.js";
import { type EnsembleLock, acquireEnsembleLock } from "../execute/lock.js";
import { findRun, stepHistory, uncheckedStarts } from "../execute/runs.js";
import { checkUncheckedFirst } from "../plan/put-back.js";
import { estimatePlan, estimateStage } from "../plan/estimate.js";
import { Fleet, type FleetOptions } from "../fleet.js";
import { type HostSpec, type Inventory, zooCfgPath } from "../inventory/schema.js";
import type { ObservedHost } from "../model/observed.js";
import { fileContent } from "../model/observed.js";
import { probeFor, targetOf } from "../model/target.js";
import { type ObserveRequest, observeAll, observeRequests, observedFrom, unobservableError } from "../observe.js";
import { type DesiredHost, type Plan, type Step, planApply, planSteps } from "../plan/plan.js";
import { type RestoreSpec, planRestore } from "../plan/restore.js";
import { type RenderedFile, SYSTEMD_UNIT, dynamicConfigPath, hostFilesRenderer, renderHostsBlock } from "../render/render.js";
import { ETC_HOSTS, etcHostsFile } from "../render/hosts-block.js";
import type { EnsembleReport } from "../status/health.js";


export interface ApplyInput {
  file: string;
  inventory: Inventory;
  check: boolean;
  limit?: string[];
  journalDir: string;
  settleTimeoutMs?: number;
  /** How long a gate waits for the ensemble to be healthy before a server is stopped. */
  gateTimeoutMs?: number;
  fleet?: FleetOptions;
  /**
   * A fleet already connecting to these hosts (the CLI's, warmed while apply's modules loaded): used instead of
   * opening one, and closed at the end like one.
   */
  opened?: Fleet;
  /** sha256 of the inventory file as read, for the journal (resume checks it). */
  inventoryHash: string;
  /** Take the ensemble lock over from another run. */
  breakLock?: boolean;
  /** Start an empty ensemble where the journal says one of this name last ran on other hosts (ensemble_elsewhere). */
  newEnsemble?: boolean;
  /**
   * Real clients writing and reading while servers stop (default on when the
   * plan stops a server); `via` is how they reach the client ports (default auto).
   */
  canary?: { enabled: boolean; intervalMs?: number; via?: CanaryViaOption };
  /** The end of the maintenance window: nothing starts that cannot finish before it. */
  deadline?: Date;
  /** --stage: only push an upgrade's new release (see PlanInput.stageOnly); membership changes wait too. */
  stageOnly?: boolean;
  /**
   * A rollback (`runs rollback`): files to put back as they were before that
   * run, per host and path. The inventory passed in already names the
   * version that run replaced.
   */
  restore?: { run: string; files: Map<string, Map<string, string>> };
  /**
   * A restore (`zkfleet restore`): the plan puts the backup into every
   * member before any starts (plan/restore.ts); the run the lock is held
   * under is added here, where it is known.
   */
  backup?: Omit<RestoreSpec, "lockRun">;
  /** The run this one continues (`runs resume`): its lock is taken back, its id recorded. */
  resume?: { run: string; lockRun: string };
  /** Asked before changing anything (not in check mode); false aborts. */
  confirm: (plan: Plan) => Promise<boolean>;
  onPlan?: (plan: Plan, estimateMs: number) => void;
  onStepStart?: (step: Step, index: number) => void;
  onStepDone?: (result: StepResult) => void;
  onWaiting?: (line: string) => void;
  /** The canary's path, once chosen, and why (one line). */
  onCanaryRoute?: (via: CanaryVia, reason: string) => void;
  /** Told as soon as the lock was taken over from other runs (--break-lock): who held it, and the generation now held. */
  onLockTakenOver?: (previous: EnsembleLock["tookOver"], generation: number) => void;
  signal?: AbortSignal;
}

export interface ApplyResult {
  plan: Plan;
  executed: boolean;
  results: StepResult[];
  changed: number;
  final?: EnsembleReport;
  journal?: string;
  runId?: string;
  canary?: CanaryRunReport;
  /** The runs whose lock this one took over, and the generation it held. */
  lockTakenOver?: { previous: EnsembleLock["tookOver"]; generation: number };
}

export function tarballFor(inv: Inventory): string {
  return join(inv.zookeeper.dists, `apache-zookeeper-${inv.zookeeper.version}-bin.tar.gz`);
}

const zooCfgOf = (inv: Inventory) => zooCfgPath(inv.zookeeper);

function serviceOf(inv: Inventory) {
  return inv.zookeeper.service === "systemd" ? { kind: "systemd" as const, unit: SYSTEMD_UNIT.name } : { kind: "script" as const };
}

/**
 * What each host should look like, from the files rendered for it before it was observed (rendering
 * again would cost as much); /etc/hosts is merged into what the host has, keeping its other lines.
 */
function desiredHost(inv: Inventory, spec: HostSpec, observed: ObservedHost | undefined, rendered: readonly RenderedFile[], hostsBlock: string | undefined): DesiredHost {
  const zk = inv.zookeeper;
  const files = [...rendered];
  if (hostsBlock !== undefined) {
    files.push(etcHostsFile((observed && fileContent(observed, ETC_HOSTS)) ?? "", hostsBlock, inv.ensemble));
  }
  return {
    host: spec.name,
    version: zk.version,
    tarball: tarballFor(inv),
    installDir: zk.install_dir,
    ...(zk.preinstalled ? { preinstalled: zk.preinstalled } : {}),
    transferDir: posix.join(inv.agent.dir, "dists"),
    stateDir: posix.join(inv.agent.dir, "state"),
    files,
    start: {
      install_dir: zk.install_dir, ...(zk.preinstalled ? { preinstalled: zk.preinstalled } : {}), config_dir: zk.config_dir, data_dir: zk.data_dir, service: serviceOf(inv), log_dir: zk.log_dir,
      probe: probeFor(inv, spec),
    },
    stop: { data_dir: zk.data_dir, config_path: zooCfgOf(inv), service: serviceOf(inv) },
    clean: { data_dir: zk.data_dir, ...(zk.data_log_dir ? { data_log_dir: zk.data_log_dir } : {}), config_path: zooCfgOf(inv) },
  };
}

export async function runApply(input: ApplyInput): Promise<ApplyResult> {
  const inv = input.inventory;
  const tarball = tarballFor(inv);
  // The adopted release is used where it lies on the hosts: no local copy needed.
  if (inv.zookeeper.preinstalled?.version !== inv.zookeeper.version && !existsSync(tarball)) {
    throw new ZkfleetError("artifact", `no distribution for ZooKeeper ${inv.zookeeper.version} at ${tarball}`, {
      where: `${input.file}: zookeeper.dists`,
      hint: "build the cache with `zkfleet lab dists`, or point zookeeper.dists at a directory holding apache-zookeeper-<version>-bin.tar.gz",
    });
  }
  for (const name of input.limit ?? []) {
    if (!inv.hosts.some((h) => h.name === name)) {
      throw new ZkfleetError("usage", `--limit ${name}: no such host in ${input.file}`, {
        where: "--limit", hint: `hosts are ${inv.hosts.map((h) => h.name).join(", ")}`,
      });
    }
  }

  const target = targetOf(inv, input.file);
  const zooCfg = zooCfgOf(inv);
  const renderFiles = hostFilesRenderer(inv);
  const rendered = new Map(inv.hosts.map((spec) => [spec.name, renderFiles(spec)]));
  const hostsBlock = inv.hosts_file === "managed" ? renderHostsBlock(inv) : undefined;
  const keys = inv.hosts.map((h) => h.name);
  const observeRequest = (key: string): ObserveRequest => ({
    files: [...rendered.get(key)!.map((f) => f.path), ...(inv.hosts_file === "managed" ? [ETC_HOSTS] : []), recordPath(inv), ...(input.backup ? [input.backup.markerPath] : [])],
    zooCfg,
    probe: probeFor(inv, inv.hosts.find((h) => h.name === key)!),
  });
  // Read while the hosts are still being reached: earlier runs' step durations, for the estimate.
  const history = stepHistory(input.journalDir, inv.ensemble);
  const fleet = input.opened ?? await Fleet.open([inv], input.fleet);
  const runId = newRunId();
  const lockRun = input.resume?.lockRun ?? runId;
  // A run that may act holds the ensemble's lock before it plans: a plan made while another run acts would be stale.
  // Each host is observed in the agent process that takes its lock, right after it (lock.ts says why that is sound).
  const started = Date.now();
  const lock = input.check ? undefined : await acquireEnsembleLock(fleet, keys, {
    ensemble: inv.ensemble, agentDir: inv.agent.dir, run: lockRun, breakLock: input.breakLock ?? false,
    alongside: (key) => observeRequests(fleet, key, observeRequest(key)),
  }).catch(async (err: unknown) => {
    await fleet.close();
    throw err;
  });
  const takenOver = lock && lock.tookOver.length > 0 ? { previous: lock.tookOver, generation: lock.generation } : undefined;
  if (takenOver) input.onLockTakenOver?.(takenOver.previous, takenOver.generation);
  try {
    const observed = lock
      ? keys.map((key) => observedFrom(key, lock.alongside.get(key)!, started))
      : await observeAll(fleet, keys, observeRequest);
    const byKey = new Map(observed.map((o) => [o.host, o]));
    const dynamic = dynamicConfigPath(inv.zookeeper);
    const desired = inv.hosts.map((spec) => {
      const d = desiredHost(inv, spec, byKey.get(spec.name), rendered.get(spec.name)!, hostsBlock);
      const back = input.restore?.files.get(spec.name);
      return back ? { ...d, files: d.files.map((f) => (back.has(f.path) ? { ...f, content: back.get(f.path)! } : f)) } : d;
    });
    const timeouts = { gateMs: input.gateTimeoutMs ?? 30_000, settleMs: input.settleTimeoutMs ?? 120_000 };
    // A membership change is planned on its own, one server at a time; the rest of the inventory follows in the next apply.
    const membership = input.stageOnly ? {} : planMembershipChange({
      inv, file: input.file, observed, desired, zooCfg, journalDir: input.journalDir, timeouts, newEnsemble: input.newEnsemble ?? false,
    });
    const planned = membership.plan ?? planApply({
      target,
      // Hosts leaving the ensemble are the membership change's to handle.
      desired: desired.filter((d) => target.members.some((m) => m.host === d.host)),
      observed,
      ...(input.limit ? { limit: input.limit } : {}),
      config: { zooCfg, ...(dynamic ? { dynamic } : {}) },
      ...(hostsBlock !== undefined ? { hostsFile: { path: ETC_HOSTS, block: hostsBlock } } : {}),
      timeouts,
      ...(input.stageOnly ? { stageOnly: true } : {}),
    });
    const restoring = input.backup ? planRestore(planned, observed, { ...input.backup, lockRun }) : planned;
    // Resumed: a server the run started and never saw serve is checked before anything else, its undo behind it.
    const plan = input.resume ? checkUncheckedFirst(restoring, uncheckedStarts(findRun(input.journalDir, input.resume.run).file), input.resume.run, timeouts) : restoring;
    const estimateMs = estimatePlan(plan, history);
    input.onPlan?.(plan, estimateMs);
    const unreachable = observed.filter((o) => !o.reachable);
    if (unreachable.length > 0) throw unobservableError(unreachable.map((o) => `${o.host}: ${o.error}`));
    if (plan.refusals.length > 0) throw refusalError(plan);
    const steps = planSteps(plan);
    if (input.check || steps.length === 0) return { plan, executed: false, results: [], changed: 0, ...(takenOver ? { lockTakenOver: takenOver } : {}) };
    if (input.deadline && Date.now() + estimateMs > input.deadline.getTime()) {
      const minutes = (ms: number) => `${Math.ceil(ms / 60_000)} min`;
      throw new ZkfleetError("plan", `the plan needs about ${minutes(estimateMs)}, the window closes in ${minutes(input.deadline.getTime() - Date.now())} (${input.deadline.toISOString()}); nothing was changed`, {
        hint: "start it in a longer window, or split it (--limit); estimates come from earlier runs of this ensemble in the journal, or conservative defaults",
      });
    }
    if (!(await input.confirm(plan))) {
      throw new ZkfleetError("usage", "apply was not confirmed; nothing was changed", {
        hint: "answer y at the prompt, or pass --yes (review first with --check --diff)",
      });
    }

    const journal = new Journal(input.journalDir, inv.ensemble, input.backup ? "restore" : input.resume ? "resume" : input.restore ? "rollback" : "apply", runId);
    journal.origin = {
      inventory: input.file, inventoryHash: input.inventoryHash, lockRun,
      ...(input.resume ? { resumes: input.resume.run } : {}), ...(input.restore ? { rollsBack: input.restore.run } : {}),
      ...(input.backup ? { restores: input.backup.backup } : {}),
      ...(input.limit ? { limit: input.limit } : {}),
    };
    if (takenOver) journal.write("lock-broken", takenOver);
    // Clients only notice servers that stop: the canary watches plans that stop one.
    let route: CanaryRoute | undefined;
    let canary: Canary | undefined;
    let report: CanaryRunReport | undefined;
    const finishCanary = async () => {
      if (!canary || !route || report) return;
      const { report: figures, series } = await canary.stop();
      report = { via: route.via, ...figures };
      // The series is for `runs show --html` only; apply's own output stays the figures.
      journal.write("canary", { report, series });
    };
    // The canary's clients start (a hundred milliseconds or more: a process each) while an upgrade's push runs and
    // while the first gate looks; every other step waits for them, so that they are on the servers as they were
    // observed before anything else changes. A gate only looks: waiting for the clients first cost a roll 40-45 ms.
    const stops = (st: Step) => st.kind === "stop" || st.kind === "reconfig";
    const pushOnly = (st: Step) => st.kind === "install" && !st.setCurrent;
    let canaryStarted: Promise<void> | undefined;
    try {
      // An undo stops a server too (a resumed check's stage has no stop of its own, only its undo's).
      if ((input.canary?.enabled ?? true) && (steps.some(stops) || plan.stages.some((s) => s.undo?.some(stops)))) {
        const serving = plan.target.members.filter((m) => byKey.get(m.host)?.server?.mode !== undefined).map((m) => m.host);
        canaryStarted = (async () => {
          route = await openCanaryRoute(fleet, plan.target, inv.zookeeper.client_port, serving, input.canary?.via ?? "auto");
          input.onCanaryRoute?.(route.via, route.reason);
          // Under the ensemble's lock no other run acts, so canary znodes of other runs were left by runs killed outright;
          // a run whose lock this one broke may still live, and is left alone (the sweep also spares any still written to).
          const sweep = { keep: [runId, ...(lock?.tookOver.map((h) => h.run) ?? [])] };
          canary = await Canary.start(route.targets, { prefix: `/zkfleet-canary/${runId}`, sweep, ...(input.canary?.intervalMs ? { intervalMs: input.canary.intervalMs } : {}) });
        })();
        canaryStarted.catch(() => undefined);
      }
      const { results, final } = await executePlan(plan, {
        // Observed under the lock: a first gate soon after may judge that look rather than ask again.
        ...(lock ? { actions: fleetActions(fleet, { at: started, hosts: observed }), quietSince: started } : { actions: fleetActions(fleet) }),
        journal, parallel: fleet.parallel, ...(lock ? { lock } : {}),
        ready: async (step) => {
          if (!pushOnly(step) && acts(step)) await canaryStarted;
        },
        onStepStart: (step, index) => {
          canary?.step(index);
          input.onStepStart?.(step, index);
        },
        ...(input.onStepDone ? { onStepDone: input.onStepDone } : {}),
        ...(input.onWaiting ? { onWaiting: input.onWaiting } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
        ...(input.deadline ? { deadline: { at: input.deadline, estimateStage: (stage) => estimateStage(stage, history) } } : {}),
      }).catch(async (err: unknown) => {
        await canaryStarted?.catch(() => undefined);
        await finishCanary().catch(() => undefined);
        // A run that halts says what the canary could not show as well: its exit code stays the halt's.
        const t = report?.total;
        const news = t && (t.lost ?? 0) > 0 ? `the canary lost ${t.lost} acknowledged write(s) during the run`
          : t?.unknown ? `the canary's figures are unknown (${t.unknown.join("; ")})` : undefined;
        if (news && err instanceof ZkfleetError) throw new ZkfleetError(err.source, `${err.message}; and ${news}`, { where: err.where, hint: err.hint, cause: err });
        throw err;
      });
      // Started by now (a step after the push waited for it); awaited here too so that it is always stopped.
      await canaryStarted;
      await finishCanary();
      if (report && (report.total.lost ?? 0) > 0) {
        throw new ZkfleetError("zookeeper", `the canary lost ${report.total.lost} acknowledged write(s) during the run`, {
          where: journal.path,
          hint: "an acknowledged write must never be lost: stop changing this ensemble, keep its data dirs as they are, and look at the journal and the servers' logs",
        });
      }
      // Every step ran, but what clients saw cannot be shown: the run does not pass as one shown safe.
      if (report?.total.unknown) {
        throw new ZkfleetError("zookeeper", `every step ran, but the canary's figures are unknown (${report.total.unknown.join("; ")}): ` +
          "that no acknowledged write was lost and how long clients waited cannot be shown", {
          where: journal.path,
          hint: "`zkfleet runs show` has what the other clients saw; `zkfleet status --write-probe` shows the ensemble commits; " +
            "find why the client failed (the reason above); pass --no-canary to run without one",
        });
      }
      return {
        plan, executed: true, results, changed: results.filter((r) => r.changed).length, final, journal: journal.path, runId: journal.runId,
        ...(report ? { canary: report } : {}), ...(takenOver ? { lockTakenOver: takenOver } : {}),
      };
    } finally {
      await canaryStarted?.catch(() => undefined);
      canary?.kill();
      // After the canary: its final check reads through the forwarders.
      await route?.close();
      journal.close();
    }
  } finally {
    await lock?.release();
    await fleet.close();
  }
}

/** What to do about each kind of refusal: the fix a person needs, by code. */
const REFUSAL_HINTS: Record<Plan["refusals"][number]["code"], string> = {
  unobservable_host: "fix what is named for each host (or leave the host out of the inventory) and run apply again",
  unreadable_file: "make the file readable (or move it aside if it is not needed) on the host named, then run apply again; zkfleet keeps a backup of every file it replaces",
  unsafe_version_hop: "choose a version the ensemble can roll to (see the reason), or take the path the reason names",
  membership_change: "changing a member's address or ports in place is not supported: add a server on another host " +
    "(a myid larger than any used before), then mark the old one state: absent; or put the inventory back",
  unreadable_membership: "correct the server lines named on that host, then run apply again",
  quorum_at_risk: "bring the voters that are down back first (apply starts them when they are in scope: drop --limit), then run apply again",
  hosts_file_conflict: "the first matching line wins over zkfleet's block, so a server would bind or dial the wrong address: " +
    "remove or correct those lines (zkfleet edits only its own block)",
  unsafe_membership_change: "bring the servers named back first, or change the target so that each step keeps a quorum; --check shows the steps",
  restore_target_running: "restore writes only into a stopped or new ensemble: stop every server of the target first " +
    "(on each host: zkServer.sh stop, or systemctl stop zookeeper), or restore into another ensemble; restore never stops a live one",
  ensemble_elsewhere: "list the servers the ensemble runs on now in the inventory (state: absent for those that should leave) " +
    "beside the new ones, so zkfleet moves it one server at a time instead of starting an empty one; " +
    "or, when an empty ensemble under this name is what you want (the old one is gone, or another ensemble shares the name), apply --new-ensemble",
};

/** A refused plan as one error: every reason, and the fix for each kind. */
export function refusalError(plan: Plan): ZkfleetError {
  const codes = [...new Set(plan.refusals.map((r) => r.code))];
  const headline = codes.length === 1 && codes[0] === "hosts_file_conflict"
    ? "/etc/hosts on some hosts gives ensemble names other addresses; nothing was changed"
    : `the plan is refused (${codes.join(", ")}); nothing was changed`;
  return new ZkfleetError("plan", headline, {
    where: plan.refusals.map((r) => r.message).join("\n         "),
    hint: codes.map((c) => REFUSAL_HINTS[c]).join("; "),
  });
}

/**
 * apply as the CLI runs it: when a plan leaves membership changes for later
 * (static membership, one change per plan), observe and plan again until
 * none is left, each plan a run of its own in the journal. Bounded: every
 * round makes one change the planner proved, so a target is reached in as
 * many rounds as it has changes.
 */
export function runApplyUntilDone(input: ApplyInput, onRound?: (round: number, remaining: string[]) => void): Promise<ApplyResult> {
  return roundsUntilDone(input, runApply, onRound);
}

/** runApplyUntilDone with the run of one round given (the loop's own logic, for unit tests). */
export async function roundsUntilDone(
  input: ApplyInput, runRound: (input: ApplyInput) => Promise<ApplyResult>, onRound?: (round: number, remaining: string[]) => void,
): Promise<ApplyResult> {
  let result = await runRound(input);
  const takenOver = result.lockTakenOver;
  const results = [...result.results];
  let changed = result.changed;
  for (let round = 2; !input.check && (result.plan.continues?.length ?? 0) > 0; round++) {
    // Each round must make the change it planned. One that changed nothing would be planned again from the same
    // state, and the next the same: stop and say what is still different instead of observing again.
    if (!result.executed || result.changed === 0) {
      throw new ZkfleetError("plan", `round ${round - 1} changed nothing, and the planner still has this to do: ${result.plan.continues!.join("; ")}; ` +
        "observing again would plan the same; stopped", {
        where: result.journal ?? input.file,
        hint: "compare `zkfleet apply --check` with what the servers report (`zkfleet status`, `conf` on each server); the ensemble was left serving as the last check saw it",
      });
    }
    if (round > 64) {
      throw new ZkfleetError("plan", "membership changes did not converge within 64 rounds", { hint: "run `zkfleet apply --check` and `zkfleet status` to see where it stands" });
    }
    onRound?.(round, result.plan.continues!);
    result = await runRound({ ...input, resume: undefined, restore: undefined, opened: undefined });
    results.push(...result.results);
    changed += result.changed;
  }
  return { ...result, results, changed, ...(takenOver ? { lockTakenOver: takenOver } : {}) };
}
