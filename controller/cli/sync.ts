// `zkfleet sync --from A --to B`: flags, the checkpoint, signals and what is
// printed; the work is controller/data/sync.ts, loaded when sync runs.
import { resolve } from "node:path";
import type { Command } from "commander";
import { ExitCode, ZkfleetError } from "../../common/errors.js";
import type { Cluster, ClusterSpec } from "../data/cluster.js";
import type { PassTotals, Sync, SyncReport } from "../data/sync.js";
import type { CommandContext } from "./context.js";
import { READ_RETRIES, READ_SESSIONS, type ClusterFlags, authOptions, clusterOptions, examples, juteMaxBufferOption, once, seconds } from "./options.js";

interface SyncFlags extends Omit<ClusterFlags, "zk" | "inventory"> {
  from: string;
  to: string;
  checkpoint?: string;
  once?: boolean;
  delete?: boolean;
  reconcileEvery: number;
  checkpointEvery: number;
  reportEvery: number;
  maxRuntime?: number;
  json?: boolean;
  juteMaxbuffer?: number;
}

/** A live cluster named like diff's sides (an export file is refused: sync follows a live source). */
async function liveSide(text: string, flag: string): Promise<{ spec: ClusterSpec; id: string }> {
  const { parseSide } = await import("../data/sides.js");
  const spec = await parseSide(text);
  if (spec.kind === "file") {
    throw new ZkfleetError("usage", `${flag} ${text} is an export file; sync copies between live clusters`, {
      where: flag, hint: `give a connect string or an inventory; to load a file, use zkfleet import -f ${text}`,
    });
  }
  return { spec, id: spec.kind === "zk" ? `zk:${spec.connect}` : `inventory:${resolve(spec.file)}` };
}

function formatTotals(name: string, t: PassTotals): string {
  return `${name}: ${t.passes} pass(es), ${t.read} node(s) read, ${t.compared} compared on the target, ` +
    `${t.created} created, ${t.updated} updated, ${t.deleted} deleted, ${t.counters} counter(s) moved on, in ${(t.ms / 1000).toFixed(1)}s`;
}

function formatReport(r: SyncReport, formatLag: typeof import("../data/sync.js").formatLag): string {
  return [
    `sync from ${r.source} to ${r.target}: ${r.stopped === "once" ? "mirrored once" : "stopped"} after ${(r.ms / 1000).toFixed(1)}s, ${r.wrote} write(s)`,
    `  checkpoint: ${r.checkpoint ?? "none (--checkpoint FILE keeps progress across restarts)"}${r.checkpoint ? `, knew ${r.checkpointNodesAtStart} node(s) at start` : ""}`,
    `  ${formatTotals("initial copy", r.initial)}`,
    `  ${formatTotals("changes (watches)", r.events)}; ${r.events.watchesFired} watch(es) fired`,
    `  ${formatTotals("reconciles", r.reconciles)}`,
    `  lag, last minute: ${formatLag(r.lag)}; whole run: ${formatLag(r.lag.total)}`,
  ].join("\n");
}

export function register(program: Command, { io, setExit }: CommandContext): void {
  const command = program.command("sync")
    .description("keep a target cluster equal to a live source: an initial copy, then changes as watches report them, with a full reconcile now and then")
    .requiredOption("--from <source>", "the source: a connect string or an inventory (prefix zk: or inventory: to be explicit)", once("--from"))
    .requiredOption("--to <target>", "the target: a connect string or an inventory", once("--to"))
    .option("--checkpoint <file>", "keep progress here (saved every few seconds and at exit): a restart copies only what changed or was not yet copied")
    .option("--checkpoint-every <seconds>", "how often the checkpoint is saved while it runs", seconds("--checkpoint-every"), 2)
    .option("--once", "mirror once and exit (0: nothing to write, 2: wrote)")
    .option("--delete", "delete target nodes the source lacks")
    .option("--reconcile-every <seconds>", "a full pass comparing stats this often (watches miss ACL changes and die with a session)", seconds("--reconcile-every"), 60)
    .option("--report-every <seconds>", "a progress line on stderr this often", seconds("--report-every"), 10)
    .option("--max-runtime <seconds>", "stop by itself after this long, as on SIGTERM", seconds("--max-runtime"))
    .option("--json", "machine-readable report at exit");
  authOptions(command, "both sessions");
  juteMaxBufferOption(command)
    .option("--session-timeout <seconds>", "ZooKeeper session timeout", seconds("--session-timeout"), 30)
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts")
    .addHelpText("after", examples(
      "zkfleet sync --from inventory:old.yml --to 10.0.2.11:2181 --once --delete  # mirror once",
      "zkfleet sync --from old.yml --to new.yml --checkpoint move.ckpt --delete   # follow until Ctrl-C; rerun to resume",
    ))
    .action(async (o: SyncFlags) => {
      const [{ Checkpoint }, { openCluster }, { Sync, formatLag }] =
        await Promise.all([import("../data/checkpoint.js"), import("../data/cluster.js"), import("../data/sync.js")]);
      const from = await liveSide(o.from, "--from");
      const to = await liveSide(o.to, "--to");
      if (from.id === to.id) throw new ZkfleetError("usage", `--from and --to name the same cluster (${from.id})`, { where: "--to" });
      // Refused before any connection: a wrong or broken checkpoint touches nothing.
      const checkpoint = o.checkpoint ? await Checkpoint.load(o.checkpoint, from.id, to.id) : Checkpoint.fresh(from.id, to.id);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      const deadline = o.maxRuntime ? setTimeout(onSignal, o.maxRuntime * 1000) : undefined;
      let sync: Sync | undefined;
      let source: Cluster | undefined;
      let target: Cluster | undefined;
      try {
        const opts = await clusterOptions(o, io.env);
        // The source is only read: a failed client process is replaced (its watches are then gone, so a full pass follows).
        // With --once nothing is watched: the walk reads through a session on each server.
        source = await openCluster(from.spec, {
          ...opts, retryReads: READ_RETRIES, onWatch: (e, p) => sync?.onWatch(e, p), ...(o.once ? { readSessions: READ_SESSIONS } : {}),
        });
        target = await openCluster(to.spec, opts);
        for (const note of [...source.notes, ...target.notes]) io.err(note);
        const limit = await target.writeLimit(o.juteMaxbuffer);
        sync = new Sync(source.client, target.client, {
          checkpoint, ...(o.checkpoint ? { checkpointFile: o.checkpoint } : {}), once: !!o.once, delete: !!o.delete, limit,
          reconcileEveryMs: o.reconcileEvery * 1000, saveEveryMs: o.checkpointEvery * 1000, reportEveryMs: o.reportEvery * 1000, signal: stop.signal, onProgress: (line) => io.err(line),
        });
        const r = await sync.run();
        io.out(o.json ? JSON.stringify(r, null, 2) : formatReport(r, formatLag));
        if (o.once) setExit(r.stopped === "signal" ? ExitCode.interrupted : r.wrote > 0 ? ExitCode.changed : ExitCode.ok);
        else setExit(ExitCode.ok);
      } finally {
        clearTimeout(deadline);
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
        await target?.close();
        await source?.close();
      }
    });
}
