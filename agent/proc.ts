// Ties a pid to a ZooKeeper server by reading /proc, so that stop never
// signals, and clean_data never ignores, a process it cannot prove is ours.

import { readFile, readdir, readlink, realpath } from "node:fs/promises";
import { basename, isAbsolute, join, resolve } from "node:path";
import { isErrno, readIfExists } from "./fs-util.js";

const QUORUM_PEER_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/** zkServer.sh keeps the server's pid in the config's dataDir under this name. */
export const pidFileIn = (dataDir: string) => join(dataDir, "zookeeper_server.pid");

export type PidFileState =
  | { kind: "absent" }
  | { kind: "garbage"; content: string }
  | { kind: "dead"; pid: number }
  | { kind: "other"; pid: number; argv: string[] }
  | { kind: "zookeeper"; pid: number; argv: string[]; config: string | null };

export interface LiveProcess {
  pid: number;
  argv: string[];
}

/** argv of a live process, or null when it is gone (a zombie counts as gone). */
export async function liveArgv(pid: number): Promise<string[] | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The state letter follows the parenthesised command name, which may itself contain ")".
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return null;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0").filter((arg, i, all) => arg !== "" || i < all.length - 1);
  } catch (err) {
    if (isErrno(err, "ENOENT") || isErrno(err, "ESRCH")) return null;
    throw err;
  }
}

export function isQuorumPeer(argv: readonly string[]): boolean {
  const exe = argv[0] ?? "";
  return (basename(exe) === "java" || basename(exe) === "java.exe") && argv.includes(QUORUM_PEER_MAIN);
}

/** The config file a QuorumPeerMain was given: the argument after the main class, made absolute. */
export async function configOf(pid: number, argv: readonly string[]): Promise<string | null> {
  const arg = argv[argv.indexOf(QUORUM_PEER_MAIN) + 1];
  if (arg === undefined || arg.startsWith("-")) return null;
  if (isAbsolute(arg)) return arg;
  try {
    return resolve(await readlink(`/proc/${pid}/cwd`), arg);
  } catch {
    return null;
  }
}

/** Equal after resolving symlinks (Debian's /etc/zookeeper/conf is one). */
export async function samePath(a: string, b: string): Promise<boolean> {
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  return (await real(a)) === (await real(b));
}

export async function readPidFile(pidFile: string): Promise<PidFileState> {
  const raw = await readIfExists(pidFile);
  if (raw === null) return { kind: "absent" };
  const text = raw.toString("utf8").trim();
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return { kind: "garbage", content: text.slice(0, 40) };
  const pid = Number(text);
  const argv = await liveArgv(pid);
  if (argv === null) return { kind: "dead", pid };
  if (!isQuorumPeer(argv)) return { kind: "other", pid, argv };
  return { kind: "zookeeper", pid, argv, config: await configOf(pid, argv) };
}

export function describePidFile(pidFile: string, state: PidFileState): string {
  switch (state.kind) {
    case "absent":
      return `no pid file at ${pidFile}`;
    case "garbage":
      return `pid file ${pidFile} does not hold a pid (${JSON.stringify(state.content)})`;
    case "dead":
      return `stale pid file ${pidFile}: process ${state.pid} is gone`;
    case "other":
      return `stale pid file ${pidFile}: process ${state.pid} is not ZooKeeper (${state.argv.slice(0, 3).join(" ")})`;
    case "zookeeper":
      return `ZooKeeper running as pid ${state.pid}${state.config ? ` with ${state.config}` : ""}`;
  }
}

/** Every live QuorumPeerMain on the host. */
export async function quorumPeers(): Promise<LiveProcess[]> {
  const found: LiveProcess[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = await liveArgv(pid).catch(() => null);
    if (argv !== null && isQuorumPeer(argv)) found.push({ pid, argv });
  }
  return found;
}

/** Every live QuorumPeerMain on the host started with `config` (whatever its pid file says). */
export async function quorumPeersWithConfig(config: string): Promise<LiveProcess[]> {
  const found: LiveProcess[] = [];
  for (const peer of await quorumPeers()) {
    const cfg = await configOf(peer.pid, peer.argv);
    if (cfg !== null && (await samePath(cfg, config))) found.push(peer);
  }
  return found;
}

/**
 * When a process started, in ms since the epoch: /proc/<pid>/stat's start
 * time (clock ticks since boot; USER_HZ is 100 in the kernel's ABI) plus the
 * boot time from /proc/stat. Null when unreadable.
 */
export async function startedAtMs(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    const btime = /^btime (\d+)$/m.exec(await readFile("/proc/stat", "utf8"))?.[1];
    if (!Number.isFinite(ticks) || btime === undefined) return null;
    return Number(btime) * 1000 + ticks * 10;
  } catch {
    return null;
  }
}
