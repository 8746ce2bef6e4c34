// `zkfleet runs`: the runs the journal records, listed and shown, and the
// two that act again on one (resume, rollback) by way of apply. What they
// read and render is loaded when one of them runs.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { ExitCode, ZkfleetError } from "../../common/errors.js";
import type { Io } from "../cli.js";
import { defaultJournalDir } from "../execute/journal.js";
import type { ApplyOptions, ResumeOf } from "./acting.js";
import type { RestoreOptions } from "./backup.js";
import { examples } from "./help.js";

/** How resume and rollback act: apply, or restore for a run that restored a backup. */
export interface Acting {
  apply: (o: ApplyOptions, resume?: ResumeOf, restore?: { run: string; files: Map<string, Map<string, string>>; version?: string }) => Promise<void>;
  restore: (o: RestoreOptions & Record<string, unknown>, resume: ResumeOf) => Promise<void>;
}

export function registerRunsCommands(
  program: Command, io: Io, setExit: (code: ExitCode) => void, actingOptions: (c: Command) => Command, acting: Acting,
): void {
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
    .option("--diff", "show file changes per host"))
    .action(async (run: string, o) => {
      const { findRun, rollbackOf } = await import("../execute/runs.js");
      const r = findRun(o.journal, run);
      if (!r.origin) throw new ZkfleetError("usage", `run ${r.run} records no inventory (written by an older zkfleet)`, { where: r.file, hint: "run apply again instead" });
      if (r.outcome === "done") throw new ZkfleetError("usage", `run ${r.run} finished; there is nothing to resume`, { where: r.file, hint: "run apply to change the ensemble again" });
      // A restore is resumed as a restore: apply alone would start members the run had not restored yet, empty.
      const lock = { run: r.run, lockRun: r.origin.lockRun, inventoryHash: r.origin.inventoryHash };
      if (r.origin.restores) return acting.restore({ ...o, inventory: r.origin.inventory, from: r.origin.restores }, lock);
      // A rollback goes on toward what it puts back, never toward the inventory (which still names what it undoes).
      const back = r.origin.rollsBack ? rollbackOf(o.journal, findRun(o.journal, r.origin.rollsBack)) : undefined;
      await acting.apply({ ...o, inventory: r.origin.inventory, ...(r.origin.limit ? { limit: r.origin.limit } : {}) }, lock, back);
    });
  actingOptions(runs.command("rollback <run>")
    .description("undo a finished or halted run: its servers back on the release and files they had before it, rolling, gated, with the canary")
    .option("--check", "show the plan and change nothing")
    .option("--diff", "show file changes per host"))
    .action(async (run: string, o) => {
      const { findRun, rollbackOf } = await import("../execute/runs.js");
      const r = findRun(o.journal, run);
      if (!r.origin) throw new ZkfleetError("usage", `run ${r.run} records no inventory (written by an older zkfleet)`, { where: r.file, hint: "put the previous files back by hand from agent.dir/state/backups" });
      // What the run's resumes did belongs to it: an upgrade killed in its push and finished by a resume switched nothing itself.
      const back = rollbackOf(o.journal, r);
      if (back.files.size === 0 && !back.version) {
        throw new ZkfleetError("usage", `run ${r.run} (and its resumes) replaced no file and no release: there is nothing to roll back`, { where: r.file });
      }
      await acting.apply({ ...o, inventory: r.origin.inventory }, undefined, back);
    });
}
