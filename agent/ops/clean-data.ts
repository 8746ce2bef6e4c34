// clean_data: make a joining server start from an empty data directory by
// moving its previous state aside (never deleting it), as the manual
// procedure for adding a server does with rm. Refuses while a ZooKeeper still uses the directory.

import { realpath, rename } from "node:fs/promises";
import { basename, join } from "node:path";
import { exists, freshStampDir, listDir, lstatIfExists, timestamp } from "../fs-util.js";
import { done, failed, type OpOutcome } from "../outcome.js";
import type { OpArgs } from "../../common/protocol.js";
import { pidFileIn, quorumPeersWithConfig, readPidFile } from "../proc.js";

export const MOVED_DIR = ".zkfleet-moved";

/** A `.zkfleet-moved` that is a symlink could carry the moved data outside the configured dir. */
async function movedDirProblem(dir: string): Promise<string | null> {
  const st = await lstatIfExists(join(dir, MOVED_DIR));
  return st === null || st.isDirectory() ? null : `${join(dir, MOVED_DIR)} is not a plain directory`;
}

export async function cleanDataOp(args: OpArgs<"clean_data">): Promise<OpOutcome<"clean_data">> {
  const dirs = [args.data_dir, ...(args.data_log_dir && args.data_log_dir !== args.data_dir ? [args.data_log_dir] : [])];
  for (const dir of dirs) {
    if ((await realpath(dir).catch(() => dir)) === "/") {
      return failed("refused", `refusing to clean ${dir}: it is the root directory`, "Set dataDir to ZooKeeper's own directory.");
    }
    const problem = await movedDirProblem(dir);
    if (problem) return failed("refused", problem, `Move ${join(dir, MOVED_DIR)} away by hand.`);
  }

  const pidFile = pidFileIn(args.data_dir);
  const state = await readPidFile(pidFile);
  const running = state.kind === "zookeeper" ? [state.pid] : [];
  if (args.config_path) running.push(...(await quorumPeersWithConfig(args.config_path)).map((p) => p.pid));
  if (running.length > 0) {
    return failed(
      "refused",
      `ZooKeeper is running (pid ${[...new Set(running)].join(", ")}) on ${args.data_dir}: not touching its data`,
      "Stop the server first.",
    );
  }

  if (args.only_if_logs_without_snapshot) {
    const names = (await Promise.all(dirs.map((dir) => listDir(join(dir, "version-2"))))).flat();
    const snapshots = names.filter((n) => n.startsWith("snapshot.")).length;
    const logs = names.filter((n) => n.startsWith("log.")).length;
    if (snapshots > 0 || logs === 0) {
      return done(false, `nothing to move: ${snapshots} snapshot(s), ${logs} transaction log(s), which any version starts on`, { moved: [] });
    }
  }

  // Each item moves within its own directory: a rename never crosses file systems (dataLogDir often sits on its own disk).
  const stamp = timestamp();
  const items = [
    { dir: args.data_dir, name: "version-2" },
    { dir: args.data_dir, name: basename(pidFile) },
    ...dirs.slice(1).map((dir) => ({ dir, name: "version-2" })),
  ];
  const present = [];
  for (const item of items) if (await exists(join(item.dir, item.name))) present.push(item);
  if (present.length === 0) return done(false, `${dirs.join(" and ")} already clean`, { moved: [] });

  const plan = present.map((i) => ({ from: join(i.dir, i.name), to: join(i.dir, MOVED_DIR, stamp, i.name) }));
  const listing = plan.map((m) => `${m.from} -> ${m.to}`).join("\n");

  const moved = [];
  const targets = new Map<string, string>();
  for (const item of present) {
    let target = targets.get(item.dir);
    if (target === undefined) {
      target = await freshStampDir(join(item.dir, MOVED_DIR), stamp);
      targets.set(item.dir, target);
    }
    const to = join(target, item.name);
    await rename(join(item.dir, item.name), to);
    moved.push({ from: join(item.dir, item.name), to });
  }
  return done(true, `moved aside:\n${moved.map((m) => `${m.from} -> ${m.to}`).join("\n")}`, { moved });
}
