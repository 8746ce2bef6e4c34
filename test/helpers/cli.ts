// Runs the real CLI in-process and captures what it prints, so tests can
// assert on output and exit code without spawning a node process per call.
import { main } from "../../controller/cli.js";

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
