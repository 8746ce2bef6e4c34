// The canary's arithmetic on recorded operations (the clients themselves
// run against real servers in the lab tests).
import { describe, expect, it } from "vitest";
import { longestGap, summarize } from "../../controller/canary/canary.js";
import type { CanaryFinal, CanaryOp } from "../../controller/canary/protocol.js";

const w = (t: number, ok = true, step = 0, ms = 2): CanaryOp => ({ t, ms, kind: "write", ok, step });

describe("canary figures", () => {
  it("the longest gap runs between successful writes, from the start to the end", () => {
    expect(longestGap([w(0), w(100), w(2000, false), w(3100)], 0, 3102)).toBe(3000);
    expect(longestGap([w(0), w(100)], 0, 5000)).toBe(4898);
    expect(longestGap([], 0, 700)).toBe(700);
  });

  it("sums clients, counts lost acknowledged writes and expiries, and tells a client that gave no report", () => {
    const all: CanaryFinal = { type: "final", label: "all", connect: "a:1,b:1", ops: [w(0), w(100, false, 1), w(500, true, 1), w(600, true, 2)], events: [], acked: 3, lost: [], expired: 0 };
    const pinned: CanaryFinal = { ...all, label: "zk1", connect: "a:1", lost: [7], expired: 1 };
    const r = summarize([all, pinned, { label: "zk2", connect: "b:1", problem: "canary client zk2 exited (SIGSEGV) without its report" }]);
    expect(r.total).toMatchObject({ ops: 8, failed: 2, lost: 1, expired: 1, longestGapMs: 500 });
    expect(r.steps.map((s) => [s.index, s.ops, s.failed])).toEqual([[0, 2, 0], [1, 4, 2], [2, 2, 0]]);
    expect(r.clients[2]).toMatchObject({ label: "zk2", problem: expect.stringMatching(/SIGSEGV/) });
  });
});
