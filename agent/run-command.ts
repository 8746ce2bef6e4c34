// Runs a program from an argv vector (never through a shell) and collects its
// output, so no value from a request is ever interpreted by a shell here.

import { ZkfleetError } from "../common/errors.js";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  spawnError?: string;
  /** Left running because `doneWhen` said its work was done (code and signal are null). */
  leftRunning?: boolean;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /**
   * Start the program in its own session. Used for zkServer.sh so the server
   * it backgrounds is not in the agent's process group and outlives the agent.
   */
  detached?: boolean;
  /** Written to the program's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /**
   * On timeout kill the program's whole process group, not just the program:
   * a script that runs its real work as a child (zkCli.sh runs java without
   * exec) would otherwise leave that child behind. Implies its own group.
   */
  killGroupOnTimeout?: boolean;
  /**
   * Asked every `everyMs` while the program runs: once it answers true the
   * program's work is done as far as the caller is concerned, and the program
   * is left to finish on its own (needs `detached`, so that it outlives the
   * agent; its output from then on is not read).
   */
  doneWhen?: { check: () => Promise<boolean>; everyMs: number };
}

/** Keeps only the end of long output: the end of a log says why it failed. */
export function tail(text: string, max = 2000): string {
  return text.length <= max ? text : `...${text.slice(text.length - max)}`;
}

export async function runCommand(argv: readonly string[], options: CommandOptions): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) throw new ZkfleetError("agent", "runCommand called with an empty argv");
  // A program left running must be in its own session, or it would die with the agent.
  if (options.doneWhen && !options.detached) throw new ZkfleetError("agent", "runCommand: doneWhen needs detached");
  // Loaded when a command first runs, not by every agent's start: a batch of lock, facts and status runs none.
  const { spawn } = await import("node:child_process");
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: (options.detached ?? false) || (options.killGroupOnTimeout ?? false),
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let spawnError: string | undefined;
    // Both are "pipe" above; the conditional stdin only loosens their static type.
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    if (options.input !== undefined && child.stdin) {
      // A program that exits without reading all of its input must not crash the agent with EPIPE.
      child.stdin.on("error", () => undefined);
      child.stdin.end(options.input);
    }
    const timer = setTimeout(() => {
      timedOut = true;
      if (options.killGroupOnTimeout && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
          return;
        } catch {
          // The group is gone already; kill the program itself below.
        }
      }
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("error", (err) => (spawnError = err.message));
    let settled = false;
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      const result: CommandResult = { code, signal, stdout, stderr, timedOut };
      resolve(spawnError === undefined ? result : { ...result, spawnError });
    });
    const doneWhen = options.doneWhen;
    if (doneWhen) {
      const ask = async (): Promise<void> => {
        if (settled) return;
        const done = await doneWhen.check().catch(() => false);
        if (settled) return;
        if (!done) {
          setTimeout(() => void ask(), doneWhen.everyMs);
          return;
        }
        settled = true;
        clearTimeout(timer);
        // Nothing of it may keep the agent alive now: its pipes are closed, and it is not waited for.
        child.stdout!.destroy();
        child.stderr!.destroy();
        child.unref();
        resolve({ code: null, signal: null, stdout, stderr, timedOut: false, leftRunning: true });
      };
      setTimeout(() => void ask(), doneWhen.everyMs);
    }
  });
}

/** One line for a failure message: what ran and how it ended. */
export function describeResult(argv: readonly string[], result: CommandResult): string {
  const how = result.spawnError
    ? `could not be started: ${result.spawnError}`
    : result.timedOut
      ? "timed out"
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited with ${result.code}`;
  const output = tail(`${result.stdout}${result.stderr}`.trim(), 1500);
  return `${argv.join(" ")} ${how}${output ? `: ${output}` : ""}`;
}
