// `zkfleet apply`: its flags; the run is cli/acting.ts around
// usecases/acting.ts, both loaded when the command runs.
import type { Command } from "commander";
import type { CommandContext } from "./context.js";
import { type ApplyFlags, actingOptions, collect, examples, once } from "./options.js";

export function register(program: Command, ctx: CommandContext): void {
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
    )), ctx.io.env)
    .action(async (o: ApplyFlags) => (await import("./acting.js")).applyAction(ctx, o));
}
