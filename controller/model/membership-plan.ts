// Membership changes, one voter at a time, with the proof each step must
// pass. The planner (planMembership) and the checker (checkMembershipPlan)
// are separate on purpose: the checker is what the property tests run over
// every generated plan, and what the planner runs over its own output before
// returning it, so a plan that breaks an invariant is refused, never run.
// Pure.
import { majoritiesIntersect, quorumSize } from "./quorum.js";
import type { ServerRole } from "./membership.js";

export interface MemberSpec {
  id: number;
  /** The host's name in the inventory. */
  host: string;
  role: ServerRole;
}

export interface MembershipState {
  /** The configuration the servers run now (committed). */
  current: readonly MemberSpec[];
  /** The one the inventory asks for. */
  target: readonly MemberSpec[];
  /** Ids of servers that serve now (leading, following, observing). */
  live: ReadonlySet<number>;
  /** The leader's id, removed last among the leaving voters. */
  leader?: number;
  /** The largest myid this ensemble ever used (from zkfleet's record): new ids must be larger. */
  maxIdEverUsed?: number;
  /** Ids the record reserved for this very target (a change under way): they may join. */
  reservedIds?: ReadonlySet<number>;
}

/**
 * One change of one server: it joins, leaves, or changes role (observer to
 * voter or back; it keeps running). A joiner is started (with `before` plus
 * itself) and synced before its add.
 */
export interface MembershipChange {
  kind: "add" | "remove" | "role";
  server: MemberSpec;
  before: MemberSpec[];
  after: MemberSpec[];
  /** Servers serving when the change is made (a joiner counts: it was started and synced first). */
  live: number[];
}

export type MembershipPlan = { ok: true; changes: MembershipChange[] } | { ok: false; reasons: string[] };

const voters = (c: readonly MemberSpec[]) => c.filter((m) => m.role === "participant").map((m) => m.id);
const byId = (a: MemberSpec, b: MemberSpec) => a.id - b.id;
const describe = (c: readonly MemberSpec[]) => `{${voters(c).join(",")}}${c.some((m) => m.role === "observer") ? ` + observers {${c.filter((m) => m.role === "observer").map((m) => m.id).join(",")}}` : ""}`;

/**
 * Everything that must hold of a plan, checked on its data alone:
 * - each change adds or removes exactly one server, and so at most one voter;
 * - every majority of the voters before intersects every majority after;
 * - the servers live at the change form a quorum of the voters before and of the voters after;
 * - a joiner joins a running quorum: it is not counted before it is added, and it was started with `before` plus itself;
 * - a removed server is never counted live again (it is not needed for any later quorum);
 * - the changes chain from `current` and end at `target`.
 */
export function checkMembershipPlan(state: MembershipState, changes: readonly MembershipChange[]): string[] {
  const problems: string[] = [];
  let config = [...state.current].sort(byId);
  const removed = new Set<number>();
  changes.forEach((c, i) => {
    const at = `change ${i + 1} (${c.kind} ${c.server.id})`;
    if (JSON.stringify([...c.before].sort(byId)) !== JSON.stringify(config)) problems.push(`${at}: does not start from the configuration the previous change left`);
    const b = voters(c.before);
    const a = voters(c.after);
    const entries = (x: readonly MemberSpec[]) => new Set(x.map((m) => `${m.id}:${m.host}:${m.role}`));
    const changed = new Set([...entries(c.before)].filter((e) => !entries(c.after).has(e)).concat([...entries(c.after)].filter((e) => !entries(c.before).has(e))).map((e) => e.split(":")[0]));
    if (changed.size !== 1 || !changed.has(String(c.server.id))) problems.push(`${at}: changes ${changed.size} servers at once; one at a time`);
    const voterDiff = b.filter((id) => !a.includes(id)).length + a.filter((id) => !b.includes(id)).length;
    if (voterDiff > 1) problems.push(`${at}: changes ${voterDiff} voters at once; one at a time`);
    if (b.length > 0 && a.length > 0 && !majoritiesIntersect(b, a)) problems.push(`${at}: a majority of ${describe(c.before)} and one of ${describe(c.after)} can be disjoint (two leaders)`);
    if (a.length === 0) problems.push(`${at}: leaves no voter`);
    const live = new Set(c.live);
    const liveBefore = b.filter((id) => live.has(id) && !(c.kind === "add" && id === c.server.id)).length;
    const liveAfter = a.filter((id) => live.has(id)).length;
    if (liveBefore < quorumSize(b.length)) problems.push(`${at}: ${liveBefore} of ${b.length} voters of ${describe(c.before)} live, below its quorum of ${quorumSize(b.length)}`);
    if (liveAfter < quorumSize(a.length)) problems.push(`${at}: ${liveAfter} of ${a.length} voters of ${describe(c.after)} live, below its quorum of ${quorumSize(a.length)}`);
    if (c.kind === "add" && c.before.some((m) => m.id === c.server.id)) problems.push(`${at}: the joiner is already in the configuration it joins`);
    for (const id of c.live) if (removed.has(id)) problems.push(`${at}: counts server ${id} live, which an earlier change removed`);
    if (c.kind === "remove") removed.add(c.server.id);
    config = [...c.after].sort(byId);
  });
  if (JSON.stringify(config) !== JSON.stringify([...state.target].sort(byId))) {
    problems.push(`the changes end at ${describe(config)}, not at the target ${describe(state.target)}`);
  }
  return problems;
}

/**
 * Changes that take `current` to `target`. A server whose id stays but whose
 * host or role changes is removed and added again under the same id only for
 * a role change; a host that moves needs a new id (refused otherwise). Order:
 * observers joining first (they cost no quorum), then down voters leave
 * (they only weaken the ensemble), then one voter joins and one leaves in
 * turn, so the ensemble never grows or shrinks by more than one; the leader
 * leaves last; observers leaving last.
 */
export function planMembership(state: MembershipState): MembershipPlan {
  const reasons: string[] = [];
  const cur = new Map(state.current.map((m) => [m.id, m]));
  const tgt = new Map(state.target.map((m) => [m.id, m]));
  const maxUsed = Math.max(state.maxIdEverUsed ?? 0, ...state.current.map((m) => m.id));
  for (const t of state.target) {
    const c = cur.get(t.id);
    if (c && c.host !== t.host) {
      reasons.push(`myid ${t.id} moves from ${c.host} to ${t.host}: a new server needs a new myid, larger than any used before (${maxUsed + 1} or more)`);
    }
    if (!c && t.id <= maxUsed && !state.reservedIds?.has(t.id)) {
      reasons.push(`${t.host} joins with myid ${t.id}, which the ensemble used before (largest used: ${maxUsed}); give it ${maxUsed + 1} or more so no server mistakes it for the old one`);
    }
  }
  if (voters(state.target).length === 0) reasons.push("the target has no voter");
  if (reasons.length > 0) return { ok: false, reasons };

  const changes: MembershipChange[] = [];
  let config = [...state.current].sort(byId);
  const live = new Set(state.live);
  const push = (kind: MembershipChange["kind"], m: MemberSpec, after: MemberSpec[]) => {
    if (kind === "add") live.add(m.id);
    changes.push({ kind, server: m, before: config, after, live: [...live].sort((a, b) => a - b) });
    if (kind === "remove") live.delete(m.id);
    config = after;
  };
  const add = (m: MemberSpec) => push("add", m, [...config, m].sort(byId));
  const remove = (m: MemberSpec) => push("remove", m, config.filter((x) => x.id !== m.id));
  const setRole = (m: MemberSpec) => push("role", m, config.map((x) => (x.id === m.id ? m : x)));

  const roleChanges = state.target.filter((t) => cur.has(t.id) && cur.get(t.id)!.role !== t.role);
  const joining = state.target.filter((t) => !cur.has(t.id)).sort(byId);
  const leaving = state.current.filter((c) => !tgt.has(c.id));
  const leaveRank = (m: MemberSpec) => (!state.live.has(m.id) ? 0 : m.id === state.leader ? 2 : 1);
  // A voter becoming an observer leaves the voters; an observer becoming a voter joins them.
  type Move = { m: MemberSpec; act: () => void };
  const out: Move[] = [
    ...leaving.filter((m) => m.role === "participant").map((m) => ({ m, act: () => remove(m) })),
    ...roleChanges.filter((t) => t.role === "observer").map((t) => ({ m: cur.get(t.id)!, act: () => setRole(t) })),
  ].sort((a, b) => leaveRank(a.m) - leaveRank(b.m) || a.m.id - b.m.id);
  const into: Move[] = [
    ...joining.filter((m) => m.role === "participant").map((m) => ({ m, act: () => add(m) })),
    ...roleChanges.filter((t) => t.role === "participant").map((t) => ({ m: t, act: () => setRole(t) })),
  ].sort((a, b) => a.m.id - b.m.id);

  for (const m of joining.filter((x) => x.role === "observer")) add(m);
  while (out.length > 0 && !state.live.has(out[0]!.m.id)) out.shift()!.act();
  // Joins and leaves alternate; a leave goes first where the ensemble is larger than the target, so that
  // plans made one change at a time (static lists) never grow it past one more than the larger of the two.
  while (into.length > 0 || out.length > 0) {
    const larger = voters(config).length > voters(state.target).length;
    const next = (larger && out.length > 0) || into.length === 0 ? out : into;
    next.shift()!.act();
  }
  for (const m of leaving.filter((x) => x.role === "observer")) remove(m);

  const problems = checkMembershipPlan(state, changes);
  if (problems.length > 0) {
    return { ok: false, reasons: [`the change from ${describe(state.current)} to ${describe(state.target)} cannot be made safely with the servers live now (${[...state.live].sort((a, b) => a - b).join(", ") || "none"}):`, ...problems] };
  }
  return { ok: true, changes };
}
