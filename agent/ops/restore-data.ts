// restore_data: a backup's snapshot and logs into a server's data directory.
// The files were pushed to the host beforehand; each is checked against the
// size and sha256 the backup recorded before anything is touched, so a
// corrupt transfer changes nothing. The previous state is moved aside as
// clean_data moves it (never deleted), and the marker is written last: a
// host whose marker names a restore holds that restore's files whole.

import { constants as fsConstants } from "node:fs";
import { copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { syncToDisk, sha256Of, statIfExists, tempSibling, writeAtomic } from "../fs-util.js";
import { done, failed, type OpOutcome } from "../outcome.js";
import type { OpArgs } from "../../common/protocol.js";
import { cleanDataOp } from "./clean-data.js";

export async function restoreDataOp(args: OpArgs<"restore_data">): Promise<OpOutcome<"restore_data">> {
  for (const f of args.files) {
    const st = await statIfExists(f.staged);
    if (!st?.isFile()) return failed("not_found", `${f.name}: ${f.staged} is missing on the host; nothing was touched`, "Run restore again: the controller pushes it first.");
    if (st.size !== f.size) return failed("refused", `${f.name}: ${f.staged} has ${st.size} bytes, the backup recorded ${f.size}; nothing was touched`, "Run restore again to push it afresh.");
    const sum = await sha256Of(f.staged);
    if (sum !== f.sha256) return failed("refused", `${f.name}: ${f.staged} has sha256 ${sum}, the backup recorded ${f.sha256}; nothing was touched`, "Run restore again to push it afresh.");
  }
  const clean = { data_dir: args.data_dir, ...(args.data_log_dir ? { data_log_dir: args.data_log_dir } : {}), ...(args.config_path ? { config_path: args.config_path } : {}), only_if_logs_without_snapshot: false };
  const dirFor = (name: string) => join(name.startsWith("log.") ? (args.data_log_dir ?? args.data_dir) : args.data_dir, "version-2");
  const targets = args.files.map((f) => join(dirFor(f.name), f.name));
  // Refuses while a ZooKeeper uses the directory; moves the old state aside otherwise.
  const aside = await cleanDataOp(clean);
  if (!aside.ok) return aside;
  for (const [i, f] of args.files.entries()) {
    const to = targets[i]!;
    await mkdir(dirFor(f.name), { recursive: true });
    const temp = tempSibling(to);
    try {
      await copyFile(f.staged, temp, fsConstants.COPYFILE_EXCL);
      // The marker written below says the restore is whole: what it vouches for must be on disk first.
      await syncToDisk(temp);
      await rename(temp, to);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    if ((await stat(to)).size !== f.size) return failed("io", `${to} was not written whole`);
  }
  for (const dir of new Set(targets.map((t) => dirname(t)))) await syncToDisk(dir);
  await writeAtomic(args.marker.path, args.marker.content, 0o644);
  for (const f of args.files) await rm(f.staged, { force: true });
  const moved = aside.data.moved.length ? `; moved aside ${aside.data.moved.map((m) => m.from).join(", ")}` : "";
  return done(true, `wrote ${targets.length} file(s) into ${[...new Set(args.files.map((f) => dirFor(f.name)))].join(" and ")}${moved}`, { moved: aside.data.moved, written: targets });
}
