// The run report from journal records: the model, the text of `runs show`
// and the HTML page, on a small hand-written journal (the lab test renders a
// real run's page in a browser).
import { describe, expect, it } from "vitest";
import type { ClientSeries } from "../../controller/canary/canary.js";
import type { Rec } from "../../controller/execute/runs.js";
import type { Plan, Step } from "../../controller/plan/steps.js";
import { renderRunHtml } from "../../controller/report/html.js";
import { runReport } from "../../controller/report/model.js";
import { formatRunReport, runReportJson } from "../../controller/report/text.js";

const gate: Step = { kind: "await_healthy", host: "*", role: "gate", hosts: ["zk1", "zk2"], versions: ["3.8.0"], timeoutMs: 30_000, reason: "r" };
const steps: Step[] = [
  gate,
  { kind: "stop", host: "zk1", mode: "leader", reason: "r", args: { data_dir: "/d", config_path: "/c" } },
  { kind: "start", host: "zk1", reason: "r", args: { install_dir: "/i", config_dir: "/c", data_dir: "/d" } },
  { ...gate, role: "settle", caughtUp: "zk1" } as Step,
  { kind: "stop", host: "zk2", mode: "follower", reason: "r", args: { data_dir: "/d", config_path: "/c" } },
];
const plan: Plan = { target: { name: "e", inventory: "e.yml", version: "3.8.0", members: [] }, stages: [{ title: "t", concurrent: false, steps }], unchanged: [], refusals: [] };

const T = Date.parse("2026-03-01T02:00:00.000Z");
const at = (ms: number) => new Date(T + ms).toISOString();
const rec = (ms: number, event: string, data: Record<string, unknown> = {}): Rec => ({ at: at(ms), run: "r1", event, ...data });
// Two 250 ms buckets before the run's first record, an outage with failures, then back.
const series: ClientSeries[] = [
  { label: "all", from: T - 250, bucketMs: 250, ops: [2, 2, 2, 2, 2, 2], failed: [0, 0, 2, 1, 0, 0], p50Ms: [3, 3, 0, 40, 4, 3], maxMs: [4, 5, 0, 900, 6, 4] },
  { label: "zk1", from: T - 250, bucketMs: 250, ops: [2, 2, 1, 0, 1, 0], failed: [0, 0, 1, 0, 0, 0], p50Ms: [3, 3, 0, 0, 3300, 0], maxMs: [3, 4, 0, 0, 3300, 0] },
];
const canaryReport = {
  via: "direct", steps: [],
  clients: [
    { label: "all", connect: "a:1", ops: 12, failed: 3, acked: 5, lost: 0, expired: 0, longestGapMs: 700, p50Ms: 4, p99Ms: 900 },
    { label: "zk1", connect: "a:1", ops: 5, failed: 1, acked: 2, lost: 0, expired: 0, longestGapMs: 1200, p50Ms: 3, p99Ms: 4 },
  ],
  total: { ops: 17, failed: 4, lost: 0, expired: 0, longestGapMs: 700, p50Ms: 4, p99Ms: 900 },
};
const records: Rec[] = [
  rec(0, "plan", { command: "apply", ensemble: "e", inventory: "/tmp/<a&b>.yml", inventoryHash: "h", lockRun: "r1", plan }),
  rec(10, "step-start", { index: 0 }), rec(20, "leader", { host: "zk1", step: 0 }),
  rec(30, "step-done", { index: 0, changed: false, message: "leader zk1", ms: 20, data: { polls: 1, waitedFor: [] } }),
  rec(40, "step-start", { index: 1 }), rec(400, "step-done", { index: 1, changed: true, message: "stopped", ms: 360 }),
  rec(410, "step-start", { index: 2 }), rec(900, "step-done", { index: 2, changed: true, message: "started", ms: 490 }),
  rec(910, "step-start", { index: 3 }), rec(920, "leader", { host: null, step: 3, previous: "zk1" }), rec(1200, "leader", { host: "zk2", step: 3, previous: null }),
  rec(1300, "step-done", { index: 3, changed: false, message: "leader zk2", ms: 390, data: { polls: 3, waitedFor: ["no-quorum (electing)", "degraded (zk1 behind)"] } }),
  rec(1310, "step-start", { index: 4 }), rec(1320, "step-failed", { index: 4, error: "boom <b>" }),
  rec(1330, "canary", { report: canaryReport, series }),
];

describe("the run report", () => {
  const report = runReport(records, "/j/r1-apply.jsonl")!;

  it("reads steps with their times, gate waits, leader changes and the canary from the records", () => {
    expect(report.summary).toMatchObject({ outcome: "failed", stepsDone: 4 });
    expect(report.steps.map((s) => s.outcome)).toEqual(["ok", "changed", "changed", "ok", "failed"]);
    expect(report.steps[1]).toMatchObject({ startedAt: at(40), endedAt: at(400), ms: 360 });
    expect(report.gates.map((g) => [g.index, g.role, g.polls, g.waitedFor.length])).toEqual([[0, "gate", 1, 0], [3, "settle", 3, 2]]);
    expect(report.leaders.map((l) => [l.host, l.previous])).toEqual([["zk1", undefined], [null, "zk1"], ["zk2", null]]);
    expect(report.series).toHaveLength(2);
  });

  it("prints each step, the gates' waits, the leader's story and the canary per client; --json says the same", () => {
    const text = formatRunReport(report).join("\n");
    expect(text).toMatch(/^ +2\. +\+0\.0s changed +stop +zk1 +0\.4s  stopped$/m);
    expect(text).toMatch(/^ +5\. +\+1\.3s failed +stop +zk2 +boom <b>$/m);
    expect(text).toMatch(/^ +4\. settle zk1, zk2 healthy, zk1 caught up: 0\.4s, 3 look\(s\); waited for no-quorum \(electing\), then degraded \(zk1 behind\)$/m);
    expect(text).toMatch(/^leader: zk1 \+0\.0s \(step 1\) -> none \+0\.9s \(step 4\) -> zk2 \+1\.2s \(step 4\) \(2 change\(s\)/m);
    expect(text).toMatch(/^canary: 17 operations, 4 failed, .* \(clients went direct\)$/m);
    expect(text).toMatch(/^  client zk1 +5 ops, 1 failed, 0 lost, 0 expired, longest gap 1\.2s/m);
    const json = runReportJson(report);
    expect(json).toMatchObject({ outcome: "failed", gates: report.gates, leaders: report.leaders, canary: canaryReport });
    expect(json).not.toHaveProperty("series");
  });

  it("renders one self-contained page: a band per step that ran, the latency series, failed buckets, leader changes, escaped text", () => {
    const html = renderRunHtml(report);
    expect(html).not.toMatch(/\b(?:src|href)\s*=|url\(|@import|https?:\/\/|<script/i);
    expect([...html.matchAll(/<g class="step" data-step="(\d+)"[^>]*data-outcome="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`))
      .toEqual(["0:ok", "1:changed", "2:changed", "3:ok", "4:failed"]);
    // Points only where a bucket had a successful operation: the outage breaks the line.
    expect(html).toMatch(/<path class="series" data-series="latency" data-client="all" data-points="5" d="M[^"]*M[^"]*"/);
    // One bucket alone between gaps is a short line across its width, not an invisible point.
    expect(html).toMatch(/data-series="latency" data-client="zk1" data-points="3" d="M[\d.]+ [\d.]+L[\d.]+ [\d.]+M[\d.]+ [\d.]+h[\d.]+"/);
    expect([...html.matchAll(/<rect class="failed" data-series="failed" data-count="(\d+)"/g)].map((m) => Number(m[1]))).toEqual([3, 1]);
    // The first leader record is the one the run found; the two after it are changes.
    expect([...html.matchAll(/<g class="leader-change" data-leader="([^"]+)"/g)].map((m) => m[1])).toEqual(["none", "zk2"]);
    expect(html).toContain("/tmp/&#60;a&#38;b&#62;.yml");
    expect(html).toContain("boom &#60;b&#62;");
    expect(html).not.toContain("<b>");
    expect(html.match(/<table class="steps">[\s\S]*?<\/table>/)![0].match(/<tr>/g)).toHaveLength(6);
  });

  it("a run without a canary or leader records still renders, saying so", () => {
    const bare = runReport(records.filter((r) => r.event !== "canary" && r.event !== "leader"), "/j/x.jsonl")!;
    const html = renderRunHtml(bare);
    expect(html).toContain("no canary in this run");
    expect(html).not.toContain('data-series="latency"');
    expect(html).not.toContain('class="leader-change"');
    expect(html.match(/<g class="step"/g)).toHaveLength(5);
    const older = renderRunHtml(runReport(records.map((r) => (r.event === "canary" ? { ...r, series: undefined } : r)), "/j/x.jsonl")!);
    expect(older).toContain("no series (written by an older zkfleet)");
    expect(older).toContain('<table class="canary">');
  });
});
