// Building the one command string a remote shell sees. SSH has no argv: sshd
// hands a single string to the login shell, so every element is single-quoted
// (the only POSIX quoting with no special characters inside) and nothing a
// user typed can turn into shell syntax.

import { constants } from "node:os";
import { ZkfleetError } from "../../common/errors.js";
import type { RunOptions, RunResult } from "./types.js";

/** POSIX single-quote one argument: `it's` → `'it'\''s'`. */
export function quoteArg(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The argv as one shell command line, every element quoted. */
export function commandLine(argv: readonly string[]): string {
  checkArgv(argv);
  return argv.map(quoteArg).join(" ");
}

/** Rejects argv that no program could receive (empty, or with a NUL byte). */
export function checkArgv(argv: readonly string[]): void {
  if (argv.length === 0) {
    throw new ZkfleetError("usage", "cannot run an empty command", {
      hint: "this is a bug in the caller: pass at least the program name",
    });
  }
  const bad = argv.findIndex((a) => a.includes("\0"));
  if (bad >= 0) {
    throw new ZkfleetError("usage", `argument ${bad} of ${argv[0]} contains a NUL byte`, {
      hint: "a process argument cannot hold NUL; pass binary data through stdin or a file",
    });
  }
}

/** Non-interactive sudo: fails at once instead of waiting for a password prompt. */
export function withSudo(argv: readonly string[]): string[] {
  return ["sudo", "-n", "--", ...argv];
}

/** The argv a connection really executes for run(): validated, bounded by `timeout`, escalated if asked. */
export function effectiveArgv(argv: readonly string[], timeoutMs: number | undefined, sudo: boolean): readonly string[] {
  checkArgv(argv);
  const bounded = withRemoteTimeout(argv, timeoutMs);
  return sudo ? withSudo(bounded) : bounded;
}

/** The program's result, unless sudo itself refused to run it: then a typed error. */
export function unlessSudoRefused(result: RunResult, sudo: boolean, host: string, user: string): RunResult {
  const refusal = sudo ? sudoRefusal(host, user, result) : undefined;
  if (refusal) throw refusal;
  return result;
}

/**
 * When sudo itself refused (as opposed to the program failing), a typed error
 * that says how to fix the host; undefined when the result is the program's own.
 */
export function sudoRefusal(host: string, user: string, result: RunResult): ZkfleetError | undefined {
  const err = result.stderr;
  const where = `${user}@${host}`;
  if (result.code === 1 && /sudo: (a password is required|a terminal is required)/.test(err)) {
    return new ZkfleetError("ssh", `sudo on ${host} wants a password for ${user}`, {
      where,
      hint: `allow ${user} to run commands without a password (sudoers: "${user} ALL=(ALL) NOPASSWD: ALL") or log in as root`,
    });
  }
  if (result.code === 1 && /is not in the sudoers file|is not allowed to run sudo/.test(err)) {
    return new ZkfleetError("ssh", `${user} may not use sudo on ${host}`, {
      where,
      hint: `add a NOPASSWD sudoers rule for ${user}, or log in as root`,
    });
  }
  if (result.code === 127 && /sudo: (command )?not found/.test(err)) {
    return new ZkfleetError("ssh", `sudo is not installed on ${host}`, {
      where,
      hint: "install sudo on the host, or log in as root so no privilege escalation is needed",
    });
  }
  return undefined;
}

/**
 * argv for an atomic write done by a shell under sudo, for logins that are not
 * root: content arrives on stdin, goes to a temp file in the target's directory
 * (so the rename stays on one file system), gets its mode, then replaces the
 * target in one rename. Path and mode travel as positional parameters, never
 * inside the script text.
 */
export function atomicWriteArgv(path: string, mode: number): string[] {
  const script = [
    "set -e",
    "umask 077",
    't=$(mktemp "$(dirname -- "$1")/.zkfleet.XXXXXX")',
    "trap 'rm -f -- \"$t\"' EXIT",
    'cat > "$t"',
    'chmod "$2" "$t"',
    'mv -f -- "$t" "$1"',
    "trap - EXIT",
  ].join("\n");
  return ["sh", "-c", script, "zkfleet-put", path, octalMode(mode)];
}

/** Where put() writes before its rename (also over SFTP): beside the target, dot-named and random. */
export { tempSibling } from "../../common/atomic-file.js";

/** `0o644` → `"0644"`, refusing anything that is not a permission mode. */
export function octalMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new ZkfleetError("usage", `invalid file mode ${mode}`, {
      hint: "use a permission mode between 0o000 and 0o7777, e.g. 0o644",
    });
  }
  return mode.toString(8).padStart(4, "0");
}

type Runner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** put() for logins that need sudo to write: the atomic write above, run privileged. */
export async function putThroughSudo(
  run: Runner,
  host: string,
  path: string,
  content: string | Buffer,
  mode: number,
): Promise<void> {
  const result = await run(atomicWriteArgv(path, mode), { stdin: content, become: true });
  if (result.code !== 0) {
    throw new ZkfleetError("ssh", `cannot write ${path} on ${host}: ${firstLine(result.stderr)}`, {
      where: `${host}:${path}`,
      hint: "check that the directory exists and the file system is writable",
    });
  }
}

/** get() for logins that need sudo to read; bytes are collected raw, not decoded. */
export async function getThroughSudo(run: Runner, host: string, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const result = await run(["cat", "--", path], { become: true, onStdout: (c) => chunks.push(c) });
  if (result.code === 0) return Buffer.concat(chunks);
  if (/No such file or directory/.test(result.stderr)) throw missingFileError(host, path);
  throw new ZkfleetError("ssh", `cannot read ${path} on ${host}: ${firstLine(result.stderr)}`, {
    where: `${host}:${path}`,
  });
}

export function missingFileError(host: string, path: string): ZkfleetError {
  return new ZkfleetError("ssh", `${path} does not exist on ${host}`, {
    where: `${host}:${path}`,
    hint: "check the path, or create the file first",
  });
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] || "no error output";
}

/** How long after our own deadline the host-side `timeout` kills the command. */
const REMOTE_KILL_GRACE_MS = 1000;

/**
 * Bounds a command on the host itself with coreutils `timeout`: closing an SSH
 * channel does not stop a command without a tty, and sshd ignores signal
 * requests on root logins (no privilege separation there). `timeout` runs
 * inside sudo, so it may kill what it started, and it kills the whole process
 * group, grandchildren included. It fires a little after our own deadline so
 * the caller always sees the typed timeout error, never a bare exit 137.
 */
export function withRemoteTimeout(argv: readonly string[], timeoutMs: number | undefined): readonly string[] {
  if (timeoutMs === undefined) return argv;
  const seconds = ((timeoutMs + REMOTE_KILL_GRACE_MS) / 1000).toFixed(3);
  return ["timeout", "-s", "KILL", seconds, ...argv];
}

/** Shell convention for a death by signal: 128 + its number (SIGKILL → 137). */
export function signalExitCode(signal: string): number {
  const name = (signal.startsWith("SIG") ? signal : `SIG${signal}`) as keyof typeof constants.signals;
  return 128 + (constants.signals[name] ?? 0);
}

export function timeoutError(host: string, argv: readonly string[], timeoutMs: number): ZkfleetError {
  // Only the program name: later arguments may carry secrets.
  return new ZkfleetError("ssh", `${argv[0]} on ${host} did not finish within ${timeoutMs} ms and was stopped`, {
    where: host,
    hint: "raise the timeout if the command is just slow, or look at the host for a hung process",
  });
}
