// The checkpoint of `zkfleet sync`: which source and target it is about, and
// for every source node copied, the stats it had when it was copied (mzxid:
// its data; cversion: its children and sequence counter; aversion: its ACL).
// A node whose stats still match was copied and has not changed since, so a
// restarted sync neither reads it on the target nor writes it: that is what
// lets a sync killed mid-copy carry on instead of starting over. Entries are
// recorded only once a node's whole subtree is written (post-order), so an
// entry never claims more than was done.
//
// Saved atomically: written beside the file, fsynced, renamed over it, and
// the directory fsynced, so a crash leaves the old file or the new one.
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../../common/atomic-file.js";
import { z } from "zod";
import { ZkfleetError } from "../../common/errors.js";
import type { Stat } from "../zk/protocol.js";
import { isUnder } from "../zk/paths.js";

export const CHECKPOINT_FORMAT = "zkfleet-sync-checkpoint";

/** [mzxid, cversion, aversion] of the source node as copied. */
type Mark = [number, number, number];

const File = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  version: z.literal(1),
  source: z.string().min(1),
  target: z.string().min(1),
  /** The first full pass finished: the target held the whole source once. */
  initialDone: z.boolean(),
  saved: z.string(),
  nodes: z.record(z.string(), z.tuple([z.number(), z.number(), z.number()])),
});

const markOf = (s: Pick<Stat, "mzxid" | "cversion" | "aversion">): Mark => [s.mzxid, s.cversion, s.aversion];

/**
 * A checkpoint file as `schema` says (undefined: there is none). One that cannot be read, is not JSON or
 * does not match is refused naming the file, before anything is touched.
 */
export async function readCheckpoint<T>(file: string, schema: z.ZodType<T>, says: { what: string; untouched: string; hint: string }): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ZkfleetError("usage", `cannot read the checkpoint ${file}: ${(err as Error).message}`, { where: file, cause: err });
  }
  const broken = (what: string) => new ZkfleetError("usage", `${file} is not a usable ${says.what}: ${what}; ${says.untouched}`, { where: file, hint: says.hint });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw broken(`not JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw broken(`${issue.path.length ? issue.path.join(".") : "the top level"}: ${issue.message}`);
  }
  return parsed.data;
}

export class Checkpoint {
  initialDone = false;
  private readonly nodes: Map<string, Mark>;

  private constructor(readonly source: string, readonly target: string, nodes: Map<string, Mark>) {
    this.nodes = nodes;
  }

  static fresh(source: string, target: string): Checkpoint {
    return new Checkpoint(source, target, new Map());
  }

  /**
   * The checkpoint in `file` for this source and target; a fresh one when the file does not exist.
   * A file that is not a checkpoint, or one of another sync, is refused before anything is read or written.
   */
  static async load(file: string, source: string, target: string): Promise<Checkpoint> {
    const c = await readCheckpoint(file, File, {
      what: "sync checkpoint", untouched: "nothing was read or written",
      hint: "give the checkpoint this sync wrote, or remove the file to start over (the target is then compared anew, node by node)",
    });
    if (!c) return Checkpoint.fresh(source, target);
    if (c.source !== source || c.target !== target) {
      throw new ZkfleetError("usage", `${file} is the checkpoint of a sync from ${c.source} to ${c.target}, not from ${source} to ${target}; nothing was read or written`, {
        where: file, hint: "give each source/target pair its own --checkpoint file (or remove this one to start over)",
      });
    }
    const cp = new Checkpoint(source, target, new Map(Object.entries(c.nodes)));
    cp.initialDone = c.initialDone;
    return cp;
  }

  get size(): number {
    return this.nodes.size;
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  /** True when the node's stats are those recorded: it was copied and has not changed since. */
  matches(path: string, stat: Stat): boolean {
    const m = this.nodes.get(path);
    return m !== undefined && m[0] === stat.mzxid && m[1] === stat.cversion && m[2] === stat.aversion;
  }

  /** The data changed since the copy recorded (or the node is new): a write whose lag is worth measuring. */
  dataChanged(path: string, stat: Stat): boolean {
    return this.nodes.get(path)?.[0] !== stat.mzxid;
  }

  record(path: string, stat: Stat): void {
    this.nodes.set(path, markOf(stat));
  }

  /** Forgets `root` and everything below it (deleted on the target). */
  forget(root: string): void {
    for (const p of this.nodes.keys()) if (isUnder(p, root)) this.nodes.delete(p);
  }

  /** Keeps only the paths a full pass saw on the source. */
  keepOnly(seen: ReadonlySet<string>): number {
    let dropped = 0;
    for (const p of this.nodes.keys()) {
      if (!seen.has(p)) {
        this.nodes.delete(p);
        dropped++;
      }
    }
    return dropped;
  }

  async save(file: string): Promise<void> {
    const body = JSON.stringify({
      format: CHECKPOINT_FORMAT, version: 1, source: this.source, target: this.target, initialDone: this.initialDone,
      saved: new Date().toISOString(), nodes: Object.fromEntries(this.nodes),
    });
    try {
      await writeFileAtomic(file, body, 0o600);
    } catch (err) {
      throw new ZkfleetError("usage", `cannot write the checkpoint ${file}: ${(err as Error).message}`, { where: file, cause: err });
    }
  }
}
