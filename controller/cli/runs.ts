// `zkfleet runs`: the runs the journal records, listed and shown, and the
// two that act again on one (resume, rollback) by way of apply. What they
// read and render is loaded when one of them runs.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { ExitCode } from "../../common/errors.js";
import { defaultJournalDir } from "../execute/journal.js";
import type { CommandContext } from "./context.js";
import { actingOptions, examples } from "./options.js";

export function register(program: Command, ctx: CommandContext): void {
  const { io, setExit } = ctx;
  const runs = program.command("runs")
    .description("runs recorded in the journal: list, show one, resume one that stopped")
    .addHelpText("after", examples(
      "zkfleet runs --ensemble orders-zk        # every run and how it ended",
      "zkfleet runs show RUN                    # its steps: what ran, how long, where it stopped",
      "zkfleet runs show RUN --html run.html    # one page: a timeline of the steps, the canary's latency, elections",
      "zkfleet runs resume RUN --yes            # continue a run that was killed or failed",
      "zkfleet runs rollback RUN --check        # the plan that would undo it",
    ));
  runs.command("list", { isDefault: true })
    .description("every run with its outcome (the default)")
    .option("--ensemble <name>", "only this ensemble's runs")
    .option("--journal <dir>", "where run journals are", defaultJournalDir(io.env))
    .option("--json", "machine-readable output")
    .action(async (o) => {
      const { listRuns } = await import("../execute/runs.js");
      const list = listRuns(o.journal, o.ensemble);
      if (o.json) return io.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return io.out(`no runs in ${o.journal}`);
      for (const r of list) {
        io.out(`${r.run}  ${r.ensemble.padEnd(12)} ${r.command.padEnd(7)} ${r.outcome}  ${r.stepsDone}/${r.steps} steps, ${r.changed} changed${r.detail ? `: ${r.detail}` : ""}`);
      }
    });
  runs.command("show <run>")
    .description("one run's steps: what ran, how long, what changed, where it stopped; the gates' waits, leader changes and the canary's figures")
    .option("--journal <dir>", "where run journals are", defaultJournalDir(io.env))
    .option("--json", "machine-readable output")
    .option("--html <file>", "also write a self-contained HTML page with a timeline: steps, the canary's latency and failures, leader changes")
    .addHelpText("after", examples(
      "zkfleet runs show 2026-03-01T02-00      # a unique start of the id is enough",
      "zkfleet runs show RUN --html run.html   # the page needs nothing from the network",
    ))
    .action(async (run: string, o) => {
      const [{ findRun, records }, { runReport }, { formatRunReport, runReportJson }] =
        await Promise.all([import("../execute/runs.js"), import("../report/model.js"), import("../report/text.js")]);
      const r = findRun(o.journal, run);
      const report = runReport(records(r.file), r.file)!;
      if (o.html) {
        const { renderRunHtml } = await import("../report/html.js");
        await writeFile(o.html, renderRunHtml(report));
        if (!o.json) io.out(`wrote ${o.html}`);
      }
      if (o.json) io.out(JSON.stringify(runReportJson(report), null, 2));
      else for (const line of formatRunReport(report)) io.out(line);
      setExit(r.outcome === "done" ? ExitCode.ok : ExitCode.failed);
    });
  actingOptions(runs.command("resume <run>")
    .description("continue a run that stopped (killed, interrupted, failed): observe afresh, plan what is still missing, take its lock back")
    .option("--check", "show the plan and change nothing")
    .option("--diff", "show file changes per host"), io.env)
    .action(async (run: string, o) => {
      const [{ resumption }, { applyAction, restoreAction }] = await Promise.all([import("../usecases/runs.js"), import("./acting.js")]);
      const r = resumption(o.journal, run);
      if (r.restores) return restoreAction(ctx, { ...o, inventory: r.inventory, from: r.restores }, r.resume);
      await applyAction(ctx, { ...o, inventory: r.inventory, ...(r.limit ? { limit: r.limit } : {}) }, { resume: r.resume, ...(r.rollback ? { rollback: r.rollback } : {}) });
    });
  actingOptions(runs.command("rollback <run>")
    .description("undo a finished or halted run: its servers back on the release and files they had before it, rolling, gated, with the canary")
    .option("--check", "show the plan and change nothing")
    .option("--diff", "show file changes per host"), io.env)
    .action(async (run: string, o) => {
      const [{ rollbackRequest }, { applyAction }] = await Promise.all([import("../usecases/runs.js"), import("./acting.js")]);
      const r = rollbackRequest(o.journal, run);
      await applyAction(ctx, { ...o, inventory: r.inventory }, { rollback: r.rollback });
    });
}
