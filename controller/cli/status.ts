// `zkfleet status`: its flags, --watch, what it prints and its exit code; the
// work is usecases/status.ts, loaded when the command runs.
import type { Command } from "commander";
import { ExitCode, ZkfleetError } from "../../common/errors.js";
import type { CommandContext } from "./context.js";
import { collect, examples, intArg } from "./options.js";

/** How long status --write-probe waits for its write: a healthy ensemble answers in milliseconds, a session takes up to a second or two. */
const WRITE_PROBE_MS = 5000;

export function register(program: Command, { io, setExit, fleetOptions }: CommandContext): void {
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
      const { loadInventory } = await import("../inventory/load.js");
      const inventories = await Promise.all((o.inventory as string[]).map(async (file) => ({ file, inventory: await loadInventory(file) })));
      const [{ committing, runStatus }, { formatStatus }] = await Promise.all([import("../usecases/status.js"), import("./print/status.js")]);
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
}
