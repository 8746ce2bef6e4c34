// A membership change as a plan: the proved changes of model/membership-plan.ts
// turned into stages of steps the executor already knows, in one of two ways
// (each in its own module): dynamic.ts by reconfig (3.5.3+), static.ts by
// the manual rolling-restart procedure (3.4, or reconfig off). What both
// share is here: starting members that are down, the prepare and finish
// stages, joiners started and synced, leavers stopped. Pure.
import { type MemberSpec, type MembershipChange, planMembership } from "../../model/membership-plan.js";
import { parseMembership } from "../../model/membership.js";
import { fileContent, hasData, isRunning, installedReleases, currentRelease, modeOf } from "../../model/observed.js";
import { releaseSteps } from "../plan.js";
import { type Plan, type Refusal, type Stage, type Step, cleanDataStep, startStep, stopStep } from "../steps.js";
import { type MembershipRunInput, idsOf, liveHosts, runContext } from "./common.js";
import { reconfigSteps } from "./dynamic.js";
import { leaderRestartsFirst, staticRestartRisk, staticRolls, twoVoterList } from "./static.js";

export type { MembershipMode, MembershipRunInput } from "./common.js";

export function planMembershipRun(input: MembershipRunInput): Plan {
  const { target } = input;
  const serving = (h: string) => isRunning(input.observed.get(h)!) && modeOf(input.observed.get(h)!) !== undefined;
  // Gates wait for every member whose process runs, serving at plan time or not (one may be slow to answer
  // or between elections): a member left out of a gate could be the one a later quorum needs. The proof
  // below counts only those serving (and a leaver started again first).
  const running = new Set(input.current.filter((m) => isRunning(input.observed.get(m.host)!)).map((m) => m.id));
  const ctx = runContext(input, running);
  const { hostOf, writes, healthy } = ctx;
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

  // A member that stays but whose server is down (its host was powered off and is back, say) is started
  // as it is, and must serve again, before anything changes. Left down, it is missing from every gate
  // while the last settle waits for it, and a static restart of another member leaves the configuration
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
        startStep(m.host, hostOf.get(m.host)!.start, `${m.host} ${why}: every change below counts on it serving`),
        healthy("settle", liveHosts(input.current, running), `${m.host} must serve and hold every committed transaction before anything changes`,
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
  const risk = input.mode === "static" && changes.length > 0 ? staticRestartRisk(ctx, changes[0]!) ?? twoVoterList(changes[0]!) : undefined;
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
      const first = leaderRestartsFirst(ctx, c, title);
      if ("code" in first) return { target, stages: [], unchanged: [], refusals: [first] };
      stages.push(first);
      return { target, stages, unchanged: [], refusals: [], continues: proved.changes.map(describeChange) };
    }
    const steps: Step[] = [];
    if (c.kind === "add") {
      steps.push(...releaseSteps(d, currentRelease(o), installedReleases(o), `${h} joins on ZooKeeper ${d.version}`));
      steps.push(healthy("gate", beforeLive, `the ensemble must be healthy before ${h} joins`));
      if (isRunning(o)) steps.push(stopStep(h, d.stop, modeOf(o) ?? "unknown", `${h} runs outside the ensemble; it starts again as a joiner`));
      if (hasData(o)) steps.push(cleanDataStep(h, d.clean, `${h} joins with a clean data dir (its old state is kept aside) and syncs from the leader`));
      steps.push(...writes(h, input.filesFor(h, c.after), `${h} starts with the configuration it joins (${input.mode === "dynamic" ? "the committed one plus itself" : "the new server list"})`));
      steps.push(startStep(h, d.start, `${h} joins the running ensemble; it never starts one of its own`));
      running.add(c.server.id);
      steps.push(healthy("settle", [...beforeLive, h], `${h} must serve and hold every committed transaction before it counts`, { caughtUp: h, roles: { [h]: "learner" } }));
      if (input.mode === "dynamic") steps.push(...reconfigSteps(ctx, c, beforeLive.find((x) => x !== h) ?? beforeLive[0]!));
    } else if (c.kind === "remove") {
      steps.push(healthy("gate", beforeLive, `the ensemble must be healthy before ${h} leaves`));
      if (input.mode === "dynamic") steps.push(...reconfigSteps(ctx, c, liveHosts(c.after, running)[0]!));
    } else {
      steps.push(healthy("gate", beforeLive, `the ensemble must be healthy before ${h} changes role`));
      if (input.mode === "dynamic") steps.push(...reconfigSteps(ctx, c, liveHosts(c.after, running).find((x) => x !== h) ?? beforeLive[0]!));
    }
    stages.push({ title, concurrent: false, steps });
    if (input.mode === "static") stages.push(...staticRolls(ctx, c));
    if (c.kind === "remove") {
      // Running at plan time, or started above (down but still counted).
      const runs = isRunning(o) || down.some((m) => m.id === c.server.id);
      running.delete(c.server.id);
      if (runs) {
        stages.push({
          title: `stop ${h}, which left the ensemble`, concurrent: false,
          steps: [
            stopStep(h, d.stop, "left", `no configuration counts ${h} any more; its data is kept`),
            healthy("settle", liveHosts(c.after, running), `the ensemble serves by voters ${idsOf(c.after)} without ${h}`),
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
      steps: [healthy("settle", liveHosts(reached, running), "this change is done; the next is planned after observing the ensemble again")],
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
    steps: [healthy("settle", input.wanted.map((m) => m.host), "done only when one leader serves and every member follows or observes it")],
  });
  const renamed = input.wanted.filter((m) => input.renames?.includes(m.id)).map((m) => m.host);
  // A static list read at start-up takes the names only when each server restarts: the next round rolls them.
  const restarts = input.mode === "static" && renamed.length > 0 ? [`restart the members one at a time so that their server lines name ${renamed.join(", ")} by name`] : [];
  return { target, stages, unchanged: [], refusals: [], ...(restarts.length > 0 ? { continues: restarts } : {}) };

  function describeChange(c: MembershipChange): string {
    return `${c.kind} ${c.server.host} (myid ${c.server.id}): voters ${idsOf(c.before)} -> ${idsOf(c.after)}`;
  }
}
