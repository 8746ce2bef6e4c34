// The static way of carrying out a membership change (3.4, or reconfig
// off), pure: the manual rolling-restart procedure. A joiner starts with the
// new server list, then the others are restarted with it one at a time under
// the rolling gates, leader last; a leaving leader first restarts as it is so
// that another server leads. What the proof of model/membership-plan.ts does
// not cover, since it is about the restarts, is refused here.
import { compareText } from "../../../common/compare.js";
import type { MemberSpec, MembershipChange } from "../../model/membership-plan.js";
import { quorumSize } from "../../model/quorum.js";
import { type AwaitHealthyStep, type Refusal, type Stage, startStep, stopStep } from "../steps.js";
import { undoSteps } from "../undo.js";
import { type RunContext, idsOf, liveHosts } from "./common.js";

/**
 * The change refused before anything is touched when a restart it needs
 * would leave the list that counts without a quorum: every restart takes one
 * more server away for a while (the old list counts until the leader
 * restarts, the new one from then on), and a voter down can make that
 * impossible however the restarts are ordered.
 */
export function staticRestartRisk(ctx: RunContext, c: MembershipChange): Refusal | undefined {
  const { input, running } = ctx;
  const alive = new Set([...running, ...(c.kind === "add" ? [c.server.id] : [])]);
  for (const x of restartOrder(ctx, c, alive)) {
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
export function twoVoterList(c: MembershipChange): Refusal | undefined {
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
function restartOrder(ctx: RunContext, c: MembershipChange, alive: ReadonlySet<number>): string[] {
  const { input } = ctx;
  return liveHosts(c.after, alive).filter((x) => x !== c.server.host)
    .sort((a, b) => Number(a === input.leader) - Number(b === input.leader) || compareText(a, b));
}

/**
 * The manual rolling restart with the new server list: every other live
 * member, followers first, the leader last. Until the leader restarts it
 * counts by the old list, so the gates judge that one (a joiner serving
 * without a vote, a leaver still counted); its settle judges the new list.
 */
export function staticRolls(ctx: RunContext, c: MembershipChange): Stage[] {
  const { input, running, hostOf, writes, healthy } = ctx;
  const h = c.server.host;
  const old = [...liveHosts(c.before, running), ...(c.kind === "add" ? [h] : [])];
  const oldRoles: AwaitHealthyStep["roles"] = c.kind === "add" ? { [h]: "learner" } : {};
  return restartOrder(ctx, c, running).map((x): Stage => {
    const d = hostOf.get(x)!;
    const last = x === input.leader;
    const files = writes(x, input.filesFor(x, c.after), `${x} restarts with the new server list`);
    return {
      title: `restart ${x} with voters ${idsOf(c.after)}`,
      concurrent: false,
      steps: [
        healthy("gate", old, `stopping ${x} must leave a quorum of the list the leader counts by`, { roles: oldRoles }),
        ...files,
        stopStep(x, d.stop, last ? "leader" : "follower", "static membership: the server list is read at start-up"),
        startStep(x, d.start, `with voters ${idsOf(c.after)}`),
        last
          ? healthy("settle", liveHosts(c.after, running), `the leader restarted: the ensemble now counts by voters ${idsOf(c.after)}`, { caughtUp: x })
          : healthy("settle", old, `${x} must serve again before the next server is touched`, { caughtUp: x, roles: oldRoles }),
      ],
      // A follower that does not come back goes back to the old list, which the leader still counts by. The
      // leader restarts last, when every other member runs the new list: its old one would be the odd one
      // out, so a leader that does not come back halts the run as it is.
      ...(last ? {} : {
        undo: undoSteps(x, d.stop, d.start, files, healthy("settle", old, `${x} must serve with the list the leader counts by`, { roles: oldRoles }),
          healthy("gate", old, "", { roles: oldRoles })),
      }),
    };
  });
}

/**
 * A leaving leader, static lists: a follower restarted with a list that
 * leaves the leader out cannot find it (a 3.4 server talks only to the
 * servers of its own list) and never serves again. So the leader first
 * restarts as it is: stopped, it waits until the others have elected one of
 * themselves, then comes back to follow, and the change is planned again
 * from there with it a follower. (Stopping it for good first would leave too
 * few voters to restart the others in ensembles of 3 or 4.)
 */
export function leaderRestartsFirst(ctx: RunContext, c: MembershipChange, title: string): Stage | Refusal {
  const { running, hostOf, healthy } = ctx;
  const h = c.server.host;
  const d = hostOf.get(h)!;
  const beforeLive = liveHosts(c.before, running);
  const votersLive = c.before.filter((m: MemberSpec) => m.role === "participant" && running.has(m.id)).length;
  if (votersLive - 1 < quorumSize(c.before.filter((m) => m.role === "participant").length)) {
    return {
      code: "quorum_at_risk", host: h,
      message: `${h} leads and leaves; with static server lists it must restart once so that another server leads, and without it ` +
        `${votersLive - 1} voter(s) of ${idsOf(c.before)} serve, below the quorum: bring the voters that are down back first, or make the change by reconfig (3.5.3+, zookeeper.reconfig)`,
      data: { change: c.kind, server: h, votersLive, voters: c.before.length },
    };
  }
  return {
    title: `${title}: ${h} leads, so it restarts first and another server takes the lead`, concurrent: false,
    steps: [
      healthy("gate", beforeLive, `restarting ${h}, the leader, must leave a quorum of the list in force`),
      stopStep(h, d.stop, "leader", "it leaves, and a list without the leader could not follow it: it restarts as it is first"),
      // Started at once it could win the election again (equal zxids go to the highest id): it waits until another leads.
      healthy("settle", beforeLive.filter((x) => x !== h), `another server leads by the list in force while ${h} is down`),
      startStep(h, d.start, "as it was, to follow the leader the others elected"),
      healthy("settle", beforeLive, `another server leads and ${h} follows again`, { caughtUp: h, roles: { [h]: "learner" } }),
    ],
  };
}
