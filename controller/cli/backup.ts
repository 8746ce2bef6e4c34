// The backup and restore commands' CLI. backup runs on its own (it reads and
// changes nothing on the hosts); restore is apply with a restore stage in its
// plan (the lock, the journal, the executor, --check, runs resume), then the
// restored tree verified against the backup's export. The work is loaded
// when one of them runs.
import type { Command } from "commander";
import { ExitCode } from "../../common/errors.js";
import type { CommandContext } from "./context.js";
import { type AuthFlags, READ_RETRIES, actingOptions, authOptions, credentials, examples, once } from "./options.js";

export function register(program: Command, ctx: CommandContext): void {
  const { io, setExit, fleetOptions } = ctx;
  authOptions(program.command("backup")
    .description("hot backup of a running ensemble: the newest snapshot and the logs after it from a synced follower, checksummed, and an export of the tree")
    .requiredOption("-i, --inventory <file>", "the ensemble to back up", once("-i"))
    .requiredOption("-o, --out <dir>", "a new (or empty) directory for the backup"), "the export's session (it reads every node, ACLs whole)")
    .option("--force", "replace a backup already in --out (the old one is moved to DIR.replaced-<time>, never deleted)")
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts")
    .option("--json", "machine-readable output")
    .addHelpText("after", examples(
      "zkfleet backup -i orders.yml -o /backups/orders-2026-11-29     # writes DIR.partial-<pid>, renamed to DIR once whole",
      "zkfleet backup -i orders.yml -o /backups/orders-2026-11-29 --auth-file ~/.zkfleet/orders.auth   # digest ACLs: an admin's credentials",
      "zkfleet restore -i orders-dr.yml --from /backups/orders-2026-11-29 --check",
    ))
    .action(async (o: AuthFlags & { inventory: string; out: string; force?: boolean; acceptNewHostKeys?: boolean; json?: boolean }) => {
      const auth = await credentials(o, io.env);
      const [{ loadInventory }, { runBackup }] = await Promise.all([import("../inventory/load.js"), import("../backup/backup.js")]);
      const inventory = await loadInventory(o.inventory);
      const r = await runBackup({
        file: o.inventory, inventory, out: o.out, force: !!o.force, fleet: fleetOptions(o), auth, retryReads: READ_RETRIES,
        onProgress: (line) => !o.json && io.err(`  ${line}`), onNote: (line) => io.err(line),
      });
      const m = r.manifest;
      if (o.json) io.out(JSON.stringify({ dir: r.dir, bytes: r.bytes, ms: r.ms, manifest: m }, null, 2));
      else {
        io.out(`${m.ensemble}: backup in ${r.dir} from ${m.source.host} (${m.source.mode}), ${m.snapshot.name} + ${m.logs.length} log(s) to ${m.last_zxid}, ` +
          `${(r.bytes / 1e6).toFixed(1)} MB copied, export of ${m.export.nodes} node(s) (${m.export.digest}), ${(r.ms / 1000).toFixed(1)}s`);
        const cut = m.logs.find((l) => l.cut_at !== null && l.cut_at !== undefined);
        if (cut) io.out(`  ${cut.name}: its last record was being written during the copy and was left out (the backup ends at ${m.last_zxid})`);
      }
      setExit(ExitCode.ok);
    });

  actingOptions(authOptions(program.command("restore")
    .description("restore a backup into a stopped or new ensemble: every member from the same backup, then the tree verified against the backup's export")
    .requiredOption("-i, --inventory <file>", "the ensemble to restore into (stopped, or not installed yet)", once("-i"))
    .requiredOption("--from <dir>", "a directory `zkfleet backup` wrote"), "the verification's session (it reads every node, ACLs whole)")
    .option("--check", "check the backup and show the plan; change nothing")
    .option("--break-lock", "take the ensemble's lock over from another run whose controller is gone or whose lease has lapsed (never from a live one)")
    .addHelpText("after", examples(
      "zkfleet restore -i orders-dr.yml --from /backups/orders-2026-11-29 --check   # the backup checked, the plan shown",
      "zkfleet restore -i orders-dr.yml --from /backups/orders-2026-11-29 --yes",
      "zkfleet runs resume RUN --yes                                                # a restore that was killed: finishes it",
    )), io.env)
    .action(async (o) => (await import("./acting.js")).restoreAction(ctx, o));
}
