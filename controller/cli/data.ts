// The data commands' CLI: export, import and diff parse their flags here and
// call controller/data/ (loaded when one of them runs, not for every
// command); what they print is rendered here. Progress goes to stderr, and
// only when it is a terminal.
import { Writable } from "node:stream";
import type { Command } from "commander";
import { ExitCode, ZkfleetError } from "../../common/errors.js";
import type { DiffKind, DiffReport, DiffSide } from "../data/diff.js";
import type { ExportResult } from "../data/export.js";
import type { ImportReport } from "../data/import-plan.js";
import type { CommandContext, Io } from "./context.js";
import { type ClusterFlags, READ_RETRIES, READ_SESSIONS, authOptions, clusterOptions, examples, juteMaxBufferOption, once, seconds } from "./options.js";

/** --path, checked once the command runs: the znode path schema is not loaded for every command line parsed. */
async function znodePath(value: string): Promise<string> {
  const { ZkPath } = await import("../zk/protocol.js");
  const p = ZkPath.safeParse(value);
  if (!p.success) throw new ZkfleetError("usage", `--path: "${value}" ${p.error.issues[0]?.message ?? "is not a znode path"}`, { where: "--path" });
  return p.data;
}

function withClusterFlags(c: Command, inventory = true): Command {
  c.option("--zk <connect>", "the cluster by connect string: host:port[,host:port...]");
  if (inventory) c.option("-i, --inventory <file>", "the cluster by inventory, reached through SSH (no client port opened to this machine)", once("-i"));
  return authOptions(c)
    .option("--session-timeout <seconds>", "ZooKeeper session timeout", seconds("--session-timeout"), 30)
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts");
}

/** export -o: a file whose directory is not there (or not writable) is refused before anything is contacted. */
async function writableDirOf(file: string): Promise<void> {
  const [{ access, stat }, { constants }, { dirname, resolve }] = await Promise.all([import("node:fs/promises"), import("node:fs"), import("node:path")]);
  const dir = dirname(resolve(file));
  const st = await stat(dir).catch(() => undefined);
  const why = !st ? "does not exist" : !st.isDirectory() ? "is not a directory"
    : await access(dir, constants.W_OK).then(() => undefined, () => "is not writable");
  if (why) throw new ZkfleetError("usage", `-o ${file}: the directory ${dir} ${why}; nothing was read`, { where: dir, hint: "give -o a file in an existing, writable directory" });
}

/** A progress line rewritten in place on a terminal; nothing otherwise. */
function progressLine(): { show: (text: string) => void; clear: () => void } {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  return {
    show: (text) => {
      if (!tty) return;
      shown = true;
      process.stderr.write(`\r\x1b[K${text}`);
    },
    clear: () => {
      if (shown) process.stderr.write("\r\x1b[K");
    },
  };
}

const rate = (n: number, ms: number) => `${Math.round((n / Math.max(ms, 1)) * 1000)}/s`;

/** Lines to io.out as a stream, pacing on the real stdout when that is where they go. */
function linesTo(io: Io): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      io.out(chunk.toString("utf8").replace(/\n$/, ""));
      if (process.stdout.writableLength > 16 << 20) process.stdout.once("drain", () => done());
      else done();
    },
  });
}

function formatExport(r: ExportResult, where: string): string {
  const d = r.dropped;
  const lost = d && (d.ephemeral || d.acl || d.counter)
    ? `\nzktreeutil's XML holds names and text values only, so the file lacks: ${[
      d.ephemeral ? `${d.ephemeral} ephemeral node(s) (left out)` : "", d.acl ? `the ACLs of ${d.acl} node(s) not open to all` : "",
      d.counter ? `the sequence counters of ${d.counter} parent(s)` : "",
    ].filter(Boolean).join(", ")}; export as JSON lines (the default) to keep them`
    : "";
  return `exported ${r.nodes} node(s) (${r.ephemeral} ephemeral, ${r.bytes} bytes of data) in ${(r.ms / 1000).toFixed(1)}s (${rate(r.nodes, r.ms)}) to ${where}; ` +
    `digest ${r.digest}${r.vanished ? `; ${r.vanished} node(s) went away while the walk ran` : ""}${replaced(r.restarts)}${lost}`;
}

const replaced = (restarts: readonly string[]) =>
  restarts.length ? `; the client process failed ${restarts.length} time(s) and was replaced, its reads sent again (${restarts.join("; ")})` : "";

const LIST_MAX = 20;
const listed = (paths: readonly string[]) => paths.slice(0, LIST_MAX).join(", ") + (paths.length > LIST_MAX ? `, ... (${paths.length - LIST_MAX} more)` : "");

function formatImport(r: ImportReport, target: string, policy: string): string {
  const lines = [r.dryRun
    ? `dry run, nothing written: ${r.nodes} node(s) in the file, into ${target}: ${r.created} to create, ${r.unchanged} already as in the file`
    : `${r.nodes} node(s) into ${target}: ${r.created} created, ${r.updated} updated, ${r.unchanged} already as in the file, ` +
      `${r.resumed ? `${r.resumed} written by the run resumed, ` : ""}in ${(r.ms / 1000).toFixed(1)}s (${rate(r.created + r.updated, r.ms)})`];
  if (r.ancestorsCreated.length) lines.push(`  ancestors ${r.dryRun ? "to create" : "created"} (empty, open ACL): ${listed(r.ancestorsCreated)}`);
  if (r.conflicts.length) {
    const fate = r.dryRun ? `would be ${policy === "overwrite" ? "overwritten" : policy === "skip" ? "left as they are" : "refused (--on-conflict fail)"}` : policy === "overwrite" ? "overwritten" : "left as they are";
    lines.push(`  ${r.conflicts.length} existing node(s) differ from the file, ${fate}:`);
    for (const c of r.conflicts.slice(0, LIST_MAX)) lines.push(`    ${c.path} (${c.differences.join(", ")})`);
    if (r.conflicts.length > LIST_MAX) lines.push(`    ... (${r.conflicts.length - LIST_MAX} more)`);
  }
  if (r.unresolved.length) lines.push(`  NOT overwritten (ephemeral on one side only; a session owns it): ${listed(r.unresolved)}`);
  if (r.ephemeralSkipped.length) lines.push(`  ${r.ephemeralSkipped.length} ephemeral node(s) skipped (sessions own them; --ephemeral persistent creates them): ${listed(r.ephemeralSkipped)}`);
  if (r.systemSkipped) lines.push(`  ${r.systemSkipped} node(s) under /zookeeper left alone`);
  const c = r.counters;
  if (c.parents || c.ahead.length) {
    lines.push(`  sequence counters: ${c.parents} parent(s) ${r.dryRun ? "to move on" : "moved on"} with ${c.ops} create/delete call(s) (one create per step${r.dryRun ? "" : ", in multi transactions"})`);
  }
  if (c.ahead.length) lines.push(`    already past the source on the target (cannot go back): ${listed(c.ahead)}`);
  return lines.join("\n");
}

function formatDiffSummary(r: DiffReport): string {
  const side = (name: string, s: DiffReport["a"]) => `${name}: ${s.label}: ${s.nodes} node(s)${s.ephemeral ? ` (+${s.ephemeral} ephemeral)` : ""}, digest ${s.digest}`;
  const kinds = (Object.entries(r.byKind) as [DiffKind, number][]).map(([k, n]) => `${k} ${n}`).join(", ");
  return [
    side("A", r.a), side("B", r.b),
    ...(r.ephemeralOneSided ? [`${r.ephemeralOneSided} ephemeral node(s) on one side only, not compared (sessions own them)`] : []),
    `compared in ${(r.ms / 1000).toFixed(1)}s (${rate(r.a.nodes + r.a.ephemeral, r.ms)} per side)`,
    r.equal ? "equal" : `${r.differences} difference(s): ${kinds}`,
  ].join("\n");
}

export function register(program: Command, { io, setExit }: CommandContext): void {
  withClusterFlags(program.command("export")
    .description("stream a tree to JSON lines (path, data, ACL, ephemeral flag, stats), holding none of it in memory")
    .option("--path <path>", "the subtree to export", "/")
    .option("-o, --output <file>", "write here (complete only once renamed into place) instead of stdout")
    .option("--format <format>", "jsonl (everything: data bytes, ACLs, stats, counters) or xml (zktreeutil's: names and text values only)", "jsonl")
    .addHelpText("after", examples(
      "zkfleet export -i orders.yml -o orders.jsonl               # through SSH: no client port needs to be open",
      "zkfleet export --zk 10.0.1.11:2181 --path /app > app.jsonl",
      "zkfleet export --zk 10.0.1.11:2181 --format xml -o tree.xml   # for zktreeutil; import and diff read its files too",
    )))
    .action(async (o: ClusterFlags & { path: string; output?: string; format: string }) => {
      if (o.format !== "jsonl" && o.format !== "xml") throw new ZkfleetError("usage", `--format takes jsonl or xml, got "${o.format}"`, { where: "--format" });
      const format: "jsonl" | "xml" = o.format;
      const root = await znodePath(o.path);
      if (o.output !== undefined) await writableDirOf(o.output);
      const [{ clusterFrom }, { openCluster }, { exportToFile, exportTree }] =
        await Promise.all([import("../data/sides.js"), import("../data/cluster.js"), import("../data/export.js")]);
      const spec = clusterFrom(o);
      const progress = progressLine();
      const cluster = await openCluster(spec, { ...(await clusterOptions(o, io.env)), retryReads: READ_RETRIES, readSessions: READ_SESSIONS });
      for (const note of cluster.notes) io.err(note);
      try {
        const opts = { root, source: cluster.label, format, onProgress: (p: { nodes: number; ms: number }) => progress.show(`exported ${p.nodes} node(s), ${rate(p.nodes, p.ms)}`) };
        const r = o.output ? await exportToFile(cluster.client, o.output, opts) : await exportTree(cluster.client, linesTo(io), opts);
        progress.clear();
        (o.output ? io.out : io.err)(formatExport(r, o.output ?? "stdout"));
      } finally {
        progress.clear();
        await cluster.close();
      }
    });

  juteMaxBufferOption(withClusterFlags(program.command("import")
    .description("write an export file into a cluster: parents first, data and ACLs exact, sequence counters continued; the file is checked whole first")
    .requiredOption("-f, --file <file>", "an export file (JSON lines, or zktreeutil's XML)")
    .option("--dry-run", "read the target and say what would be created, changed and skipped; write nothing")
    .option("--on-conflict <policy>", "an existing node that differs: fail (refuse before writing), skip (leave it), overwrite", "fail")
    .option("--ephemeral <how>", "ephemeral nodes: skip, or create them as persistent", "skip")
    .option("--no-counters", "do not continue sequence counters")
    .option("--checkpoint <file>", "keep how far the import is here (after every batch written; removed once it completes): run again with it to resume")
    .option("--json", "machine-readable report")
    .addHelpText("after", examples(
      "zkfleet import -i billing.yml -f orders.jsonl --dry-run     # what would be created, changed, skipped",
      "zkfleet import -i billing.yml -f orders.jsonl --on-conflict skip",
      "zkfleet import --zk 10.0.2.11:2181 -f orders.jsonl --auth-file ~/.zkfleet/billing.auth --jute-maxbuffer 4194304",
      "zkfleet import -i billing.yml -f orders.jsonl --checkpoint orders.ckpt   # killed? the same command resumes",
    ))))
    .action(async (o: ClusterFlags & {
      file: string; dryRun?: boolean; onConflict: string; ephemeral: string; counters: boolean; checkpoint?: string; json?: boolean; juteMaxbuffer?: number;
    }) => {
      if (!["skip", "overwrite", "fail"].includes(o.onConflict)) throw new ZkfleetError("usage", `--on-conflict takes skip, overwrite or fail, got "${o.onConflict}"`, { where: "--on-conflict" });
      if (!["skip", "persistent"].includes(o.ephemeral)) throw new ZkfleetError("usage", `--ephemeral takes skip or persistent, got "${o.ephemeral}"`, { where: "--ephemeral" });
      const [{ clusterFrom }, { openCluster }, { runImport }] =
        await Promise.all([import("../data/sides.js"), import("../data/cluster.js"), import("../data/import.js")]);
      const spec = clusterFrom(o);
      const progress = progressLine();
      const cluster = await openCluster(spec, await clusterOptions(o, io.env));
      for (const note of cluster.notes) io.err(note);
      try {
        let total = 0;
        let ignored: string[] = [];
        const limit = await cluster.writeLimit(o.juteMaxbuffer);
        const r = await runImport(cluster.client, {
          file: o.file, dryRun: !!o.dryRun, onConflict: o.onConflict as "skip" | "overwrite" | "fail", ephemeral: o.ephemeral as "skip" | "persistent",
          counters: o.counters, versions: () => cluster.versions(), limit, ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
          onChecked: (s) => {
            total = s.nodes;
            ignored = s.ignored;
            progress.show(`${o.file}: ${s.nodes} node(s), checked`);
          },
          onProgress: (p) => progress.show(`${o.dryRun ? "checked against the target" : "imported"} ${p.nodes}/${total} node(s), ${rate(p.nodes, p.ms)}`),
        });
        progress.clear();
        const { describeLimit, packetLimit } = await import("../data/packet-size.js");
        io.out(o.json ? JSON.stringify({ target: cluster.label, file: o.file, ...r, ignored, limit: { ...limit, packetLimit: packetLimit(limit) } }, null, 2)
          : formatImport(r, cluster.label, o.onConflict) + (ignored.length ? `\n  ${ignored.length} subtree(s) the file marks ignore, left alone: ${listed(ignored)}` : "") +
            `\n  sizes checked against ${describeLimit(limit)}`);
        const changes = r.created + r.updated + r.counters.parents + r.ancestorsCreated.length + (r.dryRun && o.onConflict === "overwrite" ? r.conflicts.length : 0);
        setExit(r.unresolved.length > 0 ? ExitCode.failed : changes > 0 ? ExitCode.changed : ExitCode.ok);
      } finally {
        progress.clear();
        await cluster.close();
      }
    });

  authOptions(program.command("diff <a> <b>")
    .description("compare two trees, each a connect string, an inventory or an export file: every difference by path, a digest of each side; " +
      "exit 0 when equal, 1 when they differ, 4 when they could not be compared")
    .option("--path <path>", "the subtree of live sides (default: an export file's root, else /)"), "live sessions")
    .option("--session-timeout <seconds>", "ZooKeeper session timeout", seconds("--session-timeout"), 30)
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts")
    .option("--json", "machine-readable report (differences included)")
    .addHelpText("after", examples(
      "zkfleet diff orders.jsonl billing.yml                      # an export file against a live cluster (by inventory)",
      "zkfleet diff zk:10.0.1.11:2181 inventory:billing.yml --path /app",
    ) + "\n\nExit status (as diff(1)): 0 the trees are equal, 1 they differ, 3 bad arguments, 4 they could not be compared (a side unreachable or unreadable).")
    .action(async (a: string, b: string, o: ClusterFlags & { path?: string; json?: boolean }) => {
      const path = o.path === undefined ? undefined : await znodePath(o.path);
      const [{ openSide, outside, parseSide }, { readHeader }, { diffTrees }] =
        await Promise.all([import("../data/sides.js"), import("../data/read-file.js"), import("../data/diff.js")]);
      const [sa, sb] = [await parseSide(a), await parseSide(b)];
      const file = [sa, sb].find((s) => s.kind === "file");
      const defaultRoot = file?.kind === "file" ? ((await readHeader(file.file))?.root ?? "/") : "/";
      const opts = { ...(await clusterOptions(o, io.env)), retryReads: READ_RETRIES, readSessions: READ_SESSIONS };
      const left = await openSide(sa, path, defaultRoot, opts);
      try {
        const right = await openSide(sb, path, defaultRoot, opts);
        try {
          for (const note of [...left.notes, ...right.notes]) io.err(note);
          const entries: { path: string; kind: DiffKind; detail?: string }[] = [];
          const ignored = [...left.ignored, ...right.ignored];
          const side = (x: typeof left): DiffSide => ({ label: x.label, nodes: outside(x.nodes, ignored) });
          const r = await diffTrees(side(left), side(right), (d) => (o.json ? entries.push(d) : io.out(`${d.kind.padEnd(9)} ${d.path}${d.detail ? `  ${d.detail}` : ""}`)));
          io.out(o.json ? JSON.stringify({ ...r, ignored, entries }, null, 2)
            : formatDiffSummary(r) + (ignored.length ? `\n${ignored.length} subtree(s) marked ignore in an XML file, not compared: ${listed(ignored)}` : ""));
          for (const side of [left, right]) if (side.restarts().length) io.err(`${side.label}${replaced(side.restarts()).replace(/^;/, ":")}`);
          setExit(r.equal ? ExitCode.ok : ExitCode.different);
        } finally {
          await right.close();
        }
      } finally {
        await left.close();
      }
    });
}
