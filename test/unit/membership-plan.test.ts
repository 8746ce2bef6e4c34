// The membership planner's proof, over thousands of generated ensembles
// (1-9 voters, observers, some servers down) and targets: every plan it
// returns passes the invariant checker, which reads only the plan's data;
// a plan is refused only when no order is safe with the servers live now;
// and a planner made deliberately unsafe (two voters per change) is caught.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type MemberSpec, type MembershipChange, type MembershipState, checkMembershipPlan, planMembership,
} from "../../controller/model/membership-plan.js";
import { quorumSize } from "../../controller/model/quorum.js";

const member = (id: number, role: MemberSpec["role"] = "participant"): MemberSpec => ({ id, host: `zk${id}`, role });
const voters = (ids: number[]) => ids.map((id) => member(id));

const ensembles: fc.Arbitrary<MembershipState> = fc.record({
  nVoters: fc.integer({ min: 1, max: 9 }),
  nObservers: fc.integer({ min: 0, max: 2 }),
  down: fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }),
  keep: fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }),
  flip: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 11, maxLength: 11 }),
  newVoters: fc.integer({ min: 0, max: 5 }),
  newObservers: fc.integer({ min: 0, max: 1 }),
  leaderIndex: fc.integer({ min: 0, max: 8 }),
}).map(({ nVoters, nObservers, down, keep, flip, newVoters, newObservers, leaderIndex }) => {
  const current = [
    ...Array.from({ length: nVoters }, (_, i) => member(i + 1)),
    ...Array.from({ length: nObservers }, (_, i) => member(nVoters + i + 1, "observer")),
  ];
  const live = new Set(current.filter((m, i) => !down[i] || i % 4 !== 0).map((m) => m.id));
  const next = current.length + 1;
  const target = [
    // Some stay, a few change role (flip === 0), the rest leave.
    ...current.filter((_, i) => keep[i]).map((m, i) => (flip[i] === 0 ? { ...m, role: m.role === "participant" ? "observer" as const : "participant" as const } : m)),
    ...Array.from({ length: newVoters }, (_, i) => member(next + i)),
    ...Array.from({ length: newObservers }, (_, i) => member(next + newVoters + i, "observer")),
  ];
  const liveVoters = current.filter((m) => m.role === "participant" && live.has(m.id));
  const leader = liveVoters.length > 0 ? liveVoters[leaderIndex % liveVoters.length]!.id : undefined;
  return { current, target, live, ...(leader !== undefined ? { leader } : {}) };
});

const hasVoter = (s: MembershipState) => s.target.some((m) => m.role === "participant");
const healthy = (s: MembershipState) => {
  const v = s.current.filter((m) => m.role === "participant");
  return v.filter((m) => s.live.has(m.id)).length >= quorumSize(v.length);
};

describe("planMembership", () => {
  it("every plan passes the invariants (one voter per change, majorities intersect, quorum of both live, joiners join, removed never counted) and reaches the target", () => {
    fc.assert(fc.property(ensembles, (state) => {
      const plan = planMembership(state);
      if (!plan.ok) return;
      expect(checkMembershipPlan(state, plan.changes)).toEqual([]);
    }), { numRuns: 3000 });
  });

  it("refuses only what cannot be done: with every server live, any target with a voter is planned", () => {
    fc.assert(fc.property(ensembles, (state) => {
      const allLive = { ...state, live: new Set(state.current.map((m) => m.id)) };
      if (!hasVoter(allLive)) return;
      const plan = planMembership(allLive);
      expect(plan.ok ? [] : plan.reasons).toEqual([]);
    }), { numRuns: 2000 });
  });

  it("a change that would cost quorum is refused with the reason, and nothing is planned", () => {
    // 3 voters with 2 down: no configuration change can be committed.
    const plan = planMembership({ current: voters([1, 2, 3]), target: voters([1, 2, 3, 4]), live: new Set([1]) });
    expect(plan.ok).toBe(false);
    if (!plan.ok) expect(plan.reasons.join("\n")).toMatch(/1 of 3 voters of \{1,2,3\} live, below its quorum of 2/);
    fc.assert(fc.property(ensembles, (state) => {
      const same = JSON.stringify([...state.current].sort((a, b) => a.id - b.id)) === JSON.stringify([...state.target].sort((a, b) => a.id - b.id));
      if (healthy(state) || state.current.length === 0 || same) return;
      // An ensemble below quorum never gets a plan: no change can commit.
      expect(planMembership(state).ok).toBe(false);
    }), { numRuns: 1000 });
  });

  it("alternates joins and leaves one voter at a time, the leader leaving last: A,B,C -> A,D,E and a whole migration", () => {
    const partial = planMembership({ current: voters([1, 2, 3]), target: voters([1, 4, 5]), live: new Set([1, 2, 3]), leader: 2 });
    expect(partial.ok && partial.changes.map((c) => `${c.kind} ${c.server.id}`)).toEqual(["add 4", "remove 3", "add 5", "remove 2"]);
    const whole = planMembership({ current: voters([1, 2, 3]), target: voters([4, 5, 6]), live: new Set([1, 2, 3]), leader: 1 });
    expect(whole.ok && whole.changes.map((c) => `${c.kind} ${c.server.id}`)).toEqual(["add 4", "remove 2", "add 5", "remove 3", "add 6", "remove 1"]);
    const grow = planMembership({ current: voters([1, 2, 3]), target: voters([1, 2, 3, 4, 5]), live: new Set([1, 2, 3]) });
    expect(grow.ok && grow.changes.map((c) => `${c.kind} ${c.server.id}`)).toEqual(["add 4", "add 5"]);
  });

  it("refuses an id reused or moved to another host", () => {
    const moved = planMembership({ current: voters([1, 2, 3]), target: [member(1), member(2), { id: 3, host: "new3", role: "participant" }], live: new Set([1, 2, 3]) });
    expect(!moved.ok && moved.reasons[0]).toMatch(/myid 3 moves from zk3 to new3: a new server needs a new myid, larger than any used before \(4 or more\)/);
    const reused = planMembership({ current: voters([1, 2, 3]), target: voters([1, 2, 3, 4]), live: new Set([1, 2, 3]), maxIdEverUsed: 7 });
    expect(!reused.ok && reused.reasons[0]).toMatch(/myid 4, which the ensemble used before \(largest used: 7\)/);
  });

  it("the checker catches a deliberately unsafe planner: two voters joined in one change", () => {
    const unsafe = (state: MembershipState): MembershipChange[] => {
      const plan = planMembership(state);
      if (!plan.ok) return [];
      // Merge each pair of consecutive joins into one change, as a careless planner would.
      const out: MembershipChange[] = [];
      for (const c of plan.changes) {
        const prev = out.at(-1);
        if (prev && prev.kind === "add" && c.kind === "add" && c.server.role === "participant" && prev.server.role === "participant") {
          out[out.length - 1] = { ...prev, after: c.after, live: c.live };
        } else out.push(c);
      }
      return out;
    };
    const result = fc.check(fc.property(ensembles, (state) => checkMembershipPlan(state, unsafe(state)).length === 0), { numRuns: 2000 });
    expect(result.failed).toBe(true);
    expect(checkMembershipPlan({ current: voters([1, 2, 3]), target: voters([1, 2, 3, 4, 5]), live: new Set([1, 2, 3]) }, unsafe({ current: voters([1, 2, 3]), target: voters([1, 2, 3, 4, 5]), live: new Set([1, 2, 3]) })).join("\n"))
      .toMatch(/changes 2 voters at once/);
  });
});
