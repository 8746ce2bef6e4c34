// The CLI only parses arguments, calls the library and renders results. All
// behaviour lives below it; nothing below it prints or exits.
import { Command, CommanderError, Option } from "commander";
import { ExitCode, ZkfleetError, errorMessage, exitCodeFor } from "../common/errors.js";
import {
  type FaultAction, DEFAULT_LAB_DIR, DEFAULT_SUBNET, adoptCommand, labDown, labFault, labStatus, labUp, validateLabUp,
} from "../lab/lab.js";
import { ensureDists, KNOWN_VERSIONS } from "../dists/dists.js";
import { defaultArtifactsDir, packageVersion } from "../common/paths.js";
import { runCheck } from "./commands/check.js";
import { formatFinding } from "./inventory/findings.js";
import { inventoryError, loadInventory } from "./inventory/load.js";
import { formatStatus, runStatus } from "./commands/status.js";
import { runApplyUntilDone } from "./commands/apply.js";
import { registerDataCommands } from "./commands/data.js";
import { registerSyncCommand } from "./commands/sync.js";
import { registerAdoptCommand } from "./commands/adopt.js";
import { type Restoring, registerBackupCommands } from "./commands/backup.js";
import { examples } from "./commands/help.js";
import { type Plan, type Step, describeStep, planSteps } from "./plan/steps.js";
import { defaultJournalDir } from "./execute/journal.js";
import { type RuntimePush, describePush } from "./agent/runtime.js";
import { createInterface } from "node:readline/promises";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { findRun, listRuns, records, replacedBy } from "./execute/runs.js";
import { runReport } from "./report/model.js";
import { formatCanary, formatRunReport, runReportJson } from "./report/text.js";
import { renderRunHtml } from "./report/html.js";
import { windowDeadline } from "./plan/estimate.js";
import { CANARY_VIA, type CanaryViaOption } from "./canary/route.js";

/** The options apply and runs resume share. */
interface ApplyOptions {
  inventory: string;
  check?: boolean;
  diff?: boolean;
  limit?: string[];
  yes?: boolean;
  json?: boolean;
  parallel?: number;
  acceptNewHostKeys?: boolean;
  journal: string;
  gateTimeout: number;
  settleTimeout: number;
  breakLock?: boolean;
  newEnsemble?: boolean;
  window?: string;
  deadline?: string;
  /** commander's --no-canary: false when given. */
  canary?: boolean;
  canaryVia: CanaryViaOption;
}

/** --deadline: an ISO time, or HH:MM meaning its next occurrence. */
function parseDeadline(text: string, now: Date): Date {
  const hm = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (hm && Number(hm[1]) < 24 && Number(hm[2]) < 60) {
    const d = new Date(now);
    d.setHours(Number(hm[1]), Number(hm[2]), 0, 0);
    if (d <= now) d.setDate(d.getDate() + 1);
    return d;
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new ZkfleetError("usage", `--deadline takes a time like 04:00 or 2026-12-01T04:00:00Z, got "${text}"`, { where: "--deadline" });
  if (d <= now) throw new ZkfleetError("usage", `--deadline ${text} has passed already`, { where: "--deadline" });
  return d;
}

function deadlineOf(o: { window?: string; deadline?: string }, now = new Date()): Date | undefined {
  if (o.window !== undefined && o.deadline !== undefined) {
    throw new ZkfleetError("usage", "give --window or --deadline, not both", { where: "--window/--deadline" });
  }
  if (o.deadline !== undefined) return parseDeadline(o.deadline, now);
  if (o.window === undefined) return undefined;
  const w = windowDeadline(o.window, now);
  if ("error" in w) throw new ZkfleetError("usage", `--window: ${w.error}`, { where: "--window", hint: "run it inside the window, or pass the window you are in" });
  return w.deadline;
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: Io = {
  out: (t) => process.stdout.write(t + "\n"),
  err: (t) => process.stderr.write(t + "\n"),
  env: process.env,
};

function intArg(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) {
      throw new ZkfleetError("usage", `${name} must be a whole number, got "${value}"`, { where: name });
    }
    return Number(value);
  };
}

function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command("zkfleet")
    .description("Operate Apache ZooKeeper ensembles over SSH, keeping quorum throughout")
    .version(packageVersion(), "-V, --version", "print zkfleet's version")
    .addHelpText("after", examples(
      "zkfleet check -i inv.yml              # validate an inventory; touches no host",
      "zkfleet apply -i inv.yml --check      # what apply would do",
      "zkfleet help apply                    # a command's options and examples",
    ))
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const collect = (value: string, previous: string[] = []) => [...previous, value];

  program.command("check")
    .description("validate and lint inventories; touches no host")
    .requiredOption("-i, --inventory <file>", "inventory file (repeat for a fleet)", collect)
    .option("--json", "machine-readable output")
    .action(async (o) => {
      const result = await runCheck(o.inventory);
      const errors = result.findings.filter((f) => f.severity === "error").length;
      const warnings = result.findings.length - errors;
      if (o.json) io.out(JSON.stringify({ ok: result.ok, errors, warnings, findings: result.findings }, null, 2));
      else {
        for (const f of result.findings) io.out(formatFinding(f));
        io.out(`${o.inventory.length} inventor${o.inventory.length === 1 ? "y" : "ies"}: ${errors} error(s), ${warnings} warning(s)${result.ok ? ", ok" : ""}`);
      }
      if (!result.ok) setExit(ExitCode.invalid);
    });

  const loadAll = async (files: string[]) =>
    Promise.all(files.map(async (file) => ({ file, inventory: await loadInventory(file) })));
  const fleetOptions = (o: { parallel?: number; acceptNewHostKeys?: boolean; json?: boolean }, runtimePushes?: RuntimePush[]) => ({
    ...(o.parallel ? { parallel: o.parallel } : {}),
    ...(o.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}),
    // A host without node costs a runtime push on first contact, once per host and node version: say what it cost.
    onRuntimePushed: (_key: string, push: RuntimePush) => {
      runtimePushes?.push(push);
      if (!o.json) io.err(describePush(push));
    },
  });

  program.command("status")
    .description("health of one or more ensembles: per host and per ensemble, with a verdict")
    .requiredOption("-i, --inventory <file>", "inventory file (repeat for a fleet)", collect)
    .option("--json", "machine-readable output")
    .option("--watch [seconds]", "refresh every N seconds (default 5) until interrupted")
    .option("--parallel <n>", "hosts observed at once", intArg("--parallel"), 32)
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts")
    .addHelpText("after", examples(
      "zkfleet status -i orders.yml                    # leader, followers, a verdict; exit 0 only when healthy",
      "zkfleet status -i orders.yml -i billing.yml --json",
      "zkfleet status -i orders.yml --watch 5",
    ))
    .action(async (o) => {
      // Arguments first: a bad --watch must not wait for inventories to load.
      const seconds = o.watch === undefined || o.watch === true ? 5 : Number(o.watch);
      if (!(seconds > 0)) throw new ZkfleetError("usage", `--watch takes a number of seconds, got "${o.watch}"`, { where: "--watch" });
      const inventories = await loadAll(o.inventory);
      const once = async () => {
        const s = await runStatus({ inventories, fleet: fleetOptions(o) });
        io.out(o.json ? JSON.stringify(s, null, 2) : formatStatus(s));
        setExit(s.ensembles.every((e) => e.verdict === "healthy") ? ExitCode.ok : ExitCode.failed);
      };
      if (o.watch === undefined) return once();
      for (;;) {
        if (!o.json) io.out(`\x1b[2J\x1b[H${new Date().toISOString()}  (every ${seconds}s, Ctrl-C to stop)`);
        await once();
        await new Promise((r) => setTimeout(r, seconds * 1000));
      }
    });

  /** apply, and `runs resume` (the same run continued from what the hosts are now). */
  const applyCommand = async (
    o: ApplyOptions,
    resume?: { run: string; lockRun: string; inventoryHash: string },
    restore?: { run: string; files: Map<string, Map<string, string>>; version?: string },
    restoring?: Restoring,
  ) => {
    // apply refuses what check calls an error, so the two never disagree.
    const checked = await runCheck([o.inventory]);
    if (!checked.ok) throw inventoryError(o.inventory, checked.findings.filter((f) => f.severity === "error"));
    if (!o.json) for (const w of checked.findings) io.err(formatFinding(w));
    const deadline = deadlineOf(o);
    const loaded = await loadInventory(o.inventory);
    // A rollback asks for the release the run replaced; everything else comes from the inventory as it is.
    const inventory = restore?.version ? { ...loaded, zookeeper: { ...loaded.zookeeper, version: restore.version as typeof loaded.zookeeper.version } } : loaded;
    const inventoryHash = createHash("sha256").update(await readFile(o.inventory)).digest("hex");
    if (resume && resume.inventoryHash !== inventoryHash) {
      throw new ZkfleetError("usage", `${o.inventory} changed since run ${resume.run} was planned; nothing was changed`, {
        where: o.inventory, hint: "resume continues a run as it was asked for: run `zkfleet apply` with the inventory as it is now instead",
      });
    }
    const human = !o.json;
    // Ctrl-C stops at the next safe point (between steps); a second one exits at once.
    const interrupt = new AbortController();
    const onSigint = () => {
      io.err("interrupted: finishing the current step, then stopping (Ctrl-C again to quit now)");
      interrupt.abort();
      process.once("SIGINT", () => process.exit(130));
    };
    process.once("SIGINT", onSigint);
    let planned: Plan | undefined;
    const runtimePushes: RuntimePush[] = [];
    const withoutContent = (st: Step) => ("content" in st ? { ...st, content: undefined, previous: undefined } : st);
    const result = await runApplyUntilDone({
      signal: interrupt.signal,
      file: o.inventory, inventory, check: !!o.check, limit: o.limit, journalDir: o.journal, fleet: fleetOptions(o, runtimePushes),
      gateTimeoutMs: o.gateTimeout * 1000, settleTimeoutMs: o.settleTimeout * 1000,
      inventoryHash, breakLock: !!o.breakLock, newEnsemble: !!o.newEnsemble, ...(deadline ? { deadline } : {}), canary: { enabled: o.canary !== false, via: o.canaryVia },
      ...(resume ? { resume: { run: resume.run, lockRun: resume.lockRun } } : {}), ...(restore ? { restore: { run: restore.run, files: restore.files } } : {}),
      ...(restoring ? { backup: restoring.spec } : {}),
      confirm: async (plan) => {
        if (o.yes) return true;
        if (!process.stdin.isTTY) return false;
        const rl = createInterface({ input: process.stdin, output: process.stderr });
        try {
          return /^y(es)?$/i.test((await rl.question(`apply ${planSteps(plan).length} step(s) to ${plan.target.name}? [y/N] `)).trim());
        } finally {
          rl.close();
        }
      },
      onPlan: (plan, estimateMs) => {
        planned = plan;
        // A refused plan is reported by the error that follows; "plan of 0 step(s)" would mislead.
        if (!human || plan.refusals.length > 0) return;
        const count = planSteps(plan).length;
        const deferred = plan.deferred ?? [];
        const sayDeferred = () => {
          if (deferred.length === 0) return;
          io.out(` not taken over yet, written with each server's next restart (none is needed for them):`);
          for (const w of deferred) io.out(`  - ${w.host}: ${w.path} (${w.reason})`);
        };
        if (count === 0) {
          io.out(`${plan.target.name}: nothing to do, every host is as the inventory says`);
          return sayDeferred();
        }
        io.out(`${plan.target.name}: plan of ${count} step(s) in ${plan.stages.length} stage(s), about ${Math.ceil(estimateMs / 1000)}s` +
          `${deadline ? ` (the window closes at ${deadline.toISOString()})` : ""}${o.check ? " (check mode: nothing will be changed)" : ""}`);
        plan.stages.forEach((stage, n) => {
          io.out(` stage ${n + 1}/${plan.stages.length}: ${stage.title}${stage.concurrent ? " (hosts in parallel)" : ""}`);
          for (const st of stage.steps) {
            io.out(`  - ${describeStep(st)}`);
            if (o.diff && st.kind === "write_file") io.out(st.diff.split("\n").map((l) => "      " + l).join("\n").trimEnd());
          }
          if (stage.undo) io.out(`    if it does not come back: ${stage.undo.map((u) => u.kind).join(", ")} (previous release and files), then halt`);
        });
        sayDeferred();
        if (plan.continues?.length) io.out(` then, each planned afresh once the one before is done: ${plan.continues.join("; ")}`);
      },
      onStepStart: (st) => human && io.err(`  ... ${describeStep(st)}`),
      onStepDone: (r) => human && io.out(`  ${r.changed ? "changed" : "ok     "} ${describeStep(r.step)} [${(r.ms / 1000).toFixed(1)}s]${r.changed ? "" : ": " + r.message}`),
      onWaiting: (line) => human && io.err(`      ${line}`),
      onCanaryRoute: (_via, reason) => human && io.out(`canary: ${reason}`),
    }, (round, remaining) => human && io.err(`round ${round}: observing again for the next membership change (${remaining.length} left)`)).catch((err: unknown) => {
      // --json gets the refusals as data (code, host, data) as well as the error on stderr.
      if (o.json && planned && planned.refusals.length > 0) {
        io.out(JSON.stringify({ ensemble: planned.target.name, check: !!o.check, executed: false, changed: 0, refusals: planned.refusals }, null, 2));
      }
      throw err;
    }).finally(() => process.removeListener("SIGINT", onSigint));
    const steps = planSteps(result.plan);
    const changed = result.executed ? result.changed : steps.length;
    // A restore's verification belongs to the same report (one JSON document).
    const after = await restoring?.after(result);
    if (o.json) {
      io.out(JSON.stringify({
        ensemble: result.plan.target.name, check: !!o.check, executed: result.executed, changed,
        stages: result.plan.stages.map((stage) => ({ ...stage, steps: stage.steps.map(withoutContent), ...(stage.undo ? { undo: stage.undo.map(withoutContent) } : {}) })),
        steps: steps.map(withoutContent),
        refusals: result.plan.refusals, deferred: result.plan.deferred ?? [],
        results: result.results.map((r) => ({ index: r.index, kind: r.step.kind, host: r.step.host, changed: r.changed, message: r.message, ms: r.ms })),
        final: result.final, journal: result.journal, run: result.runId, canary: result.canary, runtimePushes, ...(after?.json ?? {}),
      }, null, 2));
    } else if (result.executed) {
      const outcome = result.final
        ? `leader ${result.final.leader ?? "none"}, ${result.final.verdict}`
        : "ensemble not awaited (hosts left out by --limit are not running)";
      io.out(`${result.plan.target.name}: ${changed} changed, ${outcome}; journal ${result.journal}`);
      if (result.canary) io.out(formatCanary(result.canary, planSteps(result.plan)));
    }
    if (!o.json) for (const line of after?.lines ?? []) io.out(line);
    setExit(after?.failed ? ExitCode.failed : changed > 0 ? ExitCode.changed : ExitCode.ok);
  };

  /** The options of every command that acts on an ensemble (apply, runs resume, runs rollback). */
  const actingOptions = (cmd: Command) => cmd
    .option("--yes", "do not ask before changing anything")
    .option("--json", "machine-readable output")
    .option("--parallel <n>", "hosts worked on at once", intArg("--parallel"), 16)
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts")
    .option("--journal <dir>", "where run journals are written", defaultJournalDir(io.env))
    .option("--gate-timeout <seconds>", "how long a gate waits for a healthy ensemble before it refuses to stop a server", intArg("--gate-timeout"), 30)
    .option("--settle-timeout <seconds>", "how long a check waits for a restarted server to serve and catch up", intArg("--settle-timeout"), 120)
    .option("--no-canary", "do not run canary clients while servers restart")
    .addOption(new Option("--canary-via <path>", "how the canary reaches the client ports: direct from here, through the SSH connections, " +
      "or auto (direct when every serving server answers from here within 1 s, else ssh)").choices(CANARY_VIA).default("auto"))
    .option("--window <HH:MM-HH:MM>", "the maintenance window: start nothing that cannot finish in it, stop at a safe point before it closes")
    .option("--deadline <time>", "like --window, with only an end (04:00, or an ISO time)");

  actingOptions(program.command("apply")
    .description("bring an ensemble to what its inventory says: create it, roll configuration changes and version upgrades through it, leader last")
    .requiredOption("-i, --inventory <file>", "inventory file")
    .option("--check", "show the plan and change nothing (exit 2 when changes are pending)")
    .option("--diff", "show file changes per host")
    .option("--limit <host>", "change only this host (repeatable); every host is still observed", collect)
    .option("--break-lock", "take the ensemble's lock over from another run (one whose controller is gone)")
    .option("--new-ensemble", "start an empty ensemble even though the journal says one of this name last ran on other hosts (a reused name, not a move)")
    .addHelpText("after", examples(
      "zkfleet apply -i orders.yml --check --diff       # the plan and every file diff; changes nothing",
      "zkfleet apply -i orders.yml --yes                # do it (exit 2: changed); a second run changes nothing",
      "zkfleet apply -i orders.yml --limit zk2 --yes    # only zk2 (every host is still observed)",
      "zkfleet apply -i orders.yml --window 02:00-04:00 --yes",
    )))
    .action((o) => applyCommand(o));

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
    .action((o) => {
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
      const r = findRun(o.journal, run);
      const report = runReport(records(r.file), r.file)!;
      if (o.html) {
        await writeFile(o.html, renderRunHtml(report));
        if (!o.json) io.out(`wrote ${o.html}`);
      }
      if (o.json) io.out(JSON.stringify(runReportJson(report), null, 2));
      else for (const line of formatRunReport(report)) io.out(line);
      setExit(r.outcome === "done" ? ExitCode.ok : ExitCode.failed);
    });
  actingOptions(runs.command("resume <run>")
    .description("continue a run that stopped (killed, interrupted, failed): observe afresh, plan what is still missing, take its lock back"))
    .action(async (run: string, o) => {
      const r = findRun(o.journal, run);
      if (!r.origin) throw new ZkfleetError("usage", `run ${r.run} records no inventory (written by an older zkfleet)`, { where: r.file, hint: "run apply again instead" });
      if (r.outcome === "done") throw new ZkfleetError("usage", `run ${r.run} finished; there is nothing to resume`, { where: r.file, hint: "run apply to change the ensemble again" });
      // A restore is resumed as a restore: apply alone would start members the run had not restored yet, empty.
      const lock = { run: r.run, lockRun: r.origin.lockRun, inventoryHash: r.origin.inventoryHash };
      if (r.origin.restores) return backups.restore({ ...o, inventory: r.origin.inventory, from: r.origin.restores }, lock);
      await applyCommand({ ...o, inventory: r.origin.inventory, ...(r.origin.limit ? { limit: r.origin.limit } : {}) },
        { run: r.run, lockRun: r.origin.lockRun, inventoryHash: r.origin.inventoryHash });
    });
  actingOptions(runs.command("rollback <run>")
    .description("undo a finished or halted run: its servers back on the release and files they had before it, rolling, gated, with the canary")
    .option("--check", "show the plan and change nothing")
    .option("--diff", "show file changes per host"))
    .action(async (run: string, o) => {
      const r = findRun(o.journal, run);
      if (!r.origin) throw new ZkfleetError("usage", `run ${r.run} records no inventory (written by an older zkfleet)`, { where: r.file, hint: "put the previous files back by hand from agent.dir/state/backups" });
      const replaced = replacedBy(r.file);
      if (replaced.files.size === 0 && !replaced.version) {
        throw new ZkfleetError("usage", `run ${r.run} replaced no file and no release: there is nothing to roll back`, { where: r.file });
      }
      await applyCommand({ ...o, inventory: r.origin.inventory }, undefined, { run: r.run, files: replaced.files, ...(replaced.version ? { version: replaced.version } : {}) });
    });

  registerDataCommands(program, io, setExit);
  registerSyncCommand(program, io, setExit);
  const backups = registerBackupCommands(program, io, setExit, fleetOptions, actingOptions,
    (o, restoring, resume) => applyCommand(o as unknown as ApplyOptions, resume, undefined, restoring));
  registerAdoptCommand(program, io, setExit, fleetOptions);
  const lab = program.command("lab").description("a lab of simulated hosts on this machine, to rehearse on");
  const dirOption = () => new Option("--dir <dir>", "lab directory").default(DEFAULT_LAB_DIR);
  const jsonOption = () => new Option("--json", "machine-readable output");

  lab.command("up")
    .description("bring up N simulated hosts, each with its own address, sshd and filesystem view")
    .requiredOption("--hosts <n>", "how many hosts", intArg("--hosts"))
    .addOption(dirOption())
    .option("--subnet <a.b.c>", "loopback /24 for host addresses", DEFAULT_SUBNET)
    .option("--zk-version <version>", "ZooKeeper version for the lab inventory", "3.8.0")
    .option("--preinstall <version>",
      "install and start this ZooKeeper version by hand on every host (no zkfleet, no inventory), to rehearse `zkfleet adopt`")
    .option("--no-node", "hosts on which no node is found over SSH (nothing but SSH and Java), to rehearse zkfleet bringing its own")
    .option("--systemd", "hosts whose pid 1 is systemd (it runs their sshd), to run zookeeper.service: systemd for real")
    .addOption(jsonOption())
    .addHelpText("after", examples(
      "zkfleet lab up --hosts 3 && zkfleet apply -i /var/tmp/zkfleet-lab/inventory.yml --yes",
      "zkfleet lab up --hosts 5 --dir /var/tmp/lab2 --subnet 127.78.0   # a second lab beside the first",
      "zkfleet lab up --hosts 3 --preinstall 3.4.13                     # installed by hand, to rehearse adopt",
      "zkfleet lab down",
    ))
    .action(async (o, cmd: Command) => {
      const started = Date.now();
      const artifacts = defaultArtifactsDir(io.env);
      const progress = o.json ? () => {} : io.err;
      if (o.preinstall !== undefined && cmd.getOptionValueSource("zkVersion") === "cli") {
        throw new ZkfleetError("usage", "--zk-version and --preinstall together: a preinstalled lab has no inventory for --zk-version to go into", {
          where: "--zk-version",
          hint: "drop --zk-version: --preinstall names the version that runs",
        });
      }
      const opts = { hosts: o.hosts, dir: o.dir, subnet: o.subnet, dists: artifacts, preinstall: o.preinstall, noNode: o.node === false, systemd: o.systemd === true };
      validateLabUp(opts);
      await ensureDists({ cacheDir: artifacts, onProgress: progress });
      const state = await labUp({ ...opts, version: o.zkVersion, onProgress: progress });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const next = state.preinstalled ? adoptCommand(state) : undefined;
      if (o.json) {
        io.out(JSON.stringify({ ...state, seconds: Number(seconds), ...(next ? { next } : {}) }, null, 2));
        return;
      }
      io.out(`lab up in ${seconds}s: ${state.hosts.length} hosts in ${state.dir}`);
      for (const h of state.hosts) io.out(`  ${h.name.padEnd(6)} ${h.address.padEnd(15)} ssh root@${h.address}`);
      if (state.preinstalled && next) {
        io.out(`zookeeper:   ${state.preinstalled.version} installed by hand in ${state.preinstalled.home}, not managed by zkfleet (no inventory yet)`);
        io.out(`adopt it:    ${next}`);
      } else {
        io.out(`inventory:   ${state.inventory}`);
      }
      io.out(`ssh config:  ssh -F ${state.dir}/ssh_config zk1`);
      io.out(`stop it:     zkfleet lab down --dir ${state.dir}`);
    });

  lab.command("down")
    .description("stop every process of the lab (by pid) and remove its directory")
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => {
      const r = await labDown(o.dir);
      if (o.json) io.out(JSON.stringify(r));
      else io.out(`lab in ${r.dir} is down (${r.stopped.length} hosts stopped${r.stopped.length ? ": " + r.stopped.join(", ") : ""})`);
    });

  lab.command("status")
    .description("list the lab's hosts and what runs on them")
    .addOption(dirOption())
    .addOption(jsonOption())
    .action(async (o) => {
      const s = await labStatus(o.dir);
      if (o.json) {
        io.out(JSON.stringify(s, null, 2));
        return;
      }
      io.out(`lab ${s.dir}`);
      io.out(`  ${"host".padEnd(6)} ${"address".padEnd(15)} ${"power".padEnd(5)} ${"sshd".padEnd(9)} ${"procs".padEnd(5)} zookeeper`);
      for (const h of s.hosts) {
        const zk = h.zookeeper.length ? h.zookeeper.map((z) => `pid ${z.pid} ${z.state}`).join(", ") : "-";
        io.out(`  ${h.name.padEnd(6)} ${h.address.padEnd(15)} ${h.power.padEnd(5)} ${h.sshd.padEnd(9)} ${String(h.processes).padEnd(5)} ${zk}`);
      }
    });

  lab.command("dists")
    .description("build (once) the ZooKeeper distributions from Debian packages into the artifact cache")
    .option("--version <v...>", `versions (default: ${Object.keys(KNOWN_VERSIONS).join(", ")})`)
    .action(async (o) => {
      const paths = await ensureDists({ cacheDir: defaultArtifactsDir(io.env), versions: o.version, onProgress: io.err });
      for (const [v, p] of paths) io.out(`${v}\t${p}`);
    });

  const faults: [FaultAction, string][] = [
    ["power-off", "kill every process of a host, as pulling its plug would"],
    ["power-on", "boot a powered-off host again (its disks are kept)"],
    ["freeze", "SIGSTOP the host's ZooKeeper"],
    ["thaw", "SIGCONT the host's ZooKeeper"],
    ["cut-ssh", "make the host's sshd stop answering (connections hang)"],
    ["restore-ssh", "undo cut-ssh"],
  ];
  for (const [action, description] of faults) {
    lab.command(`${action} <host>`)
      .description(description)
      .addOption(dirOption())
      .action(async (host: string, o) => io.out(await labFault(action, host, o.dir)));
  }

  return program;
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let code: ExitCode = ExitCode.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.invalid;
    }
    io.err(errorMessage(err));
    return exitCodeFor(err);
  }
}
