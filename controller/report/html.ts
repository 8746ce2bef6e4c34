// A run's report as one HTML page that needs nothing else: inline CSS and
// inline SVG, no script, no URL of any kind, so it opens from a mail
// attachment or an air-gapped machine exactly as written. The picture is a
// timeline: each step a band in its host's lane, the canary's latency and
// failed operations over the same time axis, leader changes as vertical
// lines. SVG elements carry data- attributes saying what they stand for, so
// a test (or a person with the inspector) can check what is drawn.
import { describeStep } from "../plan/steps.js";
import type { ClientSeries } from "../canary/canary.js";
import type { StepRecord } from "../execute/runs.js";
import type { RunReport } from "./model.js";
import { figure } from "./text.js";

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : seconds(ms));

const WIDTH = 1100;
const LEFT = 120;
const RIGHT = 20;
const LANE = 22;
const CHART = 170;
const FAILED_ROW = 36;

const OUTCOME_COLOUR: Record<StepRecord["outcome"], string> = {
  changed: "#3b78c2", ok: "#7fb47f", failed: "#d0433b", "started, no end": "#e8a33a", "not run": "#cccccc",
};
const CLIENT_COLOURS = ["#6a4c93", "#1b998b", "#c17c0b", "#8b5e3c", "#4d7ea8", "#a23b72"];

/** A tick step for the time axis: about eight ticks over the span. */
function tickStep(spanMs: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].map((s) => s * 1000);
  return steps.find((s) => spanMs / s <= 10) ?? 14_400_000;
}

const clock = (ms: number) => {
  const s = Math.round(Math.abs(ms) / 1000);
  return `${ms < 0 ? "-" : ""}${s < 60 ? `${s}s` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`}`;
};

interface Scale {
  x: (epochMs: number) => number;
  t0: number;
  t1: number;
  /** The run's start: times are told after it (the canary starts a moment before the run's first record). */
  origin: number;
}

const after = (at: number, sc: Scale) => `${at < sc.origin ? "-" : "+"}${seconds(Math.abs(at - sc.origin))}`;

function timeScale(r: RunReport): Scale {
  const stamps = [
    r.summary.started, r.summary.ended, ...r.steps.flatMap((s) => [s.startedAt, s.endedAt]), ...r.leaders.map((l) => l.at),
  ].filter((x): x is string => x !== undefined).map(Date.parse);
  for (const c of r.series) stamps.push(c.from, c.from + c.ops.length * c.bucketMs);
  const t0 = Math.min(...stamps);
  const t1 = Math.max(t0 + 1000, ...stamps);
  const plot = WIDTH - LEFT - RIGHT;
  return { t0, t1, origin: Date.parse(r.summary.started), x: (t) => LEFT + ((t - t0) / (t1 - t0)) * plot };
}

/** One band per step that ran, in its host's lane (gates and checks, which look at every host, in a lane of their own). */
function stepBands(r: RunReport, sc: Scale, top: number): { svg: string; height: number } {
  const ran = r.steps.filter((s) => s.startedAt !== undefined);
  const lanes = [...new Set(ran.map((s) => s.host))];
  const laneY = (host: string) => top + lanes.indexOf(host) * LANE;
  const parts = lanes.map((host) =>
    `<text class="lane-label" x="${LEFT - 8}" y="${laneY(host) + 15}" text-anchor="end">${esc(host === "*" ? "gates, checks" : host)}</text>` +
    `<line class="lane" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${laneY(host) + LANE - 1}" y2="${laneY(host) + LANE - 1}"/>`);
  for (const s of ran) {
    const x = sc.x(Date.parse(s.startedAt!));
    const w = Math.max(2, sc.x(s.endedAt ? Date.parse(s.endedAt) : sc.t1) - x);
    const planned = r.planned[s.index];
    const label = `${s.host === "*" ? "" : `${s.host} `}${s.kind}`;
    const tip = `step ${s.index + 1}: ${planned ? describeStep(planned) : `${s.kind} on ${s.host}`}; ${s.outcome}${s.ms !== undefined ? ` in ${seconds(s.ms)}` : ""}${s.message ? `: ${s.message}` : ""}`;
    parts.push(`<g class="step" data-step="${s.index}" data-kind="${esc(s.kind)}" data-host="${esc(s.host)}" data-outcome="${esc(s.outcome)}">` +
      `<title>${esc(tip)}</title>` +
      `<rect x="${x.toFixed(1)}" y="${laneY(s.host) + 2}" width="${w.toFixed(1)}" height="${LANE - 5}" rx="2" fill="${OUTCOME_COLOUR[s.outcome]}"/>` +
      // A label only where it fits (about 6 px a character); the tooltip has it everywhere.
      (w > label.length * 6 + 6 ? `<text class="band-label" x="${(x + 4).toFixed(1)}" y="${laneY(s.host) + 15}">${esc(label)}</text>` : "") +
      `</g>`);
  }
  return { svg: parts.join("\n"), height: lanes.length * LANE };
}

/** Latency on a log scale from 1 ms (values below are drawn at 1 ms) to a power of ten above the largest. */
function latencyChart(r: RunReport, sc: Scale, top: number): string {
  const largest = Math.max(1, ...r.series.flatMap((c) => c.maxMs));
  const ceiling = 10 ** Math.max(2, Math.ceil(Math.log10(largest + 1)));
  const y = (ms: number) => top + CHART - (Math.log10(Math.max(1, ms)) / Math.log10(ceiling)) * CHART;
  const colourOf = (c: ClientSeries, i: number) => (c.label === "all" ? "#222222" : CLIENT_COLOURS[i % CLIENT_COLOURS.length]!);
  const key = r.series.map((c, i) => `<tspan fill="${colourOf(c, i)}" font-weight="600">\u2014 ${esc(c.label === "all" ? "all servers" : c.label)}</tspan>`).join(" ");
  const parts = [`<text class="chart-title" x="${LEFT}" y="${top - 12}">canary latency (log scale): slowest operation per ${duration(r.series[0]?.bucketMs ?? 250)}, ` +
    `dashed: median of all servers' client; clients ${key}</text>`];
  for (let v = 1; v <= ceiling; v *= 10) {
    parts.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/>` +
      `<text class="axis" x="${LEFT - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`);
  }
  const line = (c: ClientSeries, values: number[], series: string, colour: string, extra: string) => {
    // A bucket without a successful operation breaks the line: no latency to draw there.
    const runs: [number, number][][] = [[]];
    values.forEach((v, i) => {
      if (c.ops[i]! - c.failed[i]! === 0) runs.push([]);
      else runs.at(-1)!.push([sc.x(c.from + (i + 0.5) * c.bucketMs), y(v)]);
    });
    // A bucket alone between gaps is drawn across its width: a line of one point would not show.
    const half = (sc.x(c.from + c.bucketMs) - sc.x(c.from)) / 2;
    const d = runs.filter((run) => run.length > 0).map((run) => (run.length === 1
      ? `M${(run[0]![0] - half).toFixed(1)} ${run[0]![1].toFixed(1)}h${(2 * half).toFixed(1)}`
      : run.map(([x, yy], k) => `${k === 0 ? "M" : "L"}${x.toFixed(1)} ${yy.toFixed(1)}`).join(""))).join("");
    const points = runs.reduce((n, run) => n + run.length, 0);
    return `<path class="series" data-series="${series}" data-client="${esc(c.label)}" data-points="${points}" d="${d}" stroke="${colour}" ${extra}/>`;
  };
  r.series.forEach((c, i) => {
    const all = c.label === "all";
    const colour = colourOf(c, i);
    parts.push(line(c, c.maxMs, "latency", colour, all ? `stroke-width="1.6"` : `stroke-width="1" stroke-opacity="0.75"`));
    if (all) parts.push(line(c, c.p50Ms, "latency-p50", "#222222", `stroke-width="1" stroke-dasharray="3 3"`));
  });
  return parts.join("\n");
}

/** Failed operations of all clients per bucket, as red bars (height by count, against the most in a bucket). */
function failedRow(r: RunReport, sc: Scale, top: number): string {
  const parts = [`<text class="lane-label" x="${LEFT - 8}" y="${top + FAILED_ROW / 2 + 4}" text-anchor="end">failed ops</text>`,
    `<line class="lane" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${top + FAILED_ROW}" y2="${top + FAILED_ROW}"/>`];
  const first = r.series[0];
  if (!first) return parts.join("\n");
  const sums = first.ops.map((_, i) => r.series.reduce((n, c) => n + (c.failed[i] ?? 0), 0));
  const most = Math.max(1, ...sums);
  const width = Math.max(2, sc.x(first.from + first.bucketMs) - sc.x(first.from));
  sums.forEach((n, i) => {
    if (n === 0) return;
    const h = Math.max(4, (n / most) * (FAILED_ROW - 4));
    const at = first.from + i * first.bucketMs;
    const who = r.series.filter((c) => (c.failed[i] ?? 0) > 0).map((c) => `${c.label} ${c.failed[i]}`).join(", ");
    parts.push(`<rect class="failed" data-series="failed" data-count="${n}" x="${sc.x(at).toFixed(1)}" y="${(top + FAILED_ROW - h).toFixed(1)}" ` +
      `width="${width.toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(`${after(at, sc)}: ${n} failed (${who})`)}</title></rect>`);
  });
  return parts.join("\n");
}

function timeline(r: RunReport): string {
  const sc = timeScale(r);
  const bandsTop = 34;
  const bands = stepBands(r, sc, bandsTop);
  const chartTop = bandsTop + bands.height + 44;
  const failedTop = chartTop + CHART + 14;
  const axisY = failedTop + FAILED_ROW + 4;
  const height = axisY + 26;
  const parts = [bands.svg];
  if (r.series.length > 0) parts.push(latencyChart(r, sc, chartTop), failedRow(r, sc, failedTop));
  else {
    const why = r.canary ? "the journal holds the canary's figures but no series (written by an older zkfleet)" : "no canary in this run (it runs only when servers stop)";
    parts.push(`<text class="chart-title" x="${LEFT}" y="${chartTop + 20}">${why}</text>`);
  }
  const step = tickStep(sc.t1 - sc.t0);
  for (let t = Math.ceil((sc.t0 - sc.origin) / step) * step; sc.origin + t <= sc.t1; t += step) {
    const x = sc.x(sc.origin + t).toFixed(1);
    parts.push(`<line class="tick" x1="${x}" x2="${x}" y1="${bandsTop - 4}" y2="${axisY}"/><text class="axis" x="${x}" y="${axisY + 16}" text-anchor="middle">${clock(t)}</text>`);
  }
  // The first leader record is the leader the run found; the later ones are what changed while it ran.
  for (const l of r.leaders.filter((x) => x.previous !== undefined)) {
    const x = sc.x(Date.parse(l.at)).toFixed(1);
    const text = l.host === null ? "no leader" : `leader ${l.host}`;
    parts.push(`<g class="leader-change" data-leader="${esc(l.host ?? "none")}" data-step="${l.step}">` +
      `<title>${esc(`${after(Date.parse(l.at), sc)}: ${text} (was ${l.previous ?? "none"}), as step ${l.step + 1} saw it`)}</title>` +
      `<line x1="${x}" x2="${x}" y1="14" y2="${axisY}"/><text x="${x}" y="11" text-anchor="middle">${esc(text)}</text></g>`);
  }
  return `<svg class="timeline" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="timeline of the run">\n${parts.join("\n")}\n</svg>`;
}

const table = (head: string[], rows: string[][], cls: string) =>
  `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>\n` +
  rows.map((row) => `<tr>${row.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n") + "\n</tbody></table>";

function canarySection(r: RunReport): string {
  if (!r.canary) return "<p>No canary ran (it runs only when a run stops servers, and not with --no-canary).</p>";
  const t = r.canary.total;
  const ms = (n: number) => `${n} ms`;
  const figures = `<p class="canary-total">${figure(t.ops)} operations, ${figure(t.failed)} failed, ${figure(t.lost)} acknowledged writes lost, ${figure(t.expired)} sessions expired; ` +
    `longest unavailability ${figure(t.longestGapMs, seconds)} (full connect string); latency p50 ${figure(t.p50Ms, ms)}, p99 ${figure(t.p99Ms, ms)}; clients went ${esc(r.canary.via)}.</p>`;
  return figures + table(["client", "operations", "failed", "lost", "expired", "longest gap", "p50", "p99", "problem"],
    r.canary.clients.map((c) => [esc(c.label), figure(c.ops), figure(c.failed), figure(c.lost), figure(c.expired), figure(c.longestGapMs, seconds),
      figure(c.p50Ms, ms), figure(c.p99Ms, ms), esc(c.problem ?? "")]), "canary");
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 24px 0 8px; }
.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0; }
.meta dt { color: #666; } .meta dd { margin: 0; }
.outcome { font-weight: 600; } .outcome-done { color: #2e7d32; } .outcome-bad { color: #c62828; }
svg.timeline { font: 11px system-ui, sans-serif; background: #fff; border: 1px solid #ddd; }
.lane { stroke: #eee; } .grid { stroke: #eee; } .tick { stroke: #f3f3f3; }
.lane-label, .axis { fill: #555; } .chart-title { fill: #333; font-weight: 600; }
.band-label { fill: #fff; pointer-events: none; }
.series { fill: none; stroke-linejoin: round; }
.failed { fill: #d0433b; }
.leader-change line { stroke: #b23c17; stroke-width: 1.2; stroke-dasharray: 5 3; }
.leader-change text { fill: #b23c17; font-weight: 600; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -2px; }
table { border-collapse: collapse; margin: 4px 0; } th, td { text-align: left; padding: 2px 10px 2px 0; border-bottom: 1px solid #eee; vertical-align: top; }
td:not(:last-child) { white-space: nowrap; }
`;

/** The whole page: header, timeline, then the steps, gates, leader changes and canary figures as tables. */
export function renderRunHtml(r: RunReport): string {
  const s = r.summary;
  const t0 = Date.parse(s.started);
  const after = (at?: string) => (at ? `+${seconds(Date.parse(at) - t0)}` : "");
  const legend = (Object.keys(OUTCOME_COLOUR) as StepRecord["outcome"][]).filter((o) => o !== "not run")
    .map((o) => `<span><i style="background:${OUTCOME_COLOUR[o]}"></i>${esc(o)}</span>`).join("") +
    `<span><i style="background:#d0433b"></i>failed canary operations</span><span><i style="border-left:2px dashed #b23c17;width:0"></i>leader change, when a gate or check saw it</span>`;
  const steps = table(["#", "at", "host", "kind", "outcome", "took", "what"], r.steps.map((st) => [
    String(st.index + 1), after(st.startedAt), esc(st.host), esc(st.kind), esc(st.outcome) + (st.undo ? " (undo)" : ""),
    st.ms !== undefined ? seconds(st.ms) : "", esc(st.message ?? ""),
  ]), "steps");
  // The long column last: it is the one that wraps.
  const gates = r.gates.length === 0 ? "<p>None.</p>" : table(["#", "role", "waited", "looks", "for", "saw", "waited for"], r.gates.map((g) => [
    String(g.index + 1), esc(g.role), g.ms !== undefined ? seconds(g.ms) : esc(g.outcome), g.polls !== undefined ? String(g.polls) : "",
    esc(`${g.hosts.join(", ")} healthy${g.caughtUp ? `, ${g.caughtUp} caught up` : ""}`), esc(g.message ?? ""),
    esc(g.waitedFor.length > 0 ? g.waitedFor.join(", then ") : g.polls === 1 ? "nothing (healthy at the first look)" : ""),
  ]), "gates");
  const leaders = r.leaders.length === 0 ? "<p>No gate or check observed the ensemble.</p>" : table(["at", "leader", "before", "seen by step"], r.leaders.map((l) => [
    after(l.at), esc(l.host ?? "none"), l.previous === undefined ? "(the run found it)" : esc(l.previous ?? "none"), String(l.step + 1),
  ]), "leaders");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zkfleet run ${esc(s.run)}</title><style>${STYLE}</style></head>
<body>
<h1>zkfleet run ${esc(s.run)}</h1>
<dl class="meta">
<dt>ensemble</dt><dd>${esc(s.ensemble)}</dd>
<dt>command</dt><dd>${esc(s.command)}</dd>
<dt>outcome</dt><dd class="outcome ${s.outcome === "done" ? "outcome-done" : "outcome-bad"}">${esc(s.outcome)}${s.detail ? `: ${esc(s.detail)}` : ""}</dd>
<dt>started</dt><dd>${esc(s.started)}</dd>
<dt>ended</dt><dd>${esc(s.ended ?? "no end record")}${s.ended ? ` (${seconds(Date.parse(s.ended) - t0)})` : ""}</dd>
<dt>steps</dt><dd>${s.stepsDone} of ${s.steps} done, ${s.changed} changed</dd>
<dt>inventory</dt><dd>${esc(s.origin?.inventory ?? "?")}</dd>
</dl>
<h2>Timeline</h2>
<p class="legend">${legend}</p>
${timeline(r)}
<h2>Steps</h2>
${steps}
<h2>Gates and checks</h2>
${gates}
<h2>Leader</h2>
${leaders}
<h2>Canary</h2>
${canarySection(r)}
</body></html>
`;
}
