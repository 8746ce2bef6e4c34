// The few systemctl calls start/stop need when ZooKeeper runs as a unit.
// Argument vectors only: the unit name comes from the request.

import { readFile } from "node:fs/promises";
import { describeResult, runCommand } from "./run-command.js";

const TIMEOUT_MS = 30_000;

export interface UnitState {
  /** loaded, not-found, masked...: "not-found" also when systemd has not read a file created since it last looked. */
  load: string;
  /** active, activating (also while waiting out RestartSec), deactivating, inactive, failed... */
  active: string;
  /** The unit file changed on disk since systemd loaded it. */
  needsReload: boolean;
  mainPid: number | null;
}

export async function systemdUnitState(unit: string): Promise<UnitState> {
  const argv = ["systemctl", "show", "--property=LoadState,ActiveState,NeedDaemonReload,MainPID", unit];
  const result = await runCommand(argv, { timeoutMs: TIMEOUT_MS });
  if (result.code !== 0) throw new Error(describeResult(argv, result));
  const props = new Map(result.stdout.split("\n").flatMap((line) => {
    const eq = line.indexOf("=");
    return eq > 0 ? [[line.slice(0, eq), line.slice(eq + 1).trim()] as const] : [];
  }));
  const pid = Number(props.get("MainPID"));
  return {
    load: props.get("LoadState") ?? "",
    active: props.get("ActiveState") ?? "",
    needsReload: props.get("NeedDaemonReload") === "yes",
    mainPid: Number.isInteger(pid) && pid > 0 ? pid : null,
  };
}

/** Running, or about to run again: a stop must go through systemctl, or Restart= would start it behind our back. */
export function unitHoldsServer(state: UnitState): boolean {
  return ["active", "activating", "deactivating", "reloading"].includes(state.active);
}

/**
 * The unit a process runs under, from its cgroup: the last `.service` of the
 * path, on cgroup v2 ("0::/system.slice/zookeeper.service") or v1's
 * name=systemd hierarchy. Null when it runs outside any service.
 */
export function unitOfCgroup(text: string): string | null {
  for (const line of text.split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (path === undefined || (controllers !== "" && controllers !== "name=systemd")) continue;
    const unit = path.split("/").reverse().find((part) => part.endsWith(".service"));
    if (unit !== undefined) return unit;
  }
  return null;
}

export async function unitOfPid(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => null);
  return text === null ? null : unitOfCgroup(text);
}
