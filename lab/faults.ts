import { isSameProcess, processState, signal, waitUntil } from "./proc.js";
import { bootHost, powerOffHost, sshdPids, zooKeeperPids } from "./host.js";
import type { LabHost } from "./plan.js";
import { type LabState, labError, requireLab, writeLabState } from "./state.js";

export type FaultAction = "power-off" | "power-on" | "freeze" | "thaw" | "cut-ssh" | "restore-ssh";

function requireHost(state: LabState, name: string): LabHost {
  const host = state.hosts.find((h) => h.name === name || h.address === name);
  if (!host) {
    throw labError(`no host "${name}" in the lab at ${state.dir}`, name,
      `hosts are ${state.hosts.map((h) => h.name).join(", ")}`);
  }
  return host;
}

/**
 * Fault controls for rehearsals and tests. Each acts on one host and only on
 * processes that live in that host's namespace.
 */
/**
 * A signal is delivered asynchronously: wait (bounded) until every process
 * shows the state it asked for, so that whoever looks next (lab status, a
 * test) sees the fault in place rather than a moment before it.
 */
async function signalAndSettle(pids: readonly number[], sig: "SIGSTOP" | "SIGCONT"): Promise<void> {
  for (const pid of pids) signal(pid, sig);
  const settled = (pid: number) => {
    const state = processState(pid);
    return state === undefined || (sig === "SIGSTOP" ? state === "T" : state !== "T");
  };
  await waitUntil(() => pids.every(settled), 2000);
}

export async function labFault(action: FaultAction, hostName: string, dirOpt?: string): Promise<string> {
  const state = requireLab(dirOpt);
  const host = requireHost(state, hostName);
  const on = !!host.init && isSameProcess(host.init);
  if (action !== "power-on" && !on) {
    throw labError(`host ${host.name} is powered off`, host.name, `power it on first: zkfleet lab power-on ${host.name}`);
  }
  switch (action) {
    case "power-off":
      await powerOffHost(host);
      writeLabState(state);
      return `${host.name} powered off`;
    case "power-on":
      if (on) return `${host.name} is already on`;
      host.init = await bootHost(host);
      writeLabState(state);
      return `${host.name} powered on`;
    case "freeze":
    case "thaw": {
      const pids = zooKeeperPids(host);
      if (pids.length === 0) throw labError(`no ZooKeeper runs on ${host.name}`, host.name, "start it first");
      await signalAndSettle(pids, action === "freeze" ? "SIGSTOP" : "SIGCONT");
      return `${host.name}: ZooKeeper ${action === "freeze" ? "frozen (SIGSTOP)" : "thawed (SIGCONT)"} pid ${pids.join(", ")}`;
    }
    case "cut-ssh":
    case "restore-ssh": {
      // Stopping every sshd of the host (listener and sessions) behaves like a
      // firewall dropping port 22: connects hang and open sessions stall,
      // while ZooKeeper keeps serving.
      const pids = sshdPids(host);
      await signalAndSettle(pids, action === "cut-ssh" ? "SIGSTOP" : "SIGCONT");
      return `${host.name}: ssh ${action === "cut-ssh" ? "cut" : "restored"}`;
    }
  }
}
