// stop: end the ZooKeeper named by the pid file, but only after proving from
// /proc that it is a java QuorumPeerMain running with this very config. A pid
// file can outlive its process and the pid can be reused by anything else.

import { readFile, rm } from "node:fs/promises";
import { done, failed, type OpOutcome } from "../outcome.js";
import type { OpArgs, OpData } from "../../common/protocol.js";
import { describePidFile, liveArgv, pidFileIn, quorumPeersWithConfig, readPidFile, samePath } from "../proc.js";
import { describeResult, runCommand } from "../run-command.js";
import { systemdUnitState, unitHoldsServer } from "../systemd.js";

/**
 * Between two looks at /proc for the process to be gone: each costs two small
 * reads, and a rolling restart waits out whatever is left of the last poll on
 * every server it stops (half of it on average).
 */
const POLL_MS = 20;
/** After SIGKILL the kernel only needs to tear the process down. */
const KILL_GRACE_MS = 10_000;

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await liveArgv(pid)) === null) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Remove the pid file only if it still names `pid` (the server may have been restarted meanwhile). */
async function removePidFile(pidFile: string, pid: number | null): Promise<boolean> {
  const text = await readFile(pidFile, "utf8").catch(() => null);
  if (text === null || (pid !== null && text.trim() !== String(pid))) return false;
  await rm(pidFile, { force: true });
  return true;
}

async function stopSystemd(unit: string, pid: number | null): Promise<OpOutcome<"stop">> {
  const idle: OpData<"stop"> = { pid, signal: null, removed_pid_file: false };
  const argv = ["systemctl", "stop", unit];
  const result = await runCommand(argv, { timeoutMs: 300_000 });
  if (result.code !== 0) return failed("command_failed", describeResult(argv, result), `Look at journalctl -u ${unit}.`);
  return done(true, `stopped ${unit}`, idle);
}

export async function stopOp(args: OpArgs<"stop">): Promise<OpOutcome<"stop">> {
  if (args.service.kind === "systemd") {
    const unit = await systemdUnitState(args.service.unit);
    if (unitHoldsServer(unit)) return stopSystemd(args.service.unit, unit.mainPid);
    // Not the unit's: a server started before the switch to systemd is stopped by signal, as under zkServer.sh.
  }
  const pidFile = pidFileIn(args.data_dir);
  let state = await readPidFile(pidFile);
  const idle: OpData<"stop"> = { pid: null, signal: null, removed_pid_file: false };
  if (state.kind === "absent") {
    // No pid file: started by systemd (start-foreground writes none) or by hand; /proc still proves which server it is.
    const [peer] = await quorumPeersWithConfig(args.config_path);
    if (peer) state = { kind: "zookeeper", pid: peer.pid, argv: peer.argv, config: args.config_path };
  }
  switch (state.kind) {
    case "absent":
      return done(false, `not running (${describePidFile(pidFile, state)})`, idle);
    case "garbage":
    case "dead": {
      const pid = state.kind === "dead" ? state.pid : null;
      const what = `not running; ${describePidFile(pidFile, state)}`;
      const removed = await removePidFile(pidFile, pid);
      return done(removed, removed ? `${what}; removed it` : what, { ...idle, pid, removed_pid_file: removed });
    }
    case "other":
      return failed(
        "refused",
        `${pidFile} names pid ${state.pid}, which is not ZooKeeper (${state.argv.slice(0, 4).join(" ")}): not signalling it`,
        `If ZooKeeper is really stopped, move ${pidFile} aside by hand.`,
      );
    case "zookeeper":
      break;
  }
  if (state.config === null || !(await samePath(state.config, args.config_path))) {
    return failed(
      "refused",
      `pid ${state.pid} is a ZooKeeper started with ${state.config ?? "an unknown config"}, not ${args.config_path}: not signalling it`,
      "Check config_path and data_dir: they must be the ones this server was started with.",
    );
  }

  let signal: "SIGTERM" | "SIGKILL" = "SIGTERM";
  process.kill(state.pid, signal);
  if (!(await goneWithin(state.pid, args.timeout_s * 1000))) {
    signal = "SIGKILL";
    process.kill(state.pid, signal);
    if (!(await goneWithin(state.pid, KILL_GRACE_MS))) {
      return failed("timeout", `pid ${state.pid} survived SIGKILL`, "The process is stuck in the kernel (D state?): check the host.");
    }
  }
  const removed = await removePidFile(pidFile, state.pid);
  return done(true, `stopped ZooKeeper pid ${state.pid} with ${signal}`, { pid: state.pid, signal, removed_pid_file: removed });
}
