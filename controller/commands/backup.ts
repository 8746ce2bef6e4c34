// The backup and restore commands' CLI. backup runs on its own (it reads and
// changes nothing on the hosts); restore is apply with a restore stage in its
// plan (the lock, the journal, the executor, --check, runs resume), then the
// restored tree verified against the backup's export. The work is loaded
// when one of them runs.
import { resolve } from "node:path";
import type { Command } from "commander";
import { ExitCode } from "../../common/errors.js";
import type { Io } from "../cli.js";
import type { FleetOptions } from "../fleet.js";
import type { RestoreSpec } from "../plan/restore.js";
import type { ApplyResult } from "./apply.js";
import { type AuthFlags, READ_RETRIES, authOptions, credentials, once } from "./data.js";
import { examples } from "./help.js";

/** What restore hands apply: the backup to put in, and what to check once the run is over (for apply's report). */
export interface Restoring {
  spec: Omit<RestoreSpec, "lockRun">;
  after: (result: ApplyResult) => Promise<{ json: Record<string, unknown>; lines: string[]; failed: boolean } | undefined>;
}

export interface RestoreOptions extends AuthFlags {
  inventory: string;
  from: string;
  check?: boolean;
  json?: boolean;
  acceptNewHostKeys?: boolean;
}

export function registerBackupCommands(
  program: Command, io: Io, setExit: (code: ExitCode) => void,
  fleetOptions: (o: { acceptNewHostKeys?: boolean; json?: boolean }) => FleetOptions,
  actingOptions: (c: Command) => Command,
  applyWithRestore: (o: RestoreOptions & Record<string, unknown>, restoring: Restoring, resume?: { run: string; lockRun: string; inventoryHash: string }) => Promise<void>,
) {
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

  const restore = async (o: RestoreOptions & Record<string, unknown>, resume?: { run: string; lockRun: string; inventoryHash: string }) => {
    const [{ loadInventory }, { formatVerification, prepareRestore }, { verifyRestored }] =
      await Promise.all([import("../inventory/load.js"), import("../backup/restore.js"), import("../backup/verify.js")]);
    // The backup is checked whole before any host is contacted: a bad one touches nothing. So are the credentials
    // the verification will read the restored tree with (a resumed restore has those of ZKFLEET_AUTH: the journal keeps none).
    const auth = await credentials(o, io.env);
    const { manifest, spec } = await prepareRestore(await loadInventory(o.inventory), resolve(o.from), auth);
    if (!o.json) io.err(`backup ${o.from}: ${manifest.ensemble} on ZooKeeper ${manifest.zookeeper_version}, ${spec.files.length} file(s) checked, the tree at ${manifest.last_zxid}`);
    await applyWithRestore(o, {
      spec,
      after: async (result) => {
        if (o.check || !result.executed && result.plan.stages.length > 0) return undefined;
        const v = await verifyRestored(o.inventory, o.from, manifest, { fleet: fleetOptions(o), retryReads: READ_RETRIES, auth });
        const verification = { ok: v.ok, lastZxid: v.lastZxid, explained: v.explained, unexplained: v.unexplained, backup: v.report.a, restored: v.report.b };
        return { json: { verification }, lines: formatVerification(v), failed: !v.ok };
      },
    }, resume);
  };

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
    )))
    .action((o) => restore(o));
  return { restore };
}
