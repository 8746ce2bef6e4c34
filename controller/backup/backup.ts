// `zkfleet backup`: a hot physical backup through the agent of a synced
// follower (or an observer), and a logical export beside it. The physical
// files are what restore puts back; the export is what the restored tree is
// verified against, and a copy any ZooKeeper version can import.
import { createHash } from "node:crypto";
import { mkdir, open, readdir, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { ZkfleetError } from "../../common/errors.js";
import { hex } from "../../common/backup-files.js";
import { sha256File } from "../../common/sha256-file.js";
import type { OpData } from "../../common/protocol.js";
import { expectSuccess } from "../agent-client/client.js";
import type { Credential } from "../data/auth.js";
import { type Cluster, openCluster } from "../data/cluster.js";
import { checkReadable, exportToFile } from "../data/export.js";
import { Fleet, type FleetOptions } from "../fleet/fleet.js";
import type { Inventory } from "../inventory/schema.js";
import { observeServer } from "../observe/observe.js";
import { targetOf } from "../model/target.js";
import { EXPORT_FILE, FILES_DIR, type FileEntry, MANIFEST, type Manifest } from "./manifest.js";
import { checkTxnLog } from "./txn-log.js";
import { compareText } from "../../common/compare.js";

/** Per read_chunk request: big enough that round trips do not dominate, small enough to hold a few in memory. */
const CHUNK = 4 * 1024 * 1024;

export interface Seen {
  host: string;
  mode?: string;
  zxid?: bigint;
  /** What the server says it runs. */
  version?: string;
}

/**
 * The server to copy from: never the leader (it carries the ensemble's
 * writes) unless it serves alone. An observer first (it does not vote),
 * then a follower, and only one whose zxid has reached what the leader had
 * when first seen: it holds every transaction committed before the backup.
 * In order of preference: the next is tried when one holds no snapshot yet.
 */
export function chooseBackupSource(first: readonly Seen[], again: readonly Seen[]): { sources: Seen[]; leaderZxid?: bigint } | { why: string } {
  const standalone = first.length === 1 && first[0]!.mode === "standalone";
  if (standalone) return { sources: [first[0]!] };
  const leader = first.find((s) => s.mode === "leader");
  if (!leader || leader.zxid === undefined) {
    return { why: `no leader answers (${first.map((s) => `${s.host}: ${s.mode ?? "not serving"}`).join(", ")})` };
  }
  const rank = (s: Seen) => (s.mode === "observer" ? 0 : 1);
  const synced = again.filter((s) => (s.mode === "follower" || s.mode === "observer") && s.zxid !== undefined && s.zxid >= leader.zxid!)
    .sort((a, b) => rank(a) - rank(b) || (a.zxid! > b.zxid! ? -1 : a.zxid! < b.zxid! ? 1 : 0) || compareText(a.host, b.host));
  if (synced.length === 0) {
    return { why: `no follower or observer has caught up with the leader ${leader.host} (zxid ${hex(leader.zxid)}): ${again.filter((s) => s.host !== leader.host).map((s) => `${s.host} ${s.mode ?? "not serving"} ${s.zxid === undefined ? "" : hex(s.zxid)}`).join(", ")}` };
  }
  return { sources: synced, leaderZxid: leader.zxid };
}

export interface BackupInput {
  file: string;
  inventory: Inventory;
  out: string;
  /** Replace a DIR that exists (moved aside to DIR.replaced-<time>, never deleted). */
  force: boolean;
  fleet?: FleetOptions;
  /** The export's session: it must read every node, and see digest ACLs whole (ADMIN). */
  auth?: Credential[];
  /** See ZkClientOptions.retryReads. */
  retryReads?: number;
  onProgress?: (line: string) => void;
  /** Told how the export's session reached the ensemble (hosts left out). */
  onNote?: (line: string) => void;
}

export interface BackupResult {
  dir: string;
  manifest: Manifest;
  bytes: number;
  ms: number;
}

async function refuseExisting(out: string, force: boolean): Promise<boolean> {
  const st = await stat(out).catch(() => undefined);
  if (!st) return false;
  if (!st.isDirectory()) throw new ZkfleetError("usage", `${out} exists and is not a directory; nothing was written`, { where: out, hint: "give a new directory with -o" });
  if ((await readdir(out)).length === 0) return false;
  if (!force) {
    throw new ZkfleetError("usage", `${out} exists and is not empty; nothing was written`, {
      where: out, hint: "give a new directory with -o, or --force to move the old one aside (to DIR.replaced-<time>) once the new backup is whole",
    });
  }
  return true;
}

type SourceFile = OpData<"backup_source">["snapshot"];

/** Copies one file through the agent, up to the size listed, checking each piece's sha256. */
async function copyThroughAgent(fleet: Fleet, host: string, f: SourceFile, to: string): Promise<void> {
  const out = await open(to, "wx", 0o600);
  try {
    for (let offset = 0; offset < f.size;) {
      const length = Math.min(CHUNK, f.size - offset);
      const r = await fleet.call(host, "read_chunk", { path: f.path, offset, length });
      const bytes = inflateRawSync(Buffer.from(r.data.deflated, "base64"));
      if (bytes.length !== r.data.bytes || createHash("sha256").update(bytes).digest("hex") !== r.data.sha256) {
        throw new ZkfleetError("agent", `${f.name} from ${host}: the piece at byte ${offset} arrived damaged`, { where: host, hint: "run the backup again" });
      }
      if (bytes.length < length) {
        throw new ZkfleetError("zookeeper", `${f.name} on ${host} shrank to ${offset + bytes.length} bytes while it was copied (listed at ${f.size})`, {
          where: `${host}:${f.path}`, hint: "a server purging old files (autopurge) can remove one mid-copy: run the backup again",
        });
      }
      await out.write(bytes, 0, bytes.length, offset);
      offset += bytes.length;
    }
    await out.sync();
  } finally {
    await out.close();
  }
}

/**
 * The files of the first candidate that holds a complete snapshot. A 3.4
 * follower writes its first snapshot only after snapCount transactions, so
 * a young 3.4 ensemble's followers may hold logs alone, which cannot be
 * restored into 3.5+ (ZOOKEEPER-3056) and are not copied.
 */
async function pickFiles(fleet: Fleet, inv: Inventory, candidates: readonly Seen[]) {
  const zk = inv.zookeeper;
  const reasons: string[] = [];
  for (const source of candidates) {
    const [response] = await fleet.batch(source.host, [{ op: "backup_source", args: { data_dir: zk.data_dir, ...(zk.data_log_dir ? { data_log_dir: zk.data_log_dir } : {}) } }]);
    const result = response!.result;
    if ("error" in result && result.error.code === "not_found") {
      reasons.push(`${source.host}: ${result.error.message}`);
      continue;
    }
    // Any other failure is thrown as the agent's error.
    return { source, files: expectSuccess(source.host, "backup_source", response!) };
  }
  throw new ZkfleetError("zookeeper", `no synced follower or observer holds a complete snapshot (${reasons.join("; ")}); nothing was written`, {
    where: inv.ensemble,
    hint: "a server writes a snapshot every snapCount transactions (3.4 followers none before that): wait for one, or lower snapCount; the leader is never copied from",
  });
}

export async function runBackup(input: BackupInput): Promise<BackupResult> {
  const started = new Date();
  const replace = await refuseExisting(input.out, input.force);
  const temp = `${input.out}.partial-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  // Every node's data and ACL ids: the backup is its owner's alone, its directories as its files.
  await mkdir(dirname(temp), { recursive: true });
  await mkdir(temp, { mode: 0o700 });
  await mkdir(join(temp, FILES_DIR), { mode: 0o700 });
  const inv = input.inventory;
  const target = targetOf(inv, input.file);
  const fleet = await Fleet.open([inv], input.fleet);
  let cluster: Cluster | undefined;
  try {
    // The export, read last, must be allowed to read the whole tree: found out before anything is copied, not after.
    cluster = await openCluster({ kind: "inventory", file: input.file }, {
      ...(input.fleet ? { fleet: input.fleet } : {}), ...(input.auth ? { auth: input.auth } : {}), ...(input.retryReads ? { retryReads: input.retryReads } : {}),
    });
    for (const note of cluster.notes) input.onNote?.(note);
    const readable = await checkReadable(cluster.client, "/").catch((err: unknown) => {
      if (!(err instanceof ZkfleetError)) throw err;
      throw new ZkfleetError(err.source, `the backup's export could not read the tree: ${err.message}; nothing was copied`, { where: err.where, hint: err.hint, cause: err });
    });
    input.onProgress?.(`${readable} node(s) readable by the export's session, ACLs included`);
    const look = () => Promise.all(target.members.map(async (m): Promise<Seen> => {
      const o = await observeServer(fleet, m.host, m.probe);
      const z = o.server?.zxid?.hex;
      const version = o.server?.version;
      return { host: m.host, ...(o.server?.mode ? { mode: o.server.mode } : {}), ...(z ? { zxid: BigInt(z) } : {}), ...(version ? { version } : {}) };
    }));
    const first = await look();
    const chosen = chooseBackupSource(first, await look());
    if ("why" in chosen) {
      throw new ZkfleetError("zookeeper", `no server to back up from: ${chosen.why}; nothing was written`, {
        where: inv.ensemble, hint: "run `zkfleet status`: a backup is taken from a follower or observer that serves and has caught up",
      });
    }
    const { source, files: src } = await pickFiles(fleet, inv, chosen.sources);
    const host = source.host;
    input.onProgress?.(`${host} (${source.mode}): ${src.message}`);
    const entries: FileEntry[] = [];
    const dropped: string[] = [];
    let lastZxid = BigInt(src.data.snapshot.zxid);
    let bytes = 0;
    for (const f of [src.data.snapshot, ...src.data.logs]) {
      const to = join(temp, FILES_DIR, f.name);
      const t0 = Date.now();
      await copyThroughAgent(fleet, host, f, to).catch((err: unknown) => {
        const why = err instanceof ZkfleetError ? err.message : String(err);
        throw new ZkfleetError(err instanceof ZkfleetError ? err.source : "agent", `the backup stopped while copying ${f.name} from ${host}: ${why}; nothing was written to ${input.out}`, {
          where: host, hint: "run the backup again once the ensemble is healthy (`zkfleet status`): it copies from a follower that serves then", cause: err,
        });
      });
      bytes += f.size;
      if (f.kind === "snapshot") {
        entries.push({ name: f.name, kind: f.kind, zxid: f.zxid, size: f.size, sha256: await sha256File(to) });
        input.onProgress?.(`copied ${f.name} (${f.size} bytes) in ${Date.now() - t0} ms`);
        continue;
      }
      // After a torn log, a later one would replay with the cut transactions missing: it is left out.
      if (entries.some((e) => e.cut_at !== null && e.cut_at !== undefined)) {
        dropped.push(f.name);
        await rm(to);
        continue;
      }
      const check = await checkTxnLog(to, true);
      if (check.empty) {
        dropped.push(f.name);
        await rm(to);
        continue;
      }
      if (check.lastZxid !== null && check.lastZxid > lastZxid) lastZxid = check.lastZxid;
      entries.push({
        name: f.name, kind: f.kind, zxid: f.zxid, size: f.size, sha256: await sha256File(to), records: check.records,
        last_zxid: check.lastZxid === null ? null : hex(check.lastZxid), cut_at: check.cutAt,
      });
      input.onProgress?.(`copied ${f.name} (${f.size} bytes, ${check.records} transaction(s)${check.cutAt !== null ? `, cut at byte ${check.cutAt}: ${check.why}` : ""}) in ${Date.now() - t0} ms`);
    }
    // The export is read after the physical copy: nodes it shows changed after last_zxid are the only ones a restore may differ in.
    const exportPath = join(temp, EXPORT_FILE);
    const exported = await exportToFile(cluster.client, exportPath, { root: "/", source: cluster.label });
    input.onProgress?.(`exported ${exported.nodes} node(s) in ${exported.ms} ms`);
    const manifest: Manifest = {
      format: "zkfleet-backup", version: 1, ensemble: inv.ensemble, zookeeper_version: inv.zookeeper.version, server_version: source.version ?? null,
      source: {
        host, mode: source.mode ?? "unknown", zxid: source.zxid === undefined ? null : hex(source.zxid),
        leader_zxid: chosen.leaderZxid === undefined ? null : hex(chosen.leaderZxid),
      },
      snapshot: entries[0]!, logs: entries.slice(1), dropped_logs: dropped, last_zxid: hex(lastZxid),
      export: { file: EXPORT_FILE, size: (await stat(exportPath)).size, sha256: await sha256File(exportPath), nodes: exported.nodes, digest: exported.digest },
      started: started.toISOString(), finished: new Date().toISOString(),
    };
    await writeFile(join(temp, MANIFEST), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    if (replace) await rename(input.out, `${input.out}.replaced-${started.toISOString().replace(/[:.]/g, "-")}`);
    else await rmdir(input.out).catch(() => undefined); // empty, checked above: rename needs it gone
    await rename(temp, input.out);
    return { dir: input.out, manifest, bytes, ms: Date.now() - started.getTime() };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  } finally {
    await cluster?.close();
    await fleet.close();
  }
}
