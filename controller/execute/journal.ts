// The journal: an append-only JSON-lines record of a run (its plan, every step
// started and finished) on the controller's disk, so an interrupted run can
// be understood, resumed or rolled back by a person or a later command.
import { appendFileSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export function defaultJournalDir(env: NodeJS.ProcessEnv): string {
  return env.ZKFLEET_JOURNAL ?? join(env.HOME ?? homedir(), ".zkfleet", "journal");
}

export class Journal {
  readonly path: string;

  constructor(dir: string, ensemble: string, command: string, now = new Date()) {
    const folder = join(dir, ensemble);
    mkdirSync(folder, { recursive: true });
    this.path = join(folder, `${now.toISOString().replace(/[:.]/g, "-")}-${command}.jsonl`);
  }

  /** Synchronous on purpose: a record must be on disk before the step it announces runs. */
  write(event: string, data: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ at: new Date().toISOString(), event, ...data }) + "\n");
  }
}
