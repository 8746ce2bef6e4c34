// The CLI only parses arguments, calls the library and renders results. All
// behaviour lives below it; nothing below it prints or exits.
import "../common/zod-jitless.js";
import { Command, CommanderError, Option } from "commander";
import { ExitCode, ZkfleetError, errorMessage, exitCodeFor } from "../common/errors.js";
import { packageVersion } from "../common/paths.js";
import { type RuntimePush, describePush } from "./agent/runtime.js";
import { CANARY_VIA } from "./canary/route.js";
import type { ApplyOptions, CommandContext, ResumeOf } from "./commands/acting.js";
import { registerAdoptCommand } from "./commands/adopt.js";
import { type Restoring, registerBackupCommands } from "./commands/backup.js";
import { once, registerDataCommands } from "./commands/data.js";
import { examples } from "./commands/help.js";
import { registerLabCommands } from "./commands/lab.js";
import { registerRunsCommands } from "./commands/runs.js";
import { registerSyncCommand } from "./commands/sync.js";
import { defaultJournalDir } from "./execute/journal.js";

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

/** How long status --write-probe waits for its write: a healthy ensemble answers in milliseconds, a session takes up to a second or two. */
const WRITE_PROBE_MS = 5000;

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
      const [{ runCheck }, { formatFinding }] = await Promise.all([import("./commands/check.js"), import("./inventory/findings.js")]);
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

  const loadAll = async (files: string[]) => {
    const { loadInventory } = await import("./inventory/load.js");
    return Promise.all(files.map(async (file) => ({ file, inventory: await loadInventory(file) })));
  };
  const fleetOptions = (o: { parallel?: number; acceptNewHostKeys?: boolean; json?: boolean }, runtimePushes?: RuntimePush[]) => ({
    ...(o.parallel ? { parallel: o.parallel } : {}),
    ...(o.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}),
    // A host without node costs a runtime push on first contact, once per host and node version: say what it cost.
    onRuntimePushed: (_key: string, push: RuntimePush) => {
      runtimePushes?.push(push);
      if (!o.json) io.err(describePush(push));
    },
  });
  const context: CommandContext = { io, setExit, fleetOptions };

  program.command("status")
    .description("health of one or more ensembles: per host and per ensemble, with a verdict")
    .requiredOption("-i, --inventory <file>", "inventory file (repeat for a fleet)", collect)
    .option("--json", "machine-readable output")
    .option("--watch [seconds]", "refresh every N seconds (default 5) until interrupted")
    .option("--parallel <n>", "hosts observed at once", intArg("--parallel"), 32)
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts")
    .option("--write-probe", `also create and delete an ephemeral znode (/zkfleet-probe-N) through each ensemble with a leader: modes do not show a leader that commits nothing (gives up after ${WRITE_PROBE_MS / 1000}s)`)
    .addHelpText("after", examples(
      "zkfleet status -i orders.yml                    # leader, followers, a verdict; exit 0 only when healthy",
      "zkfleet status -i orders.yml --write-probe      # and a write committed (create and delete a znode)",
      "zkfleet status -i orders.yml -i billing.yml --json",
      "zkfleet status -i orders.yml --watch 5",
    ))
    .action(async (o) => {
      // Arguments first: a bad --watch must not wait for inventories to load.
      const seconds = o.watch === undefined || o.watch === true ? 5 : Number(o.watch);
      if (!(seconds > 0)) throw new ZkfleetError("usage", `--watch takes a number of seconds, got "${o.watch}"`, { where: "--watch" });
      const inventories = await loadAll(o.inventory);
      const { committing, formatStatus, runStatus } = await import("./commands/status.js");
      const once = async () => {
        const s = await runStatus({ inventories, fleet: fleetOptions(o), ...(o.writeProbe ? { writeProbe: { timeoutMs: WRITE_PROBE_MS } } : {}) });
        io.out(o.json ? JSON.stringify(s, null, 2) : formatStatus(s));
        setExit(s.ensembles.every((e) => e.verdict === "healthy" && committing(e)) ? ExitCode.ok : ExitCode.failed);
      };
      if (o.watch === undefined) return once();
      for (;;) {
        if (!o.json) io.out(`\x1b[2J\x1b[H${new Date().toISOString()}  (every ${seconds}s, Ctrl-C to stop)`);
        await once();
        await new Promise((r) => setTimeout(r, seconds * 1000));
      }
    });

  /** apply, and `runs resume` (the same run continued from what the hosts are now); loaded only by the commands that act. */
  const applyCommand = async (
    o: ApplyOptions, resume?: ResumeOf, restore?: { run: string; files: Map<string, Map<string, string>>; version?: string }, restoring?: Restoring,
  ) => (await import("./commands/acting.js")).applyCommand(context, o, resume, restore, restoring);

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
    .requiredOption("-i, --inventory <file>", "inventory file", once("-i"))
    .option("--check", "show the plan and change nothing (exit 2 when changes are pending)")
    .option("--diff", "show file changes per host")
    .option("--limit <host>", "change only this host (repeatable); every host is still observed", collect)
    .option("--break-lock", "take the ensemble's lock over from another run whose controller is gone or whose lease has lapsed (never from a live one)")
    .option("--new-ensemble", "start an empty ensemble even though the journal says one of this name last ran on other hosts (a reused name, not a move)")
    .option("--stage", "only push and unpack a new zookeeper.version on every host, restarting nothing: before the window, so that the upgrade in it only restarts")
    .addHelpText("after", examples(
      "zkfleet apply -i orders.yml --check --diff       # the plan and every file diff; changes nothing",
      "zkfleet apply -i orders.yml --yes                # do it (exit 2: changed); a second run changes nothing",
      "zkfleet apply -i orders.yml --limit zk2 --yes    # only zk2 (every host is still observed)",
      "zkfleet apply -i orders.yml --window 02:00-04:00 --yes",
      "zkfleet apply -i orders.yml --stage --yes        # the new release onto every host ahead of the window",
    )))
    .action((o) => applyCommand(o));

  registerRunsCommands(program, io, setExit, actingOptions, {
    apply: (o, resume, restore) => applyCommand(o, resume, restore),
    restore: (o, resume) => backups.restore(o, resume),
  });
  registerDataCommands(program, io, setExit);
  registerSyncCommand(program, io, setExit);
  const backups = registerBackupCommands(program, io, setExit, fleetOptions, actingOptions,
    (o, restoring, resume) => applyCommand(o as unknown as ApplyOptions, resume, undefined, restoring));
  registerAdoptCommand(program, io, setExit, fleetOptions);
  registerLabCommands(program, io, intArg);

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
