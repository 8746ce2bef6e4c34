// Process bookkeeping for the lab. Everything the lab stops, it stops by pid,
// and only after checking that the pid still names the process it started
// (pids are reused, so a pid alone is not an identity: pid + start time is).
import { readFileSync, readdirSync, readlinkSync } from "node:fs";

export interface ProcRef {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot at process start. */
  startTime: string;
}

function readStat(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const close = raw.lastIndexOf(")");
    return [String(pid), raw.slice(raw.indexOf("(") + 1, close), ...raw.slice(close + 2).trim().split(" ")];
  } catch {
    return undefined;
  }
}

export function procRef(pid: number): ProcRef | undefined {
  const stat = readStat(pid);
  return stat?.[21] === undefined ? undefined : { pid, startTime: stat[21] };
}

/** True when the pid is alive and still the same process (not a zombie, not reused). */
export function isSameProcess(ref: ProcRef): boolean {
  const stat = readStat(ref.pid);
  return stat !== undefined && stat[21] === ref.startTime && stat[2] !== "Z";
}

export function processState(pid: number): string | undefined {
  return readStat(pid)?.[2];
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

function pidNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** Every process living in the same pid namespace as `initPid` (a lab host). */
export function processesInNamespaceOf(initPid: number): number[] {
  const ns = pidNamespace(initPid);
  if (!ns) return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pidNamespace(pid) === ns) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
