// start: launch ZooKeeper with zkServer.sh (or systemctl) unless it already
// runs. It returns once the process exists (with zkServer.sh: once the script
// says so, or once the server answers on the client port the request names,
// whichever comes first); waiting for quorum is the controller's job, since
// only it sees the whole ensemble.

import { rm } from "node:fs/promises";
import { join } from "node:path";
import { sendWord } from "../../common/four-letter.js";
import { exists, readIfExists } from "../fs-util.js";
import { done, failed, type OpOutcome } from "../outcome.js";
import { type OpArgs, zooCfgPath } from "../../common/protocol.js";
import { describePidFile, pidFileIn, quorumPeersWithConfig, readPidFile, samePath } from "../proc.js";
import { currentHome } from "../releases.js";
import { describeResult, runCommand, tail } from "../run-command.js";
import { systemdUnitState } from "../systemd.js";

/** The dataDir a zoo.cfg names: zkServer.sh puts the pid file there, so it must match ours. */
export function dataDirOf(zooCfg: string): string | null {
  for (const line of zooCfg.split("\n")) {
    const m = /^\s*dataDir\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1] !== undefined) return m[1];
  }
  return null;
}

/**
 * systemctl start, after a daemon-reload when systemd's copy of the unit is
 * older than its file (or it has not read the file yet): a unit written by
 * this run takes effect at this start, never a stale one.
 */
async function startSystemd(args: OpArgs<"start">, unit: string): Promise<OpOutcome<"start">> {
  const state = await systemdUnitState(unit);
  if (state.active === "active") {
    return done(false, `${unit} is already active`, { pid: state.mainPid, already_running: true, output: "" });
  }
  // A server started before the switch to systemd holds the ports; the unit takes over at its next restart.
  const [outside] = await quorumPeersWithConfig(zooCfgPath(args.config_dir));
  if (outside) {
    return done(false, `already running as pid ${outside.pid}, outside ${unit}`, { pid: outside.pid, already_running: true, output: "" });
  }
  const reload = state.needsReload || state.load !== "loaded";
  const argvs = [...(reload ? [["systemctl", "daemon-reload"]] : []), ["systemctl", "start", unit]];
  let output = "";
  for (const argv of argvs) {
    const result = await runCommand(argv, { timeoutMs: 120_000 });
    if (result.code !== 0) {
      return failed("command_failed", describeResult(argv, result), `Look at systemctl status ${unit} and journalctl -u ${unit} on the host.`);
    }
    output += result.stdout;
  }
  const { mainPid } = await systemdUnitState(unit);
  return done(true, `${reload ? "reloaded systemd and " : ""}started ${unit}${mainPid ? ` (pid ${mainPid})` : ""}`, {
    pid: mainPid, already_running: false, output: tail(output),
  });
}

export async function startOp(args: OpArgs<"start">): Promise<OpOutcome<"start">> {
  if (args.service.kind === "systemd") return startSystemd(args, args.service.unit);
  const configPath = zooCfgPath(args.config_dir);
  const pidFile = pidFileIn(args.data_dir);
  const state = await readPidFile(pidFile);
  if (state.kind === "zookeeper") {
    if (state.config !== null && (await samePath(state.config, configPath))) {
      return done(false, `already running as pid ${state.pid}`, { pid: state.pid, already_running: true, output: "" });
    }
    return failed(
      "refused",
      `${pidFile} belongs to a ZooKeeper started with ${state.config ?? "an unknown config"}, not ${configPath}`,
      "Two servers share this data directory: stop the other one or fix dataDir in the configs.",
    );
  }
  const [unrecorded] = await quorumPeersWithConfig(configPath);
  if (unrecorded) {
    return done(false, `already running as pid ${unrecorded.pid} (not recorded in ${pidFile})`, {
      pid: unrecorded.pid,
      already_running: true,
      output: "",
    });
  }

  const home = await currentHome(args.install_dir, args.preinstalled);
  const script = join(home, "bin", "zkServer.sh");
  if (!(await exists(script))) {
    return failed("not_found", `${script} does not exist`, "Run install_dist with set_current first.");
  }
  const cfgText = await readIfExists(configPath);
  if (cfgText === null) return failed("not_found", `${configPath} does not exist`, "Write zoo.cfg with write_file first.");
  const cfgDataDir = dataDirOf(cfgText.toString("utf8"));
  if (cfgDataDir === null || !(await samePath(cfgDataDir, args.data_dir))) {
    return failed(
      "invalid_request",
      `${configPath} has dataDir=${cfgDataDir ?? "(missing)"} but the request says ${args.data_dir}`,
      "Pass the config's dataDir as data_dir: zkServer.sh writes its pid file there.",
    );
  }
  const stale = state.kind !== "absent";
  const what = `${stale ? `remove the stale pid file (${describePidFile(pidFile, state)}) and ` : ""}start ZooKeeper with ${configPath}`;

  // zkServer.sh refuses to start while its pid file names any live process.
  if (stale) await rm(pidFile, { force: true });
  // ZOOPIDFILE pins the pid file where stop and facts look for it, whatever the environment says.
  const env: NodeJS.ProcessEnv = { ...process.env, ...args.env, ZOOPIDFILE: pidFile };
  if (args.java_home) env.JAVA_HOME = args.java_home;
  if (args.log_dir) env.ZOO_LOG_DIR = args.log_dir;
  const argv = [script, "--config", args.config_dir, "start"];
  // zkServer.sh sleeps 1 s after launching the JVM, then checks it is alive. A server that answers srvr on its
  // client port has loaded its data and is alive: measured in the lab it does about 0.6 s after the call.
  const probe = args.probe;
  const answers = probe && (async () => (await readPidFile(pidFile)).kind === "zookeeper" &&
    (await sendWord(probe.address, probe.port, "srvr", 200)).kind === "answer");
  const result = await runCommand(argv, { env, timeoutMs: args.timeout_s * 1000, detached: true, ...(answers ? { doneWhen: { check: answers, everyMs: 25 } } : {}) });
  const logHint = `Look at the zookeeper-*.out log in ${args.log_dir ?? join(home, "logs")}.`;
  if (!result.leftRunning && result.code !== 0) return failed("command_failed", describeResult(argv, result), logHint);
  const after = await readPidFile(pidFile);
  if (after.kind !== "zookeeper") {
    return failed("command_failed", `zkServer.sh reported success but ${describePidFile(pidFile, after)}`, logHint);
  }
  return done(true, `started ZooKeeper as pid ${after.pid}${result.leftRunning ? `; it answers on ${probe!.address}:${probe!.port}` : ""}`, {
    pid: after.pid,
    already_running: false,
    output: tail(result.stdout.trim()),
  });
}
