// lock: one run at a time per ensemble. The lock is a file created with
// O_EXCL on every host of the ensemble, so two controllers that never share
// a disk still see each other. It is a lease (common/lease.ts): a renewal
// only stamps the file's mtime, so a renewal racing a takeover can never write
// the old holder back over the new one; it can at worst freshen the new
// holder's lease. Each acquisition has a token, and the fence of an acting
// request (checked here before the request runs) names it: a run whose lock
// was taken over is refused at its next acting step.

import { open, unlink, utimes } from "node:fs/promises";
import { dirname } from "node:path";
import { isErrno, privateDir, writeAtomic } from "../fs-util.js";
import { done, failed, type Failed, type OpOutcome } from "../outcome.js";
import { ControllerProcess, type Fence, type OpArgs, type OpData } from "../../common/protocol.js";
import { LEASE_MS, RENEW_EVERY_MS, leaseLeft } from "../../common/lease.js";

type Holder = NonNullable<OpData<"lock">["held_by"]>;

/** The lock file's content, as written. */
interface LockFile {
  run: string;
  holder: string;
  since: string;
  generation: number;
  token: string;
  lease_ms: number;
  process?: ControllerProcess;
}

async function readHolder(path: string): Promise<Holder | null> {
  let text: string;
  let mtimeMs: number;
  try {
    const fh = await open(path, "r");
    try {
      mtimeMs = (await fh.stat()).mtimeMs;
      text = await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (isErrno(err, "ENOENT")) return null;
    // An unreadable lock file still holds the lock: never treat it as free.
    return {
      run: "?", holder: `unreadable lock file (${(err as Error).message})`, since: "?", generation: 0, token: "", process: null,
      lease_ms: 0, renewed_at: "?", lease_left_ms: 0,
    };
  }
  let parsed: Partial<Record<keyof LockFile, unknown>> = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // Kept as a lock of nobody known: "?" below.
  }
  const number = (v: unknown, fallback: number) => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? Math.floor(v) : fallback);
  // A lock written before leases existed carries none: it lapses a default lease after its last write.
  const leaseMs = number(parsed.lease_ms, LEASE_MS);
  const process = ControllerProcess.safeParse(parsed.process);
  return {
    run: String(parsed.run ?? "?"), holder: String(parsed.holder ?? "?"), since: String(parsed.since ?? "?"),
    generation: number(parsed.generation, 0), token: typeof parsed.token === "string" ? parsed.token : "",
    process: process.success ? process.data : null, lease_ms: leaseMs,
    renewed_at: new Date(mtimeMs).toISOString(), lease_left_ms: leaseLeft(mtimeMs, leaseMs, Date.now()),
  };
}

const mine = (held: Holder | null, run: string, token: string): boolean => held !== null && held.run === run && held.token === token;

const ago = (iso: string) => {
  const ms = Date.now() - Date.parse(iso);
  return Number.isFinite(ms) ? `${Math.max(0, Math.round(ms / 1000))}s ago` : "at an unknown time";
};
const describeHolder = (h: Holder) => `run ${h.run} (${h.holder}) since ${h.since}, generation ${h.generation}`;

/** Stamps the lease of the lock `run` and `token` hold; false (nothing touched) when the file names another. */
async function renew(path: string, run: string, token: string): Promise<{ renewed: boolean; held: Holder | null }> {
  const held = await readHolder(path);
  if (!mine(held, run, token)) return { renewed: false, held };
  const now = new Date();
  await utimes(path, now, now);
  return { renewed: true, held };
}

export async function lockOp(args: OpArgs<"lock">): Promise<OpOutcome<"lock">> {
  const held = await readHolder(args.path);
  if (args.action === "release") {
    if (!mine(held, args.run, args.token)) {
      return done(false, held ? `held by ${describeHolder(held)}, not this run: left alone` : "not held", { acquired: false, held_by: held, generation: null });
    }
    await unlink(args.path).catch((err) => { if (!isErrno(err, "ENOENT")) throw err; });
    return done(true, `released the lock of run ${args.run}`, { acquired: false, held_by: held, generation: null });
  }
  if (args.action === "renew") {
    const r = await renew(args.path, args.run, args.token);
    if (!r.renewed) {
      return done(false, r.held ? `held by ${describeHolder(r.held)}: this run's lock was taken over` : "not held any more: this run's lock was taken over and released",
        { acquired: false, held_by: r.held, generation: null });
    }
    return done(true, "renewed", { acquired: true, held_by: r.held, generation: r.held!.generation });
  }
  if (held !== null && mine(held, args.run, args.token)) return done(false, `already held by this run (${args.run})`, { acquired: true, held_by: held, generation: held.generation });
  const file = (generation: number): LockFile => ({
    run: args.run, holder: args.holder, since: new Date().toISOString(), generation, token: args.token, lease_ms: args.lease_ms,
    ...(args.process ? { process: args.process } : {}),
  });
  if (held !== null) {
    const refuse = (why: string) => done(false, why, { acquired: false, held_by: held, generation: null });
    if (!args.take_over) return refuse(`held by ${describeHolder(held)}`);
    if (args.take_over.token !== held.token) return refuse(`held by ${describeHolder(held)} now, not by the holder read before`);
    if (!args.take_over.holder_gone && held.lease_left_ms > 0) {
      return refuse(`held by ${describeHolder(held)}, its lease renewed ${ago(held.renewed_at)} and running ${Math.ceil(held.lease_left_ms / 1000)}s more`);
    }
    await writeAtomic(args.path, JSON.stringify(file(held.generation + 1)) + "\n", 0o644);
    return done(true, `took over the lock of ${describeHolder(held)}`, { acquired: true, held_by: held, generation: held.generation + 1 });
  }
  await privateDir(dirname(args.path));
  try {
    const fh = await open(args.path, "wx", 0o644);
    try {
      await fh.writeFile(JSON.stringify(file(1)) + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    // Another run created it between our read and our create: it won.
    if (isErrno(err, "EEXIST")) return done(false, "taken by another run a moment ago", { acquired: false, held_by: await readHolder(args.path), generation: null });
    throw err;
  }
  return done(true, `took the lock for run ${args.run}`, { acquired: true, held_by: null, generation: 1 });
}

/** Why a fenced request must not run here (undefined: the lock is still its run's). */
export async function fenceRefusal(fence: Fence): Promise<Failed | undefined> {
  const held = await readHolder(fence.path);
  if (mine(held, fence.run, fence.token)) return undefined;
  return failed("fenced", held
    ? `${fence.path} names ${describeHolder(held)}: the lock of run ${fence.run} was taken over, so this request was not run`
    : `${fence.path} is gone: the lock of run ${fence.run} was taken over (and released since), so this request was not run`,
  "another run holds the ensemble's lock now; this run must stop");
}

/**
 * While a fenced request runs (a start or a restore may outlast a lease), the
 * agent renews its run's lease, as the controller would between requests; the
 * run is acting here, so its lock must not lapse under it. Returns the stop.
 */
export function keepLease(fence: Fence): () => void {
  const timer = setInterval(() => void renew(fence.path, fence.run, fence.token).catch(() => undefined), RENEW_EVERY_MS);
  return () => clearInterval(timer);
}
