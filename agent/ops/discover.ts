// discover: which ZooKeeper servers run on this host, with what config and
// from which release directory. Read-only; for `zkfleet adopt`, which knows
// nothing of a hand-installed host but its address.

import { readFile, readlink, realpath } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { exists } from "../fs-util.js";
import { done, type OpOutcome } from "../outcome.js";
import { DEBIAN_ZOOKEEPER_HOME, type OpArgs, type OpData } from "../../common/protocol.js";
import { configOf, quorumPeers, startedAtMs } from "../proc.js";
import { readFileState } from "./facts.js";
import { unitOfPid } from "../systemd.js";

type Server = OpData<"discover">["servers"][number];

const real = (p: string) => realpath(p).catch(() => resolve(p));

/**
 * The release a server runs from. zkServer.sh puts `<home>/bin/../…` jars on
 * the class path and reads `<home>/conf/zoo.cfg` by default, so both point
 * home; the first candidate holding bin/zkServer.sh wins.
 */
async function homeOf(argv: readonly string[], cwd: string | null, config: string | null): Promise<string | null> {
  const candidates: string[] = [];
  if (config !== null) candidates.push(dirname(dirname(config)));
  for (const entry of classPathOf(argv)) {
    const abs = isAbsolute(entry) ? entry : cwd !== null ? join(cwd, entry) : null;
    if (abs === null) continue;
    // <home>/lib/x.jar, <home>/lib/*.jar, <home>/x.jar, <home>/build/classes
    candidates.push(dirname(dirname(abs)), dirname(abs));
  }
  for (const c of candidates) {
    const dir = await real(c);
    if (await exists(join(dir, "bin", "zkServer.sh"))) return dir;
  }
  return null;
}

/** The entries of a java command line's class path (-cp, -classpath or --class-path), none without one. */
export function classPathOf(argv: readonly string[]): string[] {
  const i = argv.findIndex((a) => a === "-cp" || a === "-classpath" || a === "--class-path");
  return i < 0 ? [] : (argv[i + 1] ?? "").split(":").filter((entry) => entry !== "");
}

/** Debian's init script runs java with -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar, not zkServer.sh. */
export function isDebianClassPath(argv: readonly string[]): boolean {
  return classPathOf(argv).some((entry) => /^\/usr\/share\/java\/zookeeper[^/]*\.jar$/.test(entry));
}

/** The name of a process's real uid, from /proc and /etc/passwd. */
async function userOf(pid: number): Promise<string | null> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => null);
  const uid = status === null ? undefined : /^Uid:\s+(\d+)/m.exec(status)?.[1];
  if (uid === undefined) return null;
  const passwd = await readFile("/etc/passwd", "utf8").catch(() => "");
  return passwd.split("\n").map((l) => l.split(":")).find((f) => f[2] === uid)?.[0] ?? uid;
}

export async function discoverOp(args: OpArgs<"discover">): Promise<OpOutcome<"discover">> {
  const servers: Server[] = [];
  for (const { pid, argv } of await quorumPeers()) {
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => null);
    const named = await configOf(pid, argv);
    const config = named === null ? null : await real(named);
    const debian = isDebianClassPath(argv) && (await exists(join(DEBIAN_ZOOKEEPER_HOME, "bin", "zkServer.sh")));
    servers.push({
      pid, argv, cwd, started_at_ms: await startedAtMs(pid), config, home: debian ? DEBIAN_ZOOKEEPER_HOME : await homeOf(argv, cwd, config),
      config_given: named, layout: debian ? "debian" : null, unit: await unitOfPid(pid), user: await userOf(pid),
    });
  }
  const paths = new Set(servers.flatMap((s) => (s.config === null ? [] : [s.config])));
  if (args.config !== undefined) paths.add(await real(args.config));
  const configs = Object.fromEntries(await Promise.all([...paths].map(async (p) => [p, await readFileState(p)] as const)));
  const names = servers.map((s) => `pid ${s.pid}${s.config ? ` with ${s.config}` : ""}`);
  return done(false, servers.length === 0 ? "no ZooKeeper server runs here" : `found ${names.join(", ")}`, { hostname: hostname(), servers, configs });
}
