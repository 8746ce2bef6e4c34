// Which controller process holds a lock, and whether it still runs, as this
// machine's process table says. A pid alone proves nothing (pids are reused):
// the kernel's boot id and this pid namespace say the holder's pid names a
// process here at all, and the start time (clock ticks since boot, field 22 of
// /proc/PID/stat) that it is still the same process. Elsewhere (another
// machine or container, a system without /proc) nothing is known, and the
// lock's lease has to stand in for this.
import { readFileSync, readlinkSync } from "node:fs";
import type { ControllerProcess } from "../../common/protocol.js";

/**
 * running: the holder's process exists and is not stopped; stopped: it exists,
 * suspended (SIGSTOP, Ctrl-Z), and acts again when continued; gone: it no
 * longer exists (or its pid names another process now); unknown: not a
 * process of this machine's process table, as far as can be told.
 */
export type HolderProcess = "running" | "stopped" | "gone" | "unknown";

/** The state and start time in a /proc/PID/stat line; the command name may hold spaces and parentheses. */
export function parseProcStat(stat: string): { state: string; start: string } | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the name: state is field 3, starttime field 22.
  const state = fields[0];
  const start = fields[19];
  return state && start && /^[0-9]+$/.test(start) ? { state, start } : undefined;
}

/**
 * `stat`: the holder pid's /proc/PID/stat here; "no such pid" when the kernel
 * says so; "unreadable" when the pid exists but its stat cannot be read
 * (/proc mounted with hidepid, another user's process).
 */
export function judgeHolder(
  holder: ControllerProcess | null, here: Omit<ControllerProcess, "pid" | "start"> | undefined, stat: string | "no such pid" | "unreadable",
): HolderProcess {
  if (!holder || !here || holder.boot_id !== here.boot_id || holder.pid_ns !== here.pid_ns) return "unknown";
  if (stat === "no such pid") return "gone";
  if (stat === "unreadable") return "unknown";
  const seen = parseProcStat(stat);
  if (!seen) return "unknown";
  if (seen.start !== holder.start) return "gone";
  // Z: exited, not reaped yet; X: dead. T, t: stopped by a signal or a tracer.
  if (seen.state === "Z" || seen.state === "X") return "gone";
  return seen.state === "T" || seen.state === "t" ? "stopped" : "running";
}

const readOr = (read: () => string): string | undefined => {
  try {
    return read();
  } catch {
    return undefined;
  }
};

function machine(): Omit<ControllerProcess, "pid" | "start"> | undefined {
  const bootId = readOr(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
  const pidNs = readOr(() => readlinkSync("/proc/self/ns/pid"));
  return bootId && pidNs ? { boot_id: bootId, pid_ns: pidNs } : undefined;
}

/** This process, as a later controller on this machine would recognise it; undefined without /proc. */
export function thisProcess(): ControllerProcess | undefined {
  const here = machine();
  const stat = readOr(() => readFileSync("/proc/self/stat", "utf8"));
  const start = stat === undefined ? undefined : parseProcStat(stat)?.start;
  return here && start ? { ...here, pid: process.pid, start } : undefined;
}

/** Signal 0 asks the kernel, which hidepid does not blind: ESRCH is the only proof that a pid is free. */
function noSuchPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

export function holderProcess(holder: ControllerProcess | null): HolderProcess {
  if (!holder) return "unknown";
  const stat = readOr(() => readFileSync(`/proc/${holder.pid}/stat`, "utf8"));
  return judgeHolder(holder, machine(), stat ?? (noSuchPid(holder.pid) ? "no such pid" : "unreadable"));
}
