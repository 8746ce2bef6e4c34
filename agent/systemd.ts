// The few systemctl queries start/stop need when ZooKeeper runs as a unit.

import { runCommand } from "./run-command.js";

export async function systemdIsActive(unit: string): Promise<boolean> {
  const result = await runCommand(["systemctl", "is-active", "--quiet", unit], { timeoutMs: 30_000 });
  return result.code === 0;
}

export async function systemdMainPid(unit: string): Promise<number | null> {
  const result = await runCommand(["systemctl", "show", "--property=MainPID", "--value", unit], { timeoutMs: 30_000 });
  const pid = Number(result.stdout.trim());
  return result.code === 0 && Number.isInteger(pid) && pid > 0 ? pid : null;
}
