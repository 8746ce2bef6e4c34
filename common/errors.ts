// Errors are values with a source tag and an actionable hint. The CLI turns
// them into a message and an exit code; nothing below the CLI prints or exits.

export type ErrorSource =
  | "usage"
  | "inventory"
  | "ssh"
  | "agent"
  | "zookeeper"
  | "plan"
  | "lab"
  | "artifact"
  /** Stopped between steps on request (Ctrl-C, SIGTERM): some steps ran, the journal says which. */
  | "interrupted";

export interface ErrorDetails {
  /** Where the problem is: a file, a host, a field. */
  where?: string;
  /** What the user should do about it. */
  hint?: string;
  cause?: unknown;
  /** The transport to the host is gone (not a refusal by the host): a caller may reconnect once. */
  lostConnection?: boolean;
}

export class ZkfleetError extends Error {
  readonly source: ErrorSource;
  readonly where?: string;
  readonly hint?: string;
  readonly lostConnection: boolean;

  constructor(source: ErrorSource, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ZkfleetError";
    this.source = source;
    this.where = details.where;
    this.hint = details.hint;
    this.lostConnection = details.lostConnection ?? false;
  }

  /** One human-readable block: what, where, what to do. */
  describe(): string {
    const lines = [`${this.source} error: ${this.message}`];
    if (this.where) lines.push(`  where: ${this.where}`);
    if (this.hint) lines.push(`  fix:   ${this.hint}`);
    return lines.join("\n");
  }

  toJSON(): Record<string, unknown> {
    return { source: this.source, message: this.message, where: this.where, hint: this.hint };
  }
}

/** Exit codes, stable for automation. */
export const ExitCode = {
  ok: 0,
  /** `diff`: the trees differ (as diff(1) says so with 1; "could not compare" stays `failed`). */
  different: 1,
  /** The run succeeded and changed something (apply), like Ansible's "changed". */
  changed: 2,
  /** Input is invalid: inventory, arguments. Nothing was touched. */
  invalid: 3,
  /** Something failed while operating: a host, SSH, ZooKeeper. */
  failed: 4,
  /** The operation refused to proceed because it would be unsafe. */
  unsafe: 5,
  /** Interrupted at a safe point between steps; what ran is in the journal (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof ZkfleetError) {
    if (err.source === "usage" || err.source === "inventory") return ExitCode.invalid;
    if (err.source === "plan") return ExitCode.unsafe;
    if (err.source === "interrupted") return ExitCode.interrupted;
  }
  return ExitCode.failed;
}

export function errorMessage(err: unknown): string {
  if (err instanceof ZkfleetError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
