// Runs a program from an argv vector (never through a shell) and collects its
// output, so no value from a request is ever interpreted by a shell here.

import { spawn } from "node:child_process";
import { ZkfleetError } from "../common/errors.js";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  spawnError?: string;
}

export interface CommandOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /**
   * Start the program in its own session. Used for zkServer.sh so the server
   * it backgrounds is not in the agent's process group and outlives the agent.
   */
  detached?: boolean;
}

/** Keeps only the end of long output: the end of a log says why it failed. */
export function tail(text: string, max = 2000): string {
  return text.length <= max ? text : `...${text.slice(text.length - max)}`;
}

export function runCommand(argv: readonly string[], options: CommandOptions): Promise<CommandResult> {
  const [program, ...args] = argv;
  if (program === undefined) throw new ZkfleetError("agent", "runCommand called with an empty argv");
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: options.detached ?? false,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let spawnError: string | undefined;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.on("error", (err) => (spawnError = err.message));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result: CommandResult = { code, signal, stdout, stderr, timedOut };
      resolve(spawnError === undefined ? result : { ...result, spawnError });
    });
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
