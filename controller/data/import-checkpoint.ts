// The checkpoint of `zkfleet import --checkpoint FILE`: which file goes into
// which target, and how far the write is (writer.ts WriteMark: the last node
// created, in the file's order, and the last node whose counter and ACL are
// done, in post-order). It is saved after every batch the target answered
// (one save at a time; a batch answered during a save is in the next one),
// so a run killed at any point leaves a mark of what was written for sure.
// A run started with it resumes there: nothing the mark covers is read or
// written again, and what the killed run wrote after its last save is found
// on the target as it should be (compared, not rewritten). The checkpoint is
// removed once the import completes: a later import compares afresh.
//
// Saved atomically (beside the file, fsync, rename), as sync's is.
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { ZkfleetError } from "../../common/errors.js";
import { sha256File } from "../../common/sha256-file.js";
import { readCheckpoint } from "./checkpoint.js";
import type { FileSummary } from "./read-file.js";
import type { WriteMark } from "./writer.js";

export const IMPORT_CHECKPOINT_FORMAT = "zkfleet-import-checkpoint";

const File = z.strictObject({
  format: z.literal(IMPORT_CHECKPOINT_FORMAT),
  version: z.literal(1),
  file: z.string().min(1),
  /** sha256 of the export file's bytes: another file (or the same one changed) is another import. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  nodes: z.number().int().nonnegative(),
  target: z.string().min(1),
  created: z.string().nullable(),
  closed: z.string().nullable(),
  saved: z.string(),
});

export class ImportCheckpoint {
  private latest: WriteMark | undefined;
  private saving: Promise<void> | undefined;
  private dirty = false;
  private failure: unknown;

  private constructor(
    private readonly path: string, private readonly identity: { file: string; sha256: string; nodes: number; target: string },
    readonly mark: WriteMark | undefined,
  ) {}

  /** The checkpoint at `path` for this file and target (none yet: a fresh one); one of another import is refused before anything is written. */
  static async load(path: string, exportFile: string, summary: FileSummary, target: string): Promise<ImportCheckpoint> {
    const identity = { file: resolve(exportFile), sha256: await sha256File(exportFile), nodes: summary.nodes, target };
    const c = await readCheckpoint(path, File, {
      what: "import checkpoint", untouched: "nothing was written",
      hint: "give the checkpoint this import wrote, or remove the file to start over (nodes already on the target are then compared, not rewritten)",
    });
    if (!c) {
      // Written now, before the first write: a checkpoint that cannot be saved stops the import while nothing is written.
      const fresh = new ImportCheckpoint(path, identity, undefined);
      fresh.update({ created: null, closed: null });
      await fresh.settle();
      return fresh;
    }
    if (c.sha256 !== identity.sha256 || c.target !== identity.target) {
      throw new ZkfleetError("usage", `${path} is the checkpoint of importing ${c.file} (sha256 ${c.sha256.slice(0, 12)}...) into ${c.target}, ` +
        `not ${identity.file} (sha256 ${identity.sha256.slice(0, 12)}...) into ${identity.target}; nothing was written`, {
        where: path, hint: "give each import its own --checkpoint file (or remove this one to start over)",
      });
    }
    return new ImportCheckpoint(path, identity, { created: c.created, closed: c.closed });
  }

  /** A batch answered: saved now, or right after the save under way. */
  update(mark: WriteMark): void {
    this.latest = mark;
    if (this.saving) {
      this.dirty = true;
      return;
    }
    this.saving = this.save().finally(() => (this.saving = undefined));
  }

  private async save(): Promise<void> {
    do {
      this.dirty = false;
      const m = this.latest!;
      const body = JSON.stringify({ format: IMPORT_CHECKPOINT_FORMAT, version: 1, ...this.identity, created: m.created, closed: m.closed, saved: new Date().toISOString() });
      try {
        await writeFileAtomic(this.path, body, 0o600);
      } catch (err) {
        this.failure ??= new ZkfleetError("usage", `cannot write the checkpoint ${this.path}: ${(err as Error).message}`, { where: this.path, cause: err });
        return;
      }
    } while (this.dirty);
  }

  /** Waits for the save under way; a save that failed is reported here. */
  async settle(): Promise<void> {
    while (this.saving) await this.saving;
    if (this.failure) throw this.failure;
  }

  /** The import completed: the checkpoint goes (a later import compares the target afresh). */
  async finish(): Promise<void> {
    await this.settle();
    await rm(this.path, { force: true });
  }
}
