// backup_source and read_chunk: the read-only half of a physical backup.
// ZooKeeper keeps running: it only appends to its newest log and writes new
// snapshots, so the files are chosen and sized once, then read piece by
// piece up to that size. A log read while it is appended to can end in a
// torn transaction; the controller checks every record it received and cuts
// the copy at the first one that is not whole.

import { open } from "node:fs/promises";
import { join } from "node:path";
import { SNAPSHOT_TAIL, hex, logsAfterSnapshot, newestSnapshot, parseDataFileName } from "../../common/backup-files.js";
import { listDir, statIfExists } from "../fs-util.js";
import { done, failed, type OpOutcome } from "../outcome.js";
import type { OpArgs, OpData } from "../../common/protocol.js";

type BackupFile = OpData<"backup_source">["snapshot"];

async function dataFiles(dir: string, kind: "snapshot" | "log"): Promise<(BackupFile & { order: bigint })[]> {
  const v2 = join(dir, "version-2");
  const found = [];
  for (const name of await listDir(v2)) {
    const parsed = parseDataFileName(name);
    if (parsed?.kind !== kind) continue;
    // A running server may purge old files (autopurge) while we list.
    const st = await statIfExists(join(v2, name));
    if (st?.isFile()) found.push({ path: join(v2, name), name, kind, zxid: hex(parsed.zxid), order: parsed.zxid, size: st.size });
  }
  return found;
}

async function endsComplete(path: string, size: number): Promise<boolean> {
  if (size < 10) return false;
  const handle = await open(path, "r");
  try {
    const tail = Buffer.alloc(SNAPSHOT_TAIL.length);
    await handle.read(tail, 0, tail.length, size - tail.length);
    return tail.equals(SNAPSHOT_TAIL);
  } finally {
    await handle.close();
  }
}

export async function backupSourceOp(args: OpArgs<"backup_source">): Promise<OpOutcome<"backup_source">> {
  const snapshots = await dataFiles(args.data_dir, "snapshot");
  const logs = await dataFiles(args.data_log_dir ?? args.data_dir, "log");
  const complete = new Map<string, boolean>();
  for (const s of snapshots) complete.set(s.path, await endsComplete(s.path, s.size));
  const snapshot = newestSnapshot(snapshots, (s) => complete.get(s.path)!);
  if (!snapshot) {
    return failed("not_found", `no complete snapshot in ${join(args.data_dir, "version-2")} (${snapshots.length} snapshot file(s), ${logs.length} log(s))`,
      "Back up from another server, or let this one write a snapshot first (it writes one every snapCount transactions and when it joins a leader).");
  }
  const incomplete = snapshots.filter((s) => s.order > snapshot.order).map((s) => s.name);
  const strip = ({ order: _o, ...f }: BackupFile & { order: bigint }): BackupFile => f;
  const chosen = logsAfterSnapshot(logs, snapshot.order).map(strip);
  const said = `snapshot ${snapshot.name} (${snapshot.size} bytes) and ${chosen.length} log(s)${chosen.length ? ` from ${chosen[0]!.name}` : ""}` +
    (incomplete.length ? `; passed over ${incomplete.join(", ")}, still being written` : "");
  return done(false, said, { snapshot: strip(snapshot), logs: chosen, incomplete_snapshots: incomplete });
}

export async function readChunkOp(args: OpArgs<"read_chunk">): Promise<OpOutcome<"read_chunk">> {
  // Loaded when first needed, not by every agent's start (sha256-file.ts).
  const [{ createHash }, { deflateRawSync }] = await Promise.all([import("node:crypto"), import("node:zlib")]);
  const handle = await open(args.path, "r");
  try {
    const buffer = Buffer.alloc(args.length);
    const { bytesRead } = await handle.read(buffer, 0, args.length, args.offset);
    const bytes = buffer.subarray(0, bytesRead);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    return done(false, `${bytesRead} bytes of ${args.path} at ${args.offset}`, {
      offset: args.offset, bytes: bytesRead, sha256, deflated: deflateRawSync(bytes, { level: 1 }).toString("base64"),
    });
  } finally {
    await handle.close();
  }
}
