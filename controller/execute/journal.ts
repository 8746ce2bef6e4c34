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

/** A run's name: sortable by time, unique by its random tail. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`;
}

/** What the first record says about where a run came from, so `runs resume` can check nothing changed since. */
export interface RunOrigin {
  inventory: string;
  /** sha256 of the inventory file as it was read. */
  inventoryHash: string;
  /** The run id the ensemble lock is held under (the original run's, when resumed). */
  lockRun: string;
  /** The run this one continues. */
  resumes?: string;
  /** The run this one undoes. */
  rollsBack?: string;
  /** The backup directory a restore puts back. */
  restores?: string;
  limit?: string[];
}

export class Journal {
  readonly path: string;
  private readonly fd: number;

  /** runId names the run in the file name and every record. */
  constructor(dir: string, ensemble: string, readonly command: string, readonly runId: string = newRunId()) {
    const folder = join(dir, ensemble);
    mkdirSync(folder, { recursive: true });
    this.path = join(folder, `${this.runId}-${command}.jsonl`);
    this.fd = openSync(this.path, "wx", 0o600);
  }

  /**
   * Synchronous: a controller killed at any moment loses no record written,
   * since the kernel has it. A `durable` one is fsynced too, with every record
   * before it: a step that acts is announced so before it runs, so that even a
   * controller's machine that crashes leaves a journal saying what may have
   * happened. The others (what ended, what was seen) reach the disk with the
   * next announcement or at close: an fsync per record cost a 3-server roll
   * about 20 ms here, and far more on a spinning disk.
   */
  write(event: string, data: Record<string, unknown>, { durable = false }: { durable?: boolean } = {}): void {
    writeSync(this.fd, JSON.stringify({ at: new Date().toISOString(), run: this.runId, event, ...data }) + "\n");
    if (durable) fsyncSync(this.fd);
  }

  /** Where the run came from; written before its plan. */
  origin?: RunOrigin;

  /** The first record of a run: where it came from, the whole plan, file contents included, and its hash. */
  plan(plan: Plan): void {
    this.write("plan", { command: this.command, ensemble: plan.target.name, ...(this.origin ?? {}), hash: planHash(plan), plan });
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
