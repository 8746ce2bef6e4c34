// The planner: what must happen to bring the observed fleet to the desired
// state, and in which order. Pure: no SSH, no ZooKeeper client, no file
// system. Quorum safety is decided here, so this is where the rules live and
// where the unit and property tests aim. Its output (steps.ts) is the whole
// contract with the executor.
import { posix } from "node:path";
import { unifiedDiff } from "../../common/diff.js";
import { putBackSteps } from "./put-back.js";
import { needsSnapshotToStart, versionHop } from "../../common/versions.js";
import type { OpArgsInput } from "../../common/protocol.js";
import { type EnsembleModel, type ModelHost, modelEnsemble } from "../model/ensemble.js";
import { coreLine, membershipChange, membershipFromConf, parseMembership, sameMembership, type ServerEntry } from "../model/membership.js";
import {
  type ObservedHost, currentRelease, fileContent, fileRead, installedReleases, isRunning, modeOf,
} from "../model/observed.js";
import type { EnsembleTarget } from "../model/target.js";
import { parseSettings, settingsDiff, withDynamicConfigFile } from "../model/zoo-cfg.js";
import { findHostsConflicts, hostsAlreadyResolve } from "../render/hosts-block.js";
import { MANAGED_MARK } from "../render/mark.js";
import { quorumSize, spareVoters } from "../model/quorum.js";
import type { AwaitHealthyStep, DeferredWrite, Plan, Preinstalled, Refusal, Stage, Step, WriteFileStep } from "./steps.js";
import { compareText } from "../../common/compare.js";

export * from "./steps.js";

export interface DesiredFile {
  path: string;
  content: string;
  mode: number;
}

/** What one host should look like, and how its server is started and stopped there. */
export interface DesiredHost {
  host: string;
  version: string;
  /** Local tarball of the distribution, to push when the release is missing. */
  tarball: string;
  installDir: string;
  /** The release adoption found on the hosts, used where it lies. */
  preinstalled?: Preinstalled;
  /** Where a tarball is put on the host for unpacking. */
  transferDir: string;
  /** The agent's state directory (backups of replaced files). */
  stateDir: string;
  files: DesiredFile[];
  start: OpArgsInput<"start">;
  stop: OpArgsInput<"stop">;
  clean: OpArgsInput<"clean_data">;
}

const PUSH_TITLE = "push the new release to every host (nothing restarts)";

export interface PlanInput {
  target: EnsembleTarget;
  desired: DesiredHost[];
  observed: ObservedHost[];
  /** Restrict changes to these hosts (--limit); every host is still observed and checked. */
  limit?: string[];
  config: {
    /** zoo.cfg's path: its settings, and its server lines unless reconfig is on. */
    zooCfg: string;
    /** The dynamic file zkfleet writes when reconfig is on (3.5.3+). */
    dynamic?: string;
  };
  /** The managed /etc/hosts block, to find lines outside it that would override it. */
  hostsFile?: { path: string; block: string };
  timeouts: { gateMs: number; settleMs: number };
  /**
   * --stage: only push and unpack an upgrade's new release, ahead of the window; nothing is written
   * or restarted, so the apply in the window spends its time on the restarts alone.
   */
  stageOnly?: boolean;
}

/**
 * Restart order from observed state, never from inventory order: servers
 * that are down first (nothing to lose), then followers, observers, and the
 * leader last, so the ensemble elects at most once.
 */
export function restartOrder<T>(items: readonly T[], hostOf: (item: T) => ObservedHost = (i) => i as ObservedHost): T[] {
  const rank = (h: ObservedHost): number => {
    const mode = modeOf(h);
    return !isRunning(h) || mode === undefined ? 0 : mode === "follower" ? 1 : mode === "observer" ? 2 : mode === "leader" ? 4 : 3;
  };
  return [...items].sort((a, b) => rank(hostOf(a)) - rank(hostOf(b)) || compareText(hostOf(a).host, hostOf(b).host));
}

/** The membership the inventory asks for, read from the rendered file that carries it. */
function desiredMembership(input: PlanInput): ServerEntry[] {
  const path = input.config.dynamic ?? input.config.zooCfg;
  const file = input.desired[0]?.files.find((f) => f.path === path);
  return file ? parseMembership(file.content).servers : [];
}

function unobservable(input: PlanInput): Refusal[] {
  const byHost = new Map(input.observed.map((o) => [o.host, o]));
  return input.desired.flatMap((d): Refusal[] => {
    const o = byHost.get(d.host);
    if (o?.reachable) return [];
    const error = o?.error ?? "no observation";
    return [{ code: "unobservable_host", host: d.host, message: `${d.host}: cannot be observed (${error}); nothing was changed`, data: { error } }];
  });
}

/** A managed file that exists but cannot be read is never planned as absent: its content is unknown. */
function unreadable(input: PlanInput, observed: Map<string, ObservedHost>): Refusal[] {
  return input.desired.flatMap((d) => {
    const o = observed.get(d.host)!;
    const paths = new Set([...d.files.map((f) => f.path), ...(input.hostsFile ? [input.hostsFile.path] : [])]);
    const found = [...paths].flatMap((path) => {
      const f = fileRead(o, path);
      return f.state === "unreadable" ? [{ path, error: f.error }] : [];
    });
    const dyn = o.facts?.dynamic_config;
    if (dyn && dyn.file.state === "unreadable") found.push({ path: dyn.path, error: dyn.file.error });
    return found.map(({ path, error }): Refusal => ({
      code: "unreadable_file", host: d.host,
      message: `${d.host}: ${path} exists but cannot be read (${error}); planning it as absent would overwrite it`,
      data: { path, error },
    }));
  });
}

/** The version a host's server runs or would run from its data (undefined for a fresh host). */
function versionOf(h: ModelHost): string | undefined {
  return (h.running || h.hasData) && h.version !== null ? h.version : undefined;
}

/**
 * A version change of an ensemble that exists is rolled one server at a
 * time only along a hop known to serve with mixed versions (common/versions.ts);
 * any other is refused with the reason and what to do instead.
 */
function versionHops(input: PlanInput, model: EnsembleModel): Refusal[] {
  if (!model.exists) return [];
  const want = input.target.version;
  return model.hosts.flatMap((h): Refusal[] => {
    const from = versionOf(h);
    if (from === undefined || from === want) return [];
    const hop = versionHop(from, want);
    if (hop.rolling) return [];
    return [{
      code: "unsafe_version_hop", host: h.host,
      message: `${h.host}: ZooKeeper ${from} -> ${want} cannot be rolled: ${hop.why}`,
      data: { from, to: want, why: hop.why },
    }];
  });
}

/** 3.4 followers often hold transaction logs and no snapshot; 3.5+ refuses to start on that (ZOOKEEPER-3056). */
function logsWithoutSnapshot(o: ObservedHost): boolean {
  const f = o.facts;
  const snapshots = (f?.data_dir?.snapshots.length ?? 0) + (f?.data_log_dir?.snapshots.length ?? 0);
  const logs = (f?.data_dir?.logs.length ?? 0) + (f?.data_log_dir?.logs.length ?? 0);
  return snapshots === 0 && logs > 0;
}

/**
 * Membership is compared on every host, in --limit or not, running or not:
 * a stopped server started with a new server list, or a running one
 * restarted with it, changes the ensemble's membership by static rewrite,
 * which risks two leaders (ZOOKEEPER-2819) and is not apply's to do.
 */
function membershipChanges(input: PlanInput, model: EnsembleModel): Refusal[] {
  if (!model.exists) return [];
  const want = desiredMembership(input);
  return model.hosts.flatMap((h): Refusal[] => {
    const m = h.membership;
    if (!m) return [];
    if (m.problems.length > 0) {
      return [{
        code: "unreadable_membership", host: h.host,
        message: `${h.host}: server lines in ${m.source} cannot be read: ${m.problems.join("; ")}`,
        data: { source: m.source, problems: m.problems },
      }];
    }
    const change = membershipChange(m.servers.map((x) => sameServerByName(input, x, want)), want);
    if (change.added.length === 0 && change.removed.length === 0) return [];
    return [{
      code: "membership_change", host: h.host,
      message: `${h.host}: the inventory changes the ensemble's membership (${m.source} has ` +
        `${change.removed.join(", ") || "nothing more"}; the inventory has ${change.added.join(", ") || "nothing more"}); ` +
        "apply does not change membership",
      data: { source: m.source, added: change.added, removed: change.removed },
    }];
  });
}

/**
 * A line naming a member by its address is the same server as the line
 * naming it by its name: a server that moved under its name joins named by
 * address while the name is still its predecessor's, and a line set by
 * reconfig keeps that form.
 */
function sameServerByName(input: PlanInput, s: ServerEntry, want: readonly ServerEntry[]): ServerEntry {
  const member = input.target.members.find((m) => m.myid === s.id);
  const wanted = want.find((w) => w.id === s.id);
  return member && wanted && s.host === member.address.toLowerCase() && wanted.host === member.host.toLowerCase() ? { ...s, host: wanted.host } : s;
}

function hostsFileConflicts(input: PlanInput, observed: Map<string, ObservedHost>): Refusal[] {
  const hf = input.hostsFile;
  if (!hf) return [];
  return input.desired.flatMap((d) => hostsConflictRefusals(d.host, hf.path, fileContent(observed.get(d.host)!, hf.path) ?? "", hf.block, input.target.name));
}

/** Refusals for the lines of a host's hosts file that would win over the ensemble's block (`when` says during what). */
export function hostsConflictRefusals(host: string, path: string, existing: string, block: string, ensemble: string, when = ""): Refusal[] {
  return findHostsConflicts(existing, block, ensemble).map((c): Refusal => ({
    code: "hosts_file_conflict", host,
    message: `${host}: ${path}:${c.line} "${c.text.trim()}" maps ${c.name}, which the ensemble needs at ${c.expected}${when}`,
    data: { line: c.line, text: c.text, name: c.name, expected: c.expected },
  }));
}

/**
 * The writes a host needs. With reconfig on an ensemble that exists, the
 * dynamic file and zoo.cfg's dynamicConfigFile line belong to ZooKeeper:
 * membership was compared above, zoo.cfg is compared by its settings, and a
 * rewritten zoo.cfg keeps pointing at the dynamic file the server uses now.
 */
function fileWrites(input: PlanInput, d: DesiredHost, o: ObservedHost, exists: boolean): Step[] {
  const dynamic = input.config.dynamic;
  const steps: Step[] = [];
  for (const f of d.files) {
    const before = fileContent(o, f.path);
    let content = f.content;
    if (dynamic !== undefined && exists) {
      if (f.path === dynamic) continue;
      const live = o.facts?.dynamic_config?.path;
      if (f.path === input.config.zooCfg && before !== null) {
        if (settingsDiff(before, f.content, true).length === 0) continue;
        content = live !== undefined ? withDynamicConfigFile(f.content, live)
          : reconfigTurnedOn(f.content, d.files.find((x) => x.path === dynamic)?.content ?? "");
      }
    }
    if (before === content) continue;
    steps.push({
      kind: "write_file", host: d.host, path: f.path, content, mode: f.mode, stateDir: d.stateDir,
      diff: unifiedDiff(f.path, before, content), before: before === null ? "absent" : "present", previous: before,
      reason: before === null ? `${f.path} does not exist` : `${f.path} differs from the inventory`,
    });
  }
  return steps;
}

/**
 * zoo.cfg for a server of a running ensemble that has no dynamic file yet
 * (reconfig was off): reconfigEnabled with the server lines still in zoo.cfg,
 * no dynamicConfigFile. ZooKeeper's documented way (the reconfig guide's
 * backward-compatible single file): each server restarted so keeps serving
 * by its lines, and once the leader has restarted too, the new leader's
 * configuration version makes every server move its lines into a
 * zoo.cfg.dynamic.<version> of its own and point zoo.cfg at it (seen in the
 * lab on 3.8.0). A dynamicConfigFile line naming a file no server has would
 * stop the server at its start.
 */
function reconfigTurnedOn(zooCfg: string, dynamicFile: string): string {
  const servers = dynamicFile.split("\n").filter((line) => /^\s*server\.\d+\s*=/.test(line));
  const kept = zooCfg.split("\n").filter((line) => !/^\s*dynamicConfigFile\s*=/.test(line)).join("\n").replace(/\n*$/, "\n");
  return `${kept}# The server lines stay here until ZooKeeper moves them into a dynamic file of its own (reconfig turned on in a running ensemble).\n${servers.join("\n")}\n`;
}

/**
 * Why a write to a running server can wait for its next restart, or
 * undefined when it cannot. Only files zkfleet has not written yet qualify
 * (found at adoption: hand-written, or absent), and only when they already
 * have the effect the inventory asks for, or are read only at start-up: a
 * restart then would change nothing the ensemble does. A file zkfleet wrote
 * before is always written and rolled, so that an edited inventory (a new
 * heap size) takes effect.
 */
function takeoverReason(input: PlanInput, w: WriteFileStep, before: string | null): string | undefined {
  if (before !== null && before.includes(MANAGED_MARK)) return undefined;
  const hf = input.hostsFile;
  if (w.path === hf?.path) {
    return hostsAlreadyResolve(before ?? "", hf.block, input.target.name)
      ? "every ensemble name already resolves to its address through lines zkfleet leaves as they are" : undefined;
  }
  if (w.path === input.config.zooCfg || w.path === input.config.dynamic) {
    if (before === null) return undefined;
    const sameMembers = sameMembership(parseMembership(before).servers, parseMembership(w.content).servers);
    return sameMembers && settingsDiff(withoutInertAdmin(before), withoutInertAdmin(w.content), false).length === 0
      ? "its settings and server lines already say what the inventory says" : undefined;
  }
  if (posix.basename(w.path) === "myid") return before?.trim() === w.content.trim() ? "it already holds this myid" : undefined;
  return "read only when the server starts";
}

/**
 * zkfleet writes the AdminServer's port and address even where it is off; a
 * hand-written zoo.cfg that turns it off has no reason to name them, and
 * they change nothing while it stays off.
 */
function withoutInertAdmin(zooCfg: string): string {
  if (parseSettings(zooCfg).get("admin.enableServer") !== "false") return zooCfg;
  return zooCfg.split("\n").filter((line) => !/^\s*admin\.server(Port|Address)\s*=/.test(line)).join("\n");
}

/** Settings every version prints in `conf` exactly as zoo.cfg gives them. */
const CONF_ECHOES = ["tickTime", "initLimit", "syncLimit", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout"];

/**
 * Why a running server whose files are as desired still needs a restart: a
 * file it reads at start-up changed after it started (a run killed between
 * writing and restarting), or it reports a setting other than its zoo.cfg's.
 * Undefined when it runs what its files say.
 */
function pendingRestart(input: PlanInput, d: DesiredHost, o: ObservedHost): string | undefined {
  const started = o.facts?.process?.started_at_ms;
  const reconfig = input.config.dynamic !== undefined;
  if (started !== null && started !== undefined) {
    for (const f of d.files) {
      // ZooKeeper itself rewrites these once it runs with reconfig (not before: a server that has no dynamic file
      // of its own yet, reconfig being turned on, keeps zoo.cfg as written); /etc/hosts has lines that are not ours.
      const rewrittenByZooKeeper = reconfig && f.path === input.config.zooCfg && o.facts?.dynamic_config;
      if (f.path === input.config.dynamic || rewrittenByZooKeeper || f.path === input.hostsFile?.path) continue;
      const r = fileRead(o, f.path);
      // A second of slack: file times and the kernel's start time are not read from one clock tick.
      if (r.state === "present" && r.mtime_ms > started + 1000) {
        return `${f.path} changed after the server started (${new Date(r.mtime_ms).toISOString()} > ${new Date(started).toISOString()}): it runs the old configuration`;
      }
    }
  }
  const conf = o.server?.conf;
  const cfg = d.files.find((f) => f.path === input.config.zooCfg);
  if (conf && cfg && !reconfig) {
    // Static lists are read at start-up: a 3.5+ server reports the lines it loaded. Membership was compared
    // before (a server named by its address is the same server), so what can differ here is the form a line
    // names its server in (a joiner listed by address while its name was another server's).
    const running = membershipFromConf(conf)?.map(coreLine);
    const filed = parseMembership(cfg.content).servers.map(coreLine);
    const differs = running?.filter((l) => !filed.includes(l)) ?? [];
    if (filed.length > 0 && differs.length > 0) return `the server runs ${differs.join(", ")}, its zoo.cfg says ${filed.filter((l) => !running!.includes(l)).join(", ")}`;
  }
  if (conf && cfg) {
    const want = parseSettings(cfg.content);
    for (const key of CONF_ECHOES) {
      const w = want.get(key);
      if (w !== undefined && conf[key] !== undefined && conf[key] !== w) return `the server runs ${key}=${conf[key]}, its zoo.cfg says ${w}`;
    }
  }
  return undefined;
}

export function planApply(input: PlanInput): Plan {
  const target = input.target;
  const refuse = (refusals: Refusal[]): Plan => ({ target, stages: [], unchanged: [], refusals });
  const cannotObserve = unobservable(input);
  if (cannotObserve.length > 0) return refuse(cannotObserve);
  const observedBy = new Map(input.observed.map((o) => [o.host, o]));
  const cannotRead = unreadable(input, observedBy);
  if (cannotRead.length > 0) return refuse(cannotRead);
  const model = modelEnsemble(input.desired.map((d) => observedBy.get(d.host)!), input.config.zooCfg);
  const refusals = [...versionHops(input, model), ...membershipChanges(input, model), ...hostsFileConflicts(input, observedBy)];
  if (refusals.length > 0) return refuse(refusals);

  const inScope = (host: string) => !input.limit || input.limit.includes(host);
  const members = target.members.map((m) => m.host);
  const push: Step[] = [];
  const prepare: Step[] = [];
  const starts: Step[] = [];
  const rolls: { observed: ObservedHost; steps: Step[]; upgrade: boolean; pending?: string }[] = [];
  const unchanged: string[] = [];
  const deferred: DeferredWrite[] = [];
  const modelOf = new Map(model.hosts.map((h) => [h.host, h]));

  for (const d of input.desired) {
    if (!inScope(d.host)) continue;
    const o = observedBy.get(d.host)!;
    const current = currentRelease(o);
    const installed = installedReleases(o);
    const from = versionOf(modelOf.get(d.host)!);
    const upgrade = from !== undefined && from !== d.version;
    const steps: Step[] = [];
    if (upgrade) {
      // The new release goes onto every host before any server restarts on it.
      if (!installed.includes(d.version)) {
        push.push({
          kind: "install", host: d.host, version: d.version, tarball: d.tarball, transferDir: d.transferDir, installDir: d.installDir,
          ...(d.preinstalled ? { preinstalled: d.preinstalled } : {}), setCurrent: false, before: { current, installed }, reason: `ZooKeeper ${d.version} is not installed; ${from} keeps serving until its turn`,
        });
      }
    } else if (!installed.includes(d.version) || current !== d.version) {
      steps.push({
        kind: "install", host: d.host, version: d.version, tarball: d.tarball, transferDir: d.transferDir, installDir: d.installDir,
        ...(d.preinstalled ? { preinstalled: d.preinstalled } : {}), setCurrent: current !== d.version, before: { current, installed },
        reason: installed.includes(d.version) ? `switch current from ${current ?? "nothing"} to ${d.version}` : `ZooKeeper ${d.version} is not installed`,
      });
    }
    steps.push(...fileWrites(input, d, o, model.exists));
    const onNewRelease: Step[] = [];
    if (upgrade) {
      onNewRelease.push({
        kind: "switch_release", host: d.host, version: d.version, installDir: d.installDir,
        ...(d.preinstalled ? { preinstalled: d.preinstalled } : {}), before: { current },
        reason: `upgrade from ${from} to ${d.version}`,
      });
      // Decided again when the step runs: a 3.4 follower writes its first logs whenever clients write, plan or not.
      if (from!.startsWith("3.4.") && needsSnapshotToStart(d.version)) {
        onNewRelease.push({
          kind: "clean_data", host: d.host, args: { ...d.clean, only_if_logs_without_snapshot: true },
          reason: `${logsWithoutSnapshot(o) ? "3.4 left" : "if by then 3.4 has left"} transaction logs and no snapshot, on which ${d.version} refuses to start ` +
            "(ZOOKEEPER-3056): moved aside, and the server syncs a snapshot from the leader (snapshot.trust.empty is never used: ZOOKEEPER-3644)",
        });
      }
    }

    if (!isRunning(o)) {
      prepare.push(...steps, ...onNewRelease);
      starts.push({
        kind: "start", host: d.host, args: d.start,
        reason: model.hosts.some((h) => h.running) ? "ZooKeeper is not running; it joins the running ensemble" : "ZooKeeper is not running",
      });
    } else {
      const waits = steps.map((st) => (st.kind === "write_file" ? takeoverReason(input, st, st.previous) : undefined));
      const onlyTakeovers = waits.every((why) => why !== undefined);
      const pending = upgrade || !onlyTakeovers ? undefined : pendingRestart(input, d, o);
      if (upgrade || !onlyTakeovers || pending) {
        // Written right before the restart that loads it: an interrupted roll leaves the hosts after it untouched.
        rolls.push({ observed: o, steps: [...steps, ...onNewRelease], upgrade, ...(pending ? { pending } : {}) });
      } else {
        unchanged.push(d.host);
        steps.forEach((st, i) => st.kind === "write_file" && deferred.push({ host: d.host, path: st.path, reason: waits[i]! }));
      }
    }
  }

  if (input.stageOnly) {
    return { target, stages: push.length > 0 ? [{ title: PUSH_TITLE, concurrent: true, steps: push }] : [], unchanged, refusals: [] };
  }

  // While an upgrade is half done two versions serve together; gates accept both.
  const versions = [...new Set([target.version, ...model.hosts.flatMap((h) => versionOf(h) ?? [])])].sort();
  const healthy = (role: AwaitHealthyStep["role"], reason: string, caughtUp?: string): AwaitHealthyStep => ({
    kind: "await_healthy", host: "*", role, hosts: members, versions, reason, ...(caughtUp ? { caughtUp } : {}),
    timeoutMs: role === "gate" ? input.timeouts.gateMs : input.timeouts.settleMs,
  });
  // Under --limit, members left out that are not running cannot form the ensemble: awaiting it would only time out.
  const willRun = (h: string) => isRunning(observedBy.get(h)!) || starts.some((s) => s.host === h);
  const wholeEnsembleRuns = members.every(willRun);

  // A voter can be restarted only while the others form a quorum without it. The gates check this again
  // on live state; refusing here says so before anything is touched, instead of after a timeout.
  const voters = target.members.filter((m) => m.role === "participant").map((m) => m.host);
  const votersUp = voters.filter(willRun).length;
  const rollsVoter = rolls.some((r) => voters.includes(r.observed.host));
  if (rollsVoter && voters.length > 1 && spareVoters(votersUp, voters.length) < 1) {
    return refuse([{
      code: "quorum_at_risk",
      message: `restarting a voter would leave ${votersUp - 1} of ${voters.length} voters, below the quorum of ${quorumSize(voters.length)}; ` +
        `voters not running: ${voters.filter((h) => !willRun(h)).join(", ") || "none"}`,
      data: { voters: voters.length, votersUp, quorum: quorumSize(voters.length) },
    }]);
  }

  const stages: Stage[] = [];
  if (push.length > 0) stages.push({ title: PUSH_TITLE, concurrent: true, steps: push });
  if (prepare.length > 0) stages.push({ title: "prepare hosts that serve nothing yet", concurrent: true, steps: prepare });
  if (starts.length > 0) {
    const last = rolls.length === 0 && wholeEnsembleRuns
      ? [healthy("check", "done only when one leader serves and every other server follows or observes it")] : [];
    stages.push({ title: "start servers that are down", concurrent: false, steps: [...starts, ...last] });
  }
  for (const { observed: o, steps, upgrade, pending } of restartOrder(rolls, (r) => r.observed)) {
    const d = input.desired.find((x) => x.host === o.host)!;
    const mode = modeOf(o) ?? "unknown";
    const [writes, onNewRelease] = [steps.filter((s) => s.kind === "write_file"), steps.filter((s) => s.kind !== "write_file")];
    const check = healthy("check", `${o.host} must serve again before the next server is touched`, o.host);
    const undo = putBackSteps(o.host, d.stop, d.start, [...writes, ...onNewRelease], check, healthy("gate", ""));
    stages.push({
      title: `${upgrade ? "upgrade" : "roll"} ${o.host} (${mode})`,
      concurrent: false,
      steps: [
        healthy("gate", `stopping ${o.host} must leave a quorum: every other server must serve first`),
        ...writes,
        {
          kind: "stop", host: o.host, args: d.stop, mode,
          reason: upgrade ? `its turn to move to ${d.version}; one at a time, leader last`
            : pending ? `a restart is pending: ${pending}` : "its configuration changed; restarted one at a time, leader last",
        },
        ...onNewRelease,
        { kind: "start", host: o.host, args: d.start, reason: upgrade ? `on ZooKeeper ${d.version}` : "back with the new configuration" },
        check,
      ],
      undo,
    });
  }
  return { target, stages, unchanged, ...(deferred.length > 0 ? { deferred } : {}), refusals: [] };
}
