// Runs the real CLI in-process and captures what it prints, so tests can
// assert on output and exit code without spawning a node process per call.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { main } from "../../controller/cli/main.js";
import { packageRoot } from "../../common/paths.js";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/**
 * `args` are the words after `zkfleet` (e.g. ["status", "-i", file, "--json"]).
 * `env` is layered over process.env; it reaches the CLI only through its Io,
 * so tests never mutate the shared process environment.
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["node", "zkfleet", ...args], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: { ...process.env, ...env },
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/**
 * The CLI as a process of its own, SIGKILLed as soon as its output (stdout
 * and stderr) matches `at`; its output, and the signal it ended by (null:
 * it ended before `at` showed). With `group`, it runs as a process group and
 * the whole group is killed (its canary clients too), as when the machine is
 * lost: nothing of it gets to clean up.
 */
export async function runKilledAt(args: string[], env: Record<string, string>, at: RegExp, { group = false } = {}): Promise<{ out: string; signal: NodeJS.Signals | null }> {
  const child = spawn("node", [join(packageRoot(), "bin/zkfleet.js"), ...args], { env: { ...process.env, ...env }, detached: group });
  let out = "";
  let killed = false;
  const onData = (d: Buffer) => {
    out += d;
    if (!killed && at.test(out)) {
      killed = true;
      if (group) process.kill(-child.pid!, "SIGKILL");
      else child.kill("SIGKILL");
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_c, sig) => resolve(sig)));
  return { out, signal };
}
