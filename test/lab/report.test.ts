// The run report people look at, from a real run: a configuration change
// rolled through a 3-server lab with the canary (leader last), then
// `runs show` as text, as JSON and as an HTML page opened in a real headless
// browser (Debian's chromium, driven by playwright-core, which downloads no
// browser of its own). The page must load nothing but itself, log no error,
// and draw one band per step the journal says ran, the canary's latency, its
// failed operations, and the leader changes the journal recorded.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { deriveInventory, useTestLab } from "../helpers/lab.js";
import { subnet } from "../helpers/subnets.js";

const t = useTestLab("report", subnet("report"));
const SCREENSHOT = "/var/tmp/zkfleet-run-report.png";

interface Rec { event: string; index?: number; host?: string | null; previous?: string | null; series?: { failed: number[] }[] }

describe("runs show of a real rolling run", () => {
  it("prints and draws the steps, gate waits, leader changes and the canary; the HTML page loads nothing else in chromium", async () => {
    const created = await runCli(["apply", "-i", t.lab.inventory, "--yes"], t.env);
    expect(created.code, created.err).toBe(2);
    const changed = deriveInventory(t.lab, "max-cnxns.yml", { config: { maxClientCnxns: 77 } });
    const applied = await runCli(["apply", "-i", changed, "--yes", "--json"], t.env);
    expect(applied.code, applied.err).toBe(2);
    const run = JSON.parse(applied.out) as { run: string; journal: string; results: { kind: string; host: string }[] };
    const records = readFileSync(run.journal, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Rec);
    const started = records.filter((r) => r.event === "step-start");
    expect(run.results.filter((x) => x.kind === "stop")).toHaveLength(3);

    // The leader was restarted last, so the gates and checks saw it change.
    const leaders = records.filter((r) => r.event === "leader");
    expect(leaders.length).toBeGreaterThanOrEqual(2);
    expect(leaders.some((l) => l.host !== null && l.host !== leaders[0]!.host)).toBe(true);
    const changes = leaders.filter((l) => "previous" in l);
    const series = records.find((r) => r.event === "canary")?.series ?? [];
    expect(series.length).toBe(4);

    // Text: every step with its outcome, the gates' waits, the leader's story and the canary per client.
    const text = await runCli(["runs", "show", run.run], t.env);
    expect(text.code, text.err).toBe(0);
    expect(text.out.match(/^\s+\d+\.\s+\+\d+\.\ds (changed|ok) /gm)).toHaveLength(started.length);
    expect(text.out).toMatch(/^gates and checks/m);
    expect(text.out).toMatch(/^\s+\d+\. gate zk1, zk2, zk3 healthy: \d+\.\ds, \d+ look\(s\)/m);
    expect(text.out).toMatch(new RegExp(`^leader: ${leaders[0]!.host} \\+`, "m"));
    expect(text.out).toMatch(/^canary: \d+ operations, .* acknowledged writes lost 0 \(clients went direct\)$/m);
    for (const c of ["all", "zk1", "zk2", "zk3"]) expect(text.out).toMatch(new RegExp(`^  client ${c} +\\d+ ops, \\d+ failed, 0 lost`, "m"));

    const json = await runCli(["runs", "show", run.run, "--json"], t.env);
    const shown = JSON.parse(json.out) as { stepRecords: unknown[]; gates: { polls: number }[]; leaders: unknown[]; canary: { total: { lost: number } } };
    expect(shown.stepRecords).toHaveLength(started.length);
    expect(shown.gates.length).toBeGreaterThanOrEqual(6);
    for (const g of shown.gates) expect(g.polls).toBeGreaterThanOrEqual(1);
    expect(shown.leaders).toHaveLength(leaders.length);
    expect(shown.canary.total.lost).toBe(0);

    const dir = mkdtempSync(join(tmpdir(), "zkfleet-report-"));
    const file = join(dir, "run.html");
    try {
      const html = await runCli(["runs", "show", run.run, "--html", file], t.env);
      expect(html.code, html.err).toBe(0);
      const page = readFileSync(file, "utf8");
      // Self-contained: nothing to fetch, from anywhere.
      expect(page).not.toMatch(/\b(?:src|href|xlink:href)\s*=/i);
      expect(page).not.toMatch(/url\(|@import|https?:\/\//i);

      const browser = await chromium.launchPersistentContext(join(dir, "profile"), {
        executablePath: "/usr/bin/chromium", headless: true, viewport: { width: 1180, height: 900 },
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      });
      try {
        const tab = await browser.newPage();
        const requests: string[] = [];
        const problems: string[] = [];
        tab.on("request", (r) => requests.push(r.url()));
        tab.on("requestfailed", (r) => problems.push(`failed to load ${r.url()}`));
        tab.on("console", (m) => void (m.type() === "error" && problems.push(`console: ${m.text()}`)));
        tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
        await tab.goto(`file://${file}`, { waitUntil: "load" });

        const drawn = await tab.evaluate(() => {
          const widths = (sel: string) => [...document.querySelectorAll<SVGGraphicsElement>(sel)].map((e) => e.getBBox().width);
          const path = document.querySelector<SVGPathElement>('path[data-series="latency"][data-client="all"]');
          return {
            bands: [...document.querySelectorAll<SVGGElement>("svg.timeline g.step")].map((g) => Number(g.dataset.step)),
            bandWidths: widths("svg.timeline g.step rect"),
            points: Number(path?.dataset.points ?? 0),
            length: path?.getTotalLength() ?? 0,
            latencyClients: [...document.querySelectorAll<SVGPathElement>('path[data-series="latency"]')].map((p) => p.dataset.client),
            failedBars: document.querySelectorAll('rect[data-series="failed"]').length,
            leaderLines: [...document.querySelectorAll<SVGGElement>("g.leader-change")].map((g) => g.dataset.leader),
            stepRows: document.querySelectorAll("table.steps tbody tr").length,
            heading: document.querySelector("h1")?.textContent,
          };
        });
        await tab.screenshot({ path: SCREENSHOT, fullPage: true });

        expect(requests).toEqual([`file://${file}`]);
        expect(problems).toEqual([]);
        expect(drawn.heading).toBe(`zkfleet run ${run.run}`);
        expect(drawn.bands.sort((a, b) => a - b)).toEqual(started.map((r) => r.index).sort((a, b) => a! - b!));
        for (const w of drawn.bandWidths) expect(w).toBeGreaterThan(0);
        expect(drawn.points).toBeGreaterThan(0);
        expect(drawn.length).toBeGreaterThan(0);
        expect(drawn.latencyClients.sort()).toEqual(["all", "zk1", "zk2", "zk3"]);
        const failedBuckets = series[0]!.failed.filter((_, i) => series.some((c) => c.failed[i]! > 0)).length;
        expect(drawn.failedBars).toBe(failedBuckets);
        expect(drawn.leaderLines).toEqual(changes.map((l) => l.host ?? "none"));
        expect(drawn.leaderLines.length).toBeGreaterThan(0);
        expect(drawn.stepRows).toBe(started.length);
      } finally {
        await browser.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
