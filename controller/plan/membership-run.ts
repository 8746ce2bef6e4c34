// A membership change as a plan: the proved changes of model/membership-plan.ts
// turned into stages of steps the executor already knows, in one of two ways.
// Dynamic (3.5.3+ with reconfig): a joiner is started with the committed
// configuration plus itself and synced, then added by `reconfig`; a leaving
// server is removed by `reconfig`, then stopped; after each, the new
// configuration must be reported by every member and a write must commit
// under it. Static (3.4, or reconfig off): seed 004's way, a joiner starts
// with the new server list, then the others are restarted with it one at a
// time under the rolling gates, leader last; a leaving server is stopped once
// the others no longer count it. Pure.
import { unifiedDiff } from "../../common/diff.js";
import { type MemberSpec, type MembershipChange, planMembership } from "../model/membership-plan.js";
import { quorumSize } from "../model/quorum.js";
import { parseMembership } from "../model/membership.js";
import { type ObservedHost, fileContent, hasData, isRunning, installedReleases, currentRelease, modeOf } from "../model/observed.js";
import type { EnsembleTarget } from "../model/target.js";
import type { DesiredFile, DesiredHost } from "./plan.js";
import type { AwaitHealthyStep, Plan, Refusal, Stage, Step } from "./steps.js";
import { putBackSteps } from "./put-back.js";
import { compareText } from "../../common/compare.js";

export type MembershipMode = "dynamic" | "static";

export interface MembershipRunInput {
  /** Every host involved (present and leaving), so gates can judge the configurations on the way. */
  target: EnsembleTarget;
  mode: MembershipMode;
  current: MemberSpec[];
  wanted: MemberSpec[];
  /** Every inventory host, present or leaving, by name. */
  desired: Map<string, DesiredHost>;
  observed: Map<string, ObservedHost>;
  leader?: string;
  maxIdEverUsed?: number;
  reservedIds?: ReadonlySet<number>;
  /** A host's files for a configuration (server lines, dynamic file, /etc/hosts naming every host involved). */
  filesFor: (host: string, servers: readonly MemberSpec[]) => DesiredFile[];
  /** The files every host ends with (its own target files; /etc/hosts with the target's names only). */
  finalHostsFile?: (host: string) => DesiredFile | undefined;
  /**
   * /etc/hosts once these servers have left and stopped: a name that moves
   * (listed twice in the inventory) maps to its new server. Undefined where
   * nothing changes for the host.
   */
  hostsFileAfter?: (host: string, left: readonly string[]) => DesiredFile | undefined;
  /** A member's own files as the inventory renders the target (server lines by their final names). */
  finalFilesFor?: (host: string) => DesiredFile[];
  /**
   * Ids of target members whose server line names them by address (they
   * joined while a server moving under their name still served). Static
   * lists take the name at the restarts that follow; a reconfig'd line
   * keeps the address (see commands/membership.ts).
   */
  renames?: number[];
  /** The record of the membership zkfleet applied, kept on every host (another controller reads it too). */
  record: (host: string, servers: readonly MemberSpec[]) => DesiredFile;
  /** ZooKeeper's form of a server line for reconfig, and the canonical one to compare what servers report. */
  spec: (m: MemberSpec) => string;
  canonical: (m: MemberSpec) => string;
  versions: string[];
  timeouts: { gateMs: number; settleMs: number };
  /** What clients should connect to once the target is reached (names where /etc/hosts is managed). */
  clientConnect: string;
}

const idsOf = (c: readonly MemberSpec[]) => `{${c.filter((m) => m.role === "participant").map((m) => m.id).join(",")}}`;

export function planMembershipRun(input: MembershipRunInput): Plan {
  const { target } = input;
  const hostOf = new Map([...input.desired.values()].map((d) => [d.host, d]));
  const serving = (h: string) => isRunning(input.observed.get(h)!) && modeOf(input.observed.get(h)!) !== undefined;
  // Gates wait for every member whose process runs, serving at plan time or not (one may be slow to answer
  // or between elections): a member left out of a gate could be the one a later quorum needs. The proof
  // below counts only those serving (and a leaver started again first).
  const running = new Set(input.current.filter((m) => isRunning(input.observed.get(m.host)!)).map((m) => m.id));
  // With static lists a leaving voter also counts until every member has restarted without it. One that a
  // run stopped in the middle of its restart (killed there: its zoo.cfg already lists another membership
  // than the one in force) is started again too, or the restarts ahead could not keep a quorum. Any other
  // leaver that is down leaves first, or the change is refused below (quorum_at_risk).
  const staying = (m: MemberSpec) => input.wanted.some((w) => w.id === m.id && w.host === m.host);
  const ids = (servers: readonly { id: number }[]) => servers.map((x) => x.id).sort((a, b) => a - b).join(",");
  const midRestart = (m: MemberSpec) => {
    const cfg = fileContent(input.observed.get(m.host)!, hostOf.get(m.host)!.stop.config_path);
    return cfg !== null && ids(parseMembership(cfg).servers) !== ids(input.current);
  };
  // The agent on its host may also have started it again after the controller died: then it runs, not yet serving.
  const resumed = input.mode === "static" ? input.current.filter((m) => !staying(m) && !serving(m.host) && midRestart(m)) : [];
  const down = input.current.filter((m) => !running.has(m.id) && (staying(m) || resumed.includes(m)));
  // Such a leaver is checked serving before any change (started and checked, or waited for by the first gate,
  // which waits for every running member): the proof counts it live, so that it leaves in the order it would
  // have, not first as a down voter would (3 -> 2 with static lists cannot rejoin).
  const live = new Set([...input.current.filter((m) => serving(m.host)).map((m) => m.id), ...resumed.map((m) => m.id)]);
  const leaderId = input.current.find((m) => m.host === input.leader)?.id;
  const proved = planMembership({
    current: input.current, target: input.wanted, live, ...(leaderId !== undefined ? { leader: leaderId } : {}),
    ...(input.maxIdEverUsed !== undefined ? { maxIdEverUsed: input.maxIdEverUsed } : {}),
    ...(input.reservedIds ? { reservedIds: input.reservedIds } : {}),
  });
  if (!proved.ok) {
    const refusal: Refusal = { code: "unsafe_membership_change", message: proved.reasons.join("\n         "), data: { reasons: proved.reasons } };
    return { target, stages: [], unchanged: [], refusals: [refusal] };
  }

  // What each host holds as the plan proceeds: a write's `previous` is what the step before left.
  const content = new Map<string, string | null>();
  const contentOf = (host: string, path: string) => {
    const key = `${host}\0${path}`;
    if (!content.has(key)) content.set(key, fileContent(input.observed.get(host)!, path));
    return content.get(key)!;
  };
  const writes = (host: string, files: readonly DesiredFile[], why: string): Step[] => files.flatMap((f): Step[] => {
    const before = contentOf(host, f.path);
    if (before === f.content) return [];
    content.set(`${host}\0${f.path}`, f.content);
    return [{
      kind: "write_file", host, path: f.path, content: f.content, mode: f.mode, stateDir: hostOf.get(host)!.stateDir,
      diff: unifiedDiff(f.path, before, f.content), before: before === null ? "absent" : "present", previous: before, reason: why,
    }];
  });
  const healthy = (role: AwaitHealthyStep["role"], hosts: string[], reason: string, extra: Partial<AwaitHealthyStep> = {}): AwaitHealthyStep => ({
    kind: "await_healthy", host: "*", role, hosts, versions: input.versions, reason,
    timeoutMs: role === "gate" ? input.timeouts.gateMs : input.timeouts.settleMs, ...extra,
  });
  const liveHosts = (config: readonly MemberSpec[], alive: ReadonlySet<number>) => config.filter((m) => alive.has(m.id)).map((m) => m.host);
  // A member that stays but whose server is down (its host was powered off and is back, say) is started
  // as it is, and must serve again, before anything changes. Left down, it is missing from every gate
  // while the last check waits for it, and a static restart of another member leaves the configuration
  // the leader counts by without a quorum. Its own files are what it last ran with: a 3.5+ server learns
  // newer configurations from the leader, and a 3.4 one is rewritten by the restarts below.

  const stages: Stage[] = [];
  const everyone = [...input.desired.keys()];
  // Hosts a server runs on or joins: a leaving host whose server has stopped is done with (its /etc/hosts
  // keeps naming itself, which a block naming its successor would contradict).
  const involved = everyone.filter((h) => isRunning(input.observed.get(h)!) || input.wanted.some((m) => m.host === h));
  // Every name involved resolves everywhere before any server dials it; no server restarts for that.
  const names = involved.flatMap((h) => writes(h, input.filesFor(h, input.current).filter((f) => f.path === "/etc/hosts"), "every server involved must resolve every name before the change"));
  // Every id the run may use is recorded first: an interrupted run never lets a later one reuse it.
  const recordStart = involved.flatMap((h) => writes(h, [input.record(h, input.wanted)], "the ids this change uses, recorded before any is used"));
  if (names.length + recordStart.length > 0) stages.push({ title: "prepare: names in /etc/hosts, the membership record", concurrent: true, steps: [...names, ...recordStart] });
  for (const m of down) {
    running.add(m.id);
    // Where a role change is pending the member still serves in its current role.
    const roles = Object.fromEntries(input.current.filter((c) => running.has(c.id) && target.members.find((t) => t.host === c.host)?.role !== c.role).map((c) => [c.host, c.role]));
    const why = staying(m) ? "stays in the ensemble" : "is counted by the server lists in force until it has left";
    stages.push({
      title: `start ${m.host} (myid ${m.id}, ${m.role}), down but ${staying(m) ? "staying in the ensemble" : "still counted"}`, concurrent: false,
      steps: [
        { kind: "start", host: m.host, args: hostOf.get(m.host)!.start, reason: `${m.host} ${why}: every change below counts on it serving` },
        healthy("check", liveHosts(input.current, running), `${m.host} must serve and hold every committed transaction before anything changes`,
          { caughtUp: m.host, ...(Object.keys(roles).length > 0 ? { roles } : {}) }),
      ],
    });
  }

  // Static: a leader restart elects a leader nobody can name in advance, and the next change's
  // restarts must put that one last. So one change per plan; apply plans the next afresh.
  const changes = input.mode === "static" ? proved.changes.slice(0, 1) : proved.changes;
  const later = proved.changes.slice(changes.length);
  // The proof covers the change, not the static way of making it: every restart below takes one more
  // server away for a while, during which the others must form a quorum of the list that counts (the
  // old one until the leader restarts, the new one from then on). A voter down (a leaver, by now) can
  // make that impossible however the restarts are ordered: refused before anything is touched. (With
  // every voter up only one or two voters fall short, where no restart can keep a quorum anyway.)
  const risk = input.mode === "static" && changes.length > 0 ? staticRestartRisk(changes[0]!) ?? twoVoterList(changes[0]!) : undefined;
  if (risk) return { target, stages: [], unchanged: [], refusals: [risk] };
  const left: string[] = [];
  for (const c of changes) {
    const h = c.server.host;
    const d = hostOf.get(h)!;
    const o = input.observed.get(h)!;
    const quorum = (x: readonly MemberSpec[]) => Math.floor(x.filter((m) => m.role === "participant").length / 2) + 1;
    const title = `${c.kind} ${h} (myid ${c.server.id}, ${c.server.role}): voters ${idsOf(c.before)} (quorum ${quorum(c.before)}) -> ` +
      `${idsOf(c.after)} (quorum ${quorum(c.after)}), relying on live {${c.live.join(",")}}`;
    const beforeLive = liveHosts(c.before, running);
    if (input.mode === "static" && c.kind === "remove" && h === input.leader && isRunning(o)) {
      // A follower restarted with a list that leaves the leader out cannot find it (a 3.4 server talks only
      // to the servers of its own list) and never serves again. So a leaving leader first restarts as it
      // is: stopped, it waits until the others have elected one of themselves, then comes back to follow, and the change is planned
      // again from there with it a follower. (Stopping it for good first would leave too few voters to
      // restart the others in ensembles of 3 or 4.)
      const votersLive = c.before.filter((m) => m.role === "participant" && running.has(m.id)).length;
      if (votersLive - 1 < quorumSize(c.before.filter((m) => m.role === "participant").length)) {
        return { target, stages: [], unchanged: [], refusals: [{
          code: "quorum_at_risk", host: h,
          message: `${h} leads and leaves; with static server lists it must restart once so that another server leads, and without it ` +
            `${votersLive - 1} voter(s) of ${idsOf(c.before)} serve, below the quorum: bring the voters that are down back first, or make the change by reconfig (3.5.3+, zookeeper.reconfig)`,
          data: { change: c.kind, server: h, votersLive, voters: c.before.length },
        }] };
      }
      stages.push({
        title: `${title}: ${h} leads, so it restarts first and another server takes the lead`, concurrent: false,
        steps: [
          healthy("gate", beforeLive, `restarting ${h}, the leader, must leave a quorum of the list in force`),
          { kind: "stop", host: h, args: d.stop, mode: "leader", reason: "it leaves, and a list without the leader could not follow it: it restarts as it is first" },
          // Started at once it could win the election again (equal zxids go to the highest id): it waits until another leads.
          healthy("check", beforeLive.filter((x) => x !== h), `another server leads by the list in force while ${h} is down`),
          { kind: "start", host: h, args: d.start, reason: "as it was, to follow the leader the others elected" },
          healthy("check", beforeLive, `another server leads and ${h} follows again`, { caughtUp: h, roles: { [h]: "learner" } }),
        ],
      });
      return { target, stages, unchanged: [], refusals: [], continues: proved.changes.map(describeChange) };
    }
    const steps: Step[] = [];
    if (c.kind === "add") {
      if (!installedReleases(o).includes(d.version) || currentRelease(o) !== d.version) {
        steps.push({
          kind: "install", host: h, version: d.version, tarball: d.tarball, transferDir: d.transferDir, installDir: d.installDir,
          ...(d.preinstalled ? { preinstalled: d.preinstalled } : {}), setCurrent: true,
          before: { current: currentRelease(o), installed: installedReleases(o) }, reason: `${h} joins on ZooKeeper ${d.version}`,
        });
      }
      steps.push(healthy("gate", beforeLive, `the ensemble must be healthy before ${h} joins`));
      if (isRunning(o)) steps.push({ kind: "stop", host: h, args: d.stop, mode: modeOf(o) ?? "unknown", reason: `${h} runs outside the ensemble; it starts again as a joiner` });
      if (hasData(o)) steps.push({ kind: "clean_data", host: h, args: d.clean, reason: `${h} joins with a clean data dir (its old state is kept aside) and syncs from the leader` });
      steps.push(...writes(h, input.filesFor(h, c.after), `${h} starts with the configuration it joins (${input.mode === "dynamic" ? "the committed one plus itself" : "the new server list"})`));
      steps.push({ kind: "start", host: h, args: d.start, reason: `${h} joins the running ensemble; it never starts one of its own` });
      running.add(c.server.id);
      steps.push(healthy("check", [...beforeLive, h], `${h} must serve and hold every committed transaction before it counts`, { caughtUp: h, roles: { [h]: "learner" } }));
      if (input.mode === "dynamic") steps.push(...reconfig(c, beforeLive.find((x) => x !== h) ?? beforeLive[0]!));
    } else if (c.kind === "remove") {
      steps.push(healthy("gate", beforeLive, `the ensemble must be healthy before ${h} leaves`));
      if (input.mode === "dynamic") steps.push(...reconfig(c, liveHosts(c.after, running)[0]!));
    } else {
      steps.push(healthy("gate", beforeLive, `the ensemble must be healthy before ${h} changes role`));
      if (input.mode === "dynamic") steps.push(...reconfig(c, liveHosts(c.after, running).find((x) => x !== h) ?? beforeLive[0]!));
    }
    stages.push({ title, concurrent: false, steps });
    if (input.mode === "static") stages.push(...staticRolls(c));
    if (c.kind === "remove") {
      // Running at plan time, or started above (down but still counted).
      const runs = isRunning(o) || down.some((m) => m.id === c.server.id);
      running.delete(c.server.id);
      if (runs) {
        stages.push({
          title: `stop ${h}, which left the ensemble`, concurrent: false,
          steps: [
            { kind: "stop", host: h, args: d.stop, mode: "left", reason: `no configuration counts ${h} any more; its data is kept` },
            healthy("check", liveHosts(c.after, running), `the ensemble serves by voters ${idsOf(c.after)} without ${h}`),
          ],
        });
      }
      // No server line names a server that left, so its name, where it moves, can map to its new server now:
      // clients on the name reach a member again instead of a stopped server until the end of the run.
      left.push(h);
      const moved = involved.flatMap((x) => {
          const f = input.hostsFileAfter?.(x, left);
          return f ? writes(x, [f], `${h} left: a name it served under now maps to the server that took it over`) : [];
        });
      if (moved.length > 0) stages.push({ title: `names: ${h}'s name now maps to the server that took it over`, concurrent: true, steps: moved });
    }
  }

  const reached = changes.at(-1)?.after ?? input.current;
  if (later.length > 0) {
    stages.push({
      title: `check the ensemble with voters ${idsOf(reached)}`, concurrent: false,
      steps: [healthy("check", liveHosts(reached, running), "this change is done; the next is planned after observing the ensemble again")],
    });
    return { target, stages, unchanged: [], refusals: [], continues: later.map(describeChange) };
  }
  // The end state: each member's own files as the inventory renders them, /etc/hosts naming the target only, the record.
  // No server line names a server that left by now, so a name moving to its new server is safe to map everywhere.
  const finals = everyone.flatMap((h) => {
    const own = input.finalFilesFor?.(h) ?? input.filesFor(h, input.wanted);
    const files = [
      ...(input.wanted.some((m) => m.host === h) && input.mode === "static" ? own.filter((f) => f.path !== "/etc/hosts") : []),
      ...(input.finalHostsFile?.(h) ? [input.finalHostsFile(h)!] : []),
    ];
    return writes(h, files, "the end state: names of the ensemble's members only");
  });
  if (finals.length > 0) stages.push({ title: "finish: /etc/hosts without the servers that left", concurrent: true, steps: finals });
  stages.push({
    title: `check the ensemble as the inventory asks for it; clients should now connect to ${input.clientConnect}`, concurrent: false,
    steps: [healthy("check", input.wanted.map((m) => m.host), "done only when one leader serves and every member follows or observes it")],
  });
  const renamed = input.wanted.filter((m) => input.renames?.includes(m.id)).map((m) => m.host);
  // A static list read at start-up takes the names only when each server restarts: the next round rolls them.
  const restarts = input.mode === "static" && renamed.length > 0 ? [`restart the members one at a time so that their server lines name ${renamed.join(", ")} by name`] : [];
  return { target, stages, unchanged: [], refusals: [], ...(restarts.length > 0 ? { continues: restarts } : {}) };

  function describeChange(c: MembershipChange): string {
    return `${c.kind} ${c.server.host} (myid ${c.server.id}): voters ${idsOf(c.before)} -> ${idsOf(c.after)}`;
  }

  function reconfig(c: MembershipChange, via: string): Step[] {
    const d = hostOf.get(via)!;
    const server = `${target.members.find((m) => m.host === via)!.probe.address}:${target.members.find((m) => m.host === via)!.probe.port}`;
    const expect = c.after.map(input.canonical);
    return [
      {
        kind: "reconfig", host: via, server, installDir: d.installDir, ...(d.preinstalled ? { preinstalled: d.preinstalled } : {}),
        add: c.kind === "remove" ? [] : [input.spec(c.server)], remove: c.kind === "remove" ? [c.server.id] : [], expect,
        reason: c.kind === "add" ? `${c.server.host} counts from now on` : c.kind === "remove" ? `${c.server.host} no longer counts` : `${c.server.host} becomes ${c.server.role === "observer" ? "an observer" : "a voter"}`,
      },
      {
        kind: "await_config", host: "*", hosts: liveHosts(c.after, running), expect, timeoutMs: input.timeouts.settleMs,
        reason: "every member must run the new configuration, and a write must commit under it, before the next change",
      },
    ];
  }

  function staticRestartRisk(c: MembershipChange): Refusal | undefined {
    const alive = new Set([...running, ...(c.kind === "add" ? [c.server.id] : [])]);
    for (const x of restartOrder(c, alive)) {
      // A joiner follows without a vote until the leader restarts with it listed; a leaver votes until then.
      const counting = x === input.leader ? c.after : c.before;
      const voters = counting.filter((m) => m.role === "participant");
      const left = voters.filter((m) => alive.has(m.id) && m.host !== x);
      const downs = voters.filter((m) => !alive.has(m.id)).map((m) => m.host);
      if (downs.length > 0 && left.length < quorumSize(voters.length)) {
        return {
          code: "quorum_at_risk", host: x,
          message: `${c.kind} ${c.server.host} with static server lists restarts ${x}, which would leave ${left.length} of the ${voters.length} voters ` +
            `${idsOf(counting)} serving while ${downs.join(", ")} ${downs.length === 1 ? "is" : "are"} down, below the quorum of ${quorumSize(voters.length)}: ` +
            "bring it back first (apply with the inventory still listing it present starts it), or make the change by reconfig (3.5.3+, zookeeper.reconfig)",
          data: { change: c.kind, server: c.server.host, restarts: x, voters: voters.length, left: left.length, quorum: quorumSize(voters.length), down: downs },
        };
      }
    }
    return undefined;
  }

  /**
   * A voter leaving a static ensemble of three: the follower restarted with
   * the two-server list hears only the leader in its election, short of the
   * two votes its list needs, and never rejoins (seen in the lab on 3.4.13).
   */
  function twoVoterList(c: MembershipChange): Refusal | undefined {
    const after = c.after.filter((m) => m.role === "participant");
    if (c.kind !== "remove" || c.server.role !== "participant" || after.length !== 2) return undefined;
    return {
      code: "unsafe_membership_change", host: c.server.host,
      message: `${c.kind} ${c.server.host} would leave static server lists of two voters ${idsOf(c.after)}: a server restarted with such a list ` +
        "finds no quorum to rejoin while the leader still counts three; keep three voters (add the new one first), or make the change by reconfig (3.5.3+, zookeeper.reconfig)",
      data: { change: c.kind, server: c.server.host, voters: after.length },
    };
  }

  /** The static restarts of a change: every other live member of the new list, followers first, the leader last. */
  function restartOrder(c: MembershipChange, alive: ReadonlySet<number>): string[] {
    return liveHosts(c.after, alive).filter((x) => x !== c.server.host)
      .sort((a, b) => Number(a === input.leader) - Number(b === input.leader) || compareText(a, b));
  }

  /**
   * Seed 004's rolling restart with the new server list: every other live
   * member, followers first, the leader last. Until the leader restarts it
   * counts by the old list, so the gates judge that one (a joiner serving
   * without a vote, a leaver still counted); its check judges the new list.
   */
  function staticRolls(c: MembershipChange): Stage[] {
    const h = c.server.host;
    const old = [...liveHosts(c.before, running), ...(c.kind === "add" ? [h] : [])];
    const oldRoles: AwaitHealthyStep["roles"] = c.kind === "add" ? { [h]: "learner" } : {};
    return restartOrder(c, running).map((x): Stage => {
      const d = hostOf.get(x)!;
      const last = x === input.leader;
      const files = writes(x, input.filesFor(x, c.after), `${x} restarts with the new server list`);
      return {
        title: `restart ${x} with voters ${idsOf(c.after)}`,
        concurrent: false,
        steps: [
          healthy("gate", old, `stopping ${x} must leave a quorum of the list the leader counts by`, { roles: oldRoles }),
          ...files,
          { kind: "stop", host: x, args: d.stop, mode: last ? "leader" : "follower", reason: "static membership: the server list is read at start-up" },
          { kind: "start", host: x, args: d.start, reason: `with voters ${idsOf(c.after)}` },
          last
            ? healthy("check", liveHosts(c.after, running), `the leader restarted: the ensemble now counts by voters ${idsOf(c.after)}`, { caughtUp: x })
            : healthy("check", old, `${x} must serve again before the next server is touched`, { caughtUp: x, roles: oldRoles }),
        ],
        // A follower that does not come back goes back to the old list, which the leader still counts by. The
        // leader restarts last, when every other member runs the new list: its old one would be the odd one
        // out, so a leader that does not come back halts the run as it is.
        ...(last ? {} : {
          undo: putBackSteps(x, d.stop, d.start, files, healthy("check", old, `${x} must serve with the list the leader counts by`, { roles: oldRoles }),
            healthy("gate", old, "", { roles: oldRoles })),
        }),
      };
    });
  }
}
