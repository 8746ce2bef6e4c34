// What `runs resume` and `runs rollback` ask of apply, read from the journal:
// the inventory the run was planned from, the lock it holds, and for a
// rollback the files and release it replaced (its resumes' included).
import { ZkfleetError } from "../../common/errors.js";
import { findRun, rollbackOf } from "../execute/runs.js";
import type { ResumeOf, RollbackOf } from "./acting.js";

/** A run to continue: as an apply (toward the inventory, or toward what a rollback puts back) or as a restore. */
export interface Resumption {
  inventory: string;
  resume: ResumeOf;
  limit?: string[];
  /** A restore is resumed as a restore: apply alone would start members the run had not restored yet, empty. */
  restores?: string;
  rollback?: RollbackOf;
}

export function resumption(journalDir: string, run: string): Resumption {
  const r = findRun(journalDir, run);
  if (!r.origin) throw new ZkfleetError("usage", `run ${r.run} records no inventory (written by an older zkfleet)`, { where: r.file, hint: "run apply again instead" });
  if (r.outcome === "done") throw new ZkfleetError("usage", `run ${r.run} finished; there is nothing to resume`, { where: r.file, hint: "run apply to change the ensemble again" });
  const resume = { run: r.run, lockRun: r.origin.lockRun, inventoryHash: r.origin.inventoryHash };
  if (r.origin.restores) return { inventory: r.origin.inventory, resume, restores: r.origin.restores };
  // A rollback goes on toward what it puts back, never toward the inventory (which still names what it undoes).
  const rollback = r.origin.rollsBack ? rollbackOf(journalDir, findRun(journalDir, r.origin.rollsBack)) : undefined;
  return { inventory: r.origin.inventory, resume, ...(r.origin.limit ? { limit: r.origin.limit } : {}), ...(rollback ? { rollback } : {}) };
}

/** A rollback of a finished or halted run: what it and its resumes replaced. */
export function rollbackRequest(journalDir: string, run: string): { inventory: string; rollback: RollbackOf } {
  const r = findRun(journalDir, run);
  if (!r.origin) throw new ZkfleetError("usage", `run ${r.run} records no inventory (written by an older zkfleet)`, { where: r.file, hint: "put the previous files back by hand from agent.dir/state/backups" });
  // What the run's resumes did belongs to it: an upgrade killed in its push and finished by a resume switched nothing itself.
  const rollback = rollbackOf(journalDir, r);
  if (rollback.files.size === 0 && !rollback.version) {
    throw new ZkfleetError("usage", `run ${r.run} (and its resumes) replaced no file and no release: there is nothing to roll back`, { where: r.file });
  }
  return { inventory: r.origin.inventory, rollback };
}
