// lock: one run at a time per ensemble. The lock is a file created with
// O_EXCL on every host of the ensemble, so two controllers that never share
// a disk still see each other. Holding it again with the same run id
// succeeds, which is how a resumed run takes back its own lock.

import { open, readFile, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { isErrno, privateDir, writeAtomic } from "../fs-util.js";
import { done, type OpOutcome } from "../outcome.js";
import type { OpArgs, OpData } from "../../common/protocol.js";

type Holder = NonNullable<OpData<"lock">["held_by"]>;

async function readHolder(path: string): Promise<Holder | null> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Partial<Holder>;
    return { run: String(parsed.run ?? "?"), holder: String(parsed.holder ?? "?"), since: String(parsed.since ?? "?") };
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    // An unreadable lock file still holds the lock: never treat it as free.
    return { run: "?", holder: `unreadable lock file (${(err as Error).message})`, since: "?" };
  }
}

export async function lockOp(args: OpArgs<"lock">, check: boolean): Promise<OpOutcome<"lock">> {
  const mine = { run: args.run, holder: args.holder, since: new Date().toISOString() };
  const held = await readHolder(args.path);
  if (args.action === "release") {
    if (held === null || held.run !== args.run) return done(false, held ? `held by run ${held.run}, not ours: left alone` : "not held", { acquired: false, held_by: held });
    if (!check) await unlink(args.path).catch((err) => { if (!isErrno(err, "ENOENT")) throw err; });
    return done(true, `released the lock of run ${args.run}`, { acquired: false, held_by: held });
  }
  if (held !== null && held.run === args.run) return done(false, `already held by this run (${args.run})`, { acquired: true, held_by: held });
  if (held !== null && !args.break) return done(false, `held by run ${held.run} (${held.holder}) since ${held.since}`, { acquired: false, held_by: held });
  if (check) return done(true, held ? `would take over the lock of run ${held.run}` : "would take the lock", { acquired: false, held_by: held });
  await privateDir(dirname(args.path));
  if (held !== null) {
    await writeAtomic(args.path, JSON.stringify(mine) + "\n", 0o644);
    return done(true, `took over the lock of run ${held.run} (${held.holder}, since ${held.since})`, { acquired: true, held_by: held });
  }
  try {
    const fh = await open(args.path, "wx", 0o644);
    try {
      await fh.writeFile(JSON.stringify(mine) + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    // Another run created it between our read and our create: it won.
    if (isErrno(err, "EEXIST")) return done(false, "taken by another run a moment ago", { acquired: false, held_by: await readHolder(args.path) });
    throw err;
  }
  return done(true, `took the lock for run ${args.run}`, { acquired: true, held_by: null });
}
