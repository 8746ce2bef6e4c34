// facts: what is on the host, read-only. The controller plans from this, so
// every field says what was observed, including "stale pid file".

import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { isAbsolute, join } from "node:path";
import { exists, lstatIfExists, listDir, readIfExists, statIfExists } from "../fs-util.js";
import { done, type OpOutcome } from "../outcome.js";
import type { FileRead, OpArgs, OpData } from "../../common/protocol.js";
import { describePidFile, pidFileIn, quorumPeersWithConfig, readPidFile, startedAtMs } from "../proc.js";
import { unitOfPid } from "../systemd.js";
import { currentRelease, installedReleases } from "../releases.js";

type DirListing = NonNullable<OpData<"facts">["data_dir"]>;
type DataFile = DirListing["snapshots"][number];

/** os-release is shell-style KEY=value with optional quotes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

/** snapshot.1a00000002 → "0x1a00000002"; the suffix is the zxid in hex. */
function zxidSuffix(name: string): string | null {
  const m = /^(?:snapshot|log)\.([0-9a-fA-F]+)$/.exec(name);
  return m?.[1] ? `0x${m[1].toLowerCase()}` : null;
}

function highest(files: DataFile[]): string | null {
  let best: bigint | null = null;
  for (const f of files) {
    if (f.zxid !== null && (best === null || BigInt(f.zxid) > best)) best = BigInt(f.zxid);
  }
  return best === null ? null : `0x${best.toString(16)}`;
}

async function listDataDir(path: string): Promise<DirListing> {
  const v2 = join(path, "version-2");
  const snapshots: DataFile[] = [];
  const logs: DataFile[] = [];
  for (const name of await listDir(v2)) {
    const into = name.startsWith("snapshot.") ? snapshots : name.startsWith("log.") ? logs : null;
    // A running server purges old files (autopurge): one listed a moment ago may be gone.
    const st = into ? await statIfExists(join(v2, name)) : null;
    if (into && st) into.push({ name, size: st.size, zxid: zxidSuffix(name) });
  }
  return {
    path,
    exists: await exists(path),
    version2: await exists(v2),
    snapshots,
    logs,
    highest_snapshot_zxid: highest(snapshots),
    highest_log_zxid: highest(logs),
  };
}

async function configDirFacts(path: string): Promise<NonNullable<OpData<"facts">["config_dir"]>> {
  const files = [];
  for (const name of await listDir(path)) {
    const st = await statIfExists(join(path, name));
    if (st?.isFile()) files.push({ name, size: st.size });
  }
  return { path, exists: await exists(path), files };
}

async function processFacts(dataDir: string, zooCfg: string | undefined): Promise<OpData<"facts">["process"]> {
  const pidFile = pidFileIn(dataDir);
  const state = await readPidFile(pidFile);
  const detail = describePidFile(pidFile, state);
  if (state.kind === "absent") {
    // zkServer.sh start-foreground (a systemd unit) writes no pid file: the server is known by its config in /proc.
    const [peer] = zooCfg === undefined ? [] : await quorumPeersWithConfig(zooCfg);
    if (peer === undefined) return { pid_file: pidFile, state: "absent", pid: null, config: null, started_at_ms: null, detail };
    const unit = await unitOfPid(peer.pid);
    return {
      pid_file: pidFile, state: "running", pid: peer.pid, config: zooCfg!, started_at_ms: await startedAtMs(peer.pid),
      detail: `${detail}; ZooKeeper runs with ${zooCfg} as pid ${peer.pid}${unit ? ` under ${unit}` : ""}`,
    };
  }
  if (state.kind === "zookeeper") {
    return { pid_file: pidFile, state: "running", pid: state.pid, config: state.config, started_at_ms: await startedAtMs(state.pid), detail };
  }
  const pid = state.kind === "garbage" ? null : state.pid;
  return { pid_file: pidFile, state: "stale", pid, config: null, started_at_ms: null, detail };
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message}` : String(err);
}

/** A managed file as it is: its content, absent, or why it cannot be read. */
export async function readFileState(path: string): Promise<FileRead> {
  try {
    let st = await lstatIfExists(path);
    if (st === null) return { state: "absent" };
    // Read through a link to a regular file (Debian's /var/lib/zookeeper/myid points into /etc/zookeeper/conf);
    // write_file still refuses to replace the link.
    if (st.isSymbolicLink()) st = (await statIfExists(path)) ?? st;
    if (!st.isFile()) {
      const what = st.isDirectory() ? "a directory" : st.isSymbolicLink() ? "a symbolic link" : "not a regular file";
      return { state: "unreadable", error: `${path} is ${what}` };
    }
    return { state: "present", content: (await readFile(path)).toString("utf8"), mtime_ms: Math.round(st.mtimeMs) };
  } catch (err) {
    return { state: "unreadable", error: errorText(err) };
  }
}

/** `dynamicConfigFile=` of a zoo.cfg (the last one wins, as in ZooKeeper's parser). */
export function dynamicConfigPath(zooCfg: string): string | null {
  let found: string | null = null;
  for (const line of zooCfg.split("\n")) {
    const m = /^\s*dynamicConfigFile\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1]) found = m[1];
  }
  return found;
}

async function dynamicConfig(zooCfgPath: string): Promise<OpData<"facts">["dynamic_config"]> {
  const cfg = await readFileState(zooCfgPath);
  if (cfg.state !== "present") return null;
  const named = dynamicConfigPath(cfg.content);
  if (named === null) return null;
  // ZooKeeper resolves a relative name against its working directory, which zkfleet does not fix; report it unread.
  if (!isAbsolute(named)) return { path: named, file: { state: "unreadable", error: `dynamicConfigFile ${named} is not an absolute path` } };
  return { path: named, file: await readFileState(named) };
}

export async function factsOp(args: OpArgs<"facts">): Promise<OpOutcome<"facts">> {
  const osText = await readIfExists(args.os_release);
  const os = osText === null ? null : parseOsRelease(osText.toString("utf8"));
  const myid = args.data_dir ? await readIfExists(join(args.data_dir, "myid")) : null;
  const data: OpData<"facts"> = {
    hostname: hostname(),
    node: process.version,
    os: os === null ? null : { id: os.ID ?? "unknown", version_id: os.VERSION_ID ?? null, pretty_name: os.PRETTY_NAME ?? null },
    releases: args.install_dir
      ? {
          dir: args.install_dir,
          versions: await installedReleases(args.install_dir, args.preinstalled),
          current: await currentRelease(args.install_dir, args.preinstalled),
        }
      : null,
    process: args.data_dir ? await processFacts(args.data_dir, args.zoo_cfg) : null,
    myid: myid === null ? null : myid.toString("utf8").trim(),
    data_dir: args.data_dir ? await listDataDir(args.data_dir) : null,
    data_log_dir: args.data_log_dir ? await listDataDir(args.data_log_dir) : null,
    config_dir: args.config_dir ? await configDirFacts(args.config_dir) : null,
    files: Object.fromEntries(await Promise.all(args.files.map(async (p) => [p, await readFileState(p)] as const))),
    dynamic_config: args.zoo_cfg ? await dynamicConfig(args.zoo_cfg) : null,
  };
  return done(false, `facts of ${data.hostname}`, data);
}
