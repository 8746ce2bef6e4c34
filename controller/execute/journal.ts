// The journal: an append-only JSON-lines record of a run on the controller's
// disk: its id, the whole plan and its hash, every step announced before it
// starts (with the state it replaces) and recorded when it ends (with what it
// left behind: backups, the release it switched from). Enough for a person,
// or a later resume or rollback, to know exactly what happened.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Plan } from "../plan/steps.js";

export function defaultJournalDir(env: NodeJS.ProcessEnv): string {
  return env.ZKFLEET_JOURNAL ?? join(env.HOME ?? homedir(), ".zkfleet", "journal");
}

/** A stable digest of a plan: the same plan, the same hash (object keys as the planner builds them). */
export function planHash(plan: Plan): string {
  return createHash("sha256").update(JSON.stringify(plan)).digest("hex");
}

export class Journal {
  readonly path: string;
  /** Names the run in the file name and every record: `<time>-<random>`. */
  readonly runId: string;
  private readonly fd: number;

  constructor(dir: string, ensemble: string, readonly command: string, now = new Date()) {
    const folder = join(dir, ensemble);
    mkdirSync(folder, { recursive: true });
    this.runId = `${now.toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
    this.path = join(folder, `${this.runId}-${command}.jsonl`);
    this.fd = openSync(this.path, "wx", 0o600);
  }

  /**
   * Synchronous and fsynced on purpose: a record must be on disk before the
   * step it announces runs, so that a controller killed at any moment leaves
   * a journal that says what may have happened.
   */
  write(event: string, data: Record<string, unknown>): void {
    writeSync(this.fd, JSON.stringify({ at: new Date().toISOString(), run: this.runId, event, ...data }) + "\n");
    fsyncSync(this.fd);
  }

  /** The first record of a run: the whole plan, file contents included, and its hash. */
  plan(plan: Plan): void {
    this.write("plan", { command: this.command, ensemble: plan.target.name, hash: planHash(plan), plan });
  }

  close(): void {
    closeSync(this.fd);
  }
}
