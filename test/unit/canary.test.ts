// The canary's arithmetic on recorded operations (the clients themselves
// run against real servers in the lab tests).
import { describe, expect, it } from "vitest";
import { SERIES_BUCKET_MS, longestGap, summarize, timeSeries } from "../../controller/canary/canary.js";
import type { CanaryFinal, CanaryOp } from "../../controller/canary/protocol.js";
import { formatCanary } from "../../controller/report/text.js";

const w = (t: number, ok = true, step = 0, ms = 2): CanaryOp => ({ t, ms, kind: "write", ok, step });

describe("canary figures", () => {
  it("the longest gap runs between successful writes, from the start to the end", () => {
    expect(longestGap([w(0), w(100), w(2000, false), w(3100)], 0, 3102)).toBe(3000);
    expect(longestGap([w(0), w(100)], 0, 5000)).toBe(4898);
    expect(longestGap([], 0, 700)).toBe(700);
  });

  it("sums clients, counts lost acknowledged writes and expiries, and tells a client that gave no report", () => {
    const all: CanaryFinal = { type: "final", label: "all", connect: "a:1,b:1", startedAt: 0, ops: [w(0), w(100, false, 1), w(500, true, 1), w(600, true, 2)], events: [], acked: 3, lost: [], expired: 0 };
    const pinned: CanaryFinal = { ...all, label: "zk1", connect: "a:1", lost: [7], expired: 1 };
    expect(summarize([all, pinned]).total).toMatchObject({ ops: 8, failed: 2, lost: 1, expired: 1, longestGapMs: 500 });
    const r = summarize([all, pinned, { label: "zk2", connect: "b:1", problem: "canary client zk2 exited (SIGSEGV) without its report" }]);
    // zk2's share is unknown, and so is every sum it is part of; the full connect string's gap is known.
    expect(r.total).toMatchObject({ ops: null, failed: null, lost: null, expired: null, longestGapMs: 500 });
    expect(r.steps.map((s) => [s.index, s.ops, s.failed])).toEqual([[0, 2, 0], [1, 4, 2], [2, 2, 0]]);
    expect(r.clients[2]).toMatchObject({ label: "zk2", problem: expect.stringMatching(/SIGSEGV/) });
  });

  it("a client with no report makes the figures it is part of unknown, never 0; one whose final check failed, its lost writes", () => {
    const pinned: CanaryFinal = { type: "final", label: "zk1", connect: "a:1", startedAt: 0, ops: [w(0), w(100)], events: [], acked: 2, lost: [], expired: 0 };
    const noAll = summarize([{ label: "all", connect: "a:1,b:1", problem: "canary client all exited (SIGSEGV) without its report" }, pinned]);
    expect(noAll.total).toEqual({
      ops: null, failed: null, lost: null, expired: null, longestGapMs: null, p50Ms: null, p99Ms: null,
      unknown: ["canary client all exited (SIGSEGV) without its report"],
    });
    expect(noAll.clients[0]).toMatchObject({ ops: null, lost: null, longestGapMs: null });
    expect(formatCanary({ ...noAll, via: "direct" }, [])).toMatch(
      /^canary: unknown operations, unknown failed, longest unavailability unknown \(full connect string\), latency p50 unknown p99 unknown, sessions expired unknown, acknowledged writes lost unknown/);
    const all: CanaryFinal = { ...pinned, label: "all", connect: "a:1,b:1" };
    const unread = summarize([all, { ...pinned, verifyError: "connection loss" }]);
    expect(unread.total).toMatchObject({ ops: 4, lost: null, expired: 0, longestGapMs: 100, unknown: [expect.stringMatching(/final check could not read .*connection loss/)] });
    // Every report in: nothing unknown.
    expect(summarize([all, pinned]).total).toMatchObject({ ops: 4, lost: 0, expired: 0 });
    expect(summarize([all, pinned]).total.unknown).toBeUndefined();
  });

  it("buckets each client's operations by wall-clock time on a common grid: counts, failures, latency of the successful ones", () => {
    const op = (t: number, ms: number, ok = true): CanaryOp => ({ t, ms, kind: "write", ok, step: 0 });
    // Workers start at different moments: their ops' t count from their own start.
    const all: CanaryFinal = { type: "final", label: "all", connect: "a:1", startedAt: 10_000, ops: [op(10, 4), op(100, 8), op(300, 50, false), op(600, 30)], events: [], acked: 3, lost: [], expired: 0 };
    const zk1: CanaryFinal = { ...all, label: "zk1", startedAt: 10_200, ops: [op(0, 2), op(400, 9)] };
    const s = timeSeries([all, zk1, { label: "zk2", problem: "exited" }]);
    expect(s.map((c) => c.label)).toEqual(["all", "zk1"]);
    expect(s[0]).toMatchObject({ from: 10_000, bucketMs: SERIES_BUCKET_MS, ops: [2, 1, 1], failed: [0, 1, 0], p50Ms: [8, 0, 30], maxMs: [8, 0, 30] });
    expect(s[1]).toMatchObject({ from: 10_000, ops: [1, 0, 1], failed: [0, 0, 0], maxMs: [2, 0, 9] });
  });

  it("widens the buckets so that a long run keeps a bounded series", () => {
    const ops = Array.from({ length: 6 * 3600 * 10 }, (_, i): CanaryOp => ({ t: i * 100, ms: 3, kind: "write", ok: true, step: 0 }));
    const [s] = timeSeries([{ type: "final", label: "all", connect: "a:1", startedAt: 0, ops, events: [], acked: ops.length, lost: [], expired: 0 }], 1440);
    expect(s!.ops.length).toBeLessThanOrEqual(1440);
    expect(s!.bucketMs % SERIES_BUCKET_MS).toBe(0);
    expect(s!.ops.reduce((a, b) => a + b, 0)).toBe(ops.length);
  });
});
