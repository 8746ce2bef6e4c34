// The ensemble lock from the controller's side: taken on every host of the
// ensemble for a run that will act, all hosts at once, before anything is
// planned; a run that finds any host held by another releases what it took,
// so two controllers racing may both give up but never both hold it.
// Released in `finally`. A run killed outright leaves it, and the next run is
// told who holds it and how to go on.
//
// The lock is a lease (common/lease.ts) that this run renews while it lives,
// riding the agent sessions the run already has. Another run takes it over
// (--break-lock, or `runs resume` taking its own run's lock back) only from a
// holder that is no longer running: one whose process this machine sees gone,
// or, where that cannot be seen, whose lease has lapsed; never from a
// controller process running here. A run whose lock was taken over anyway (a
// holder stuck long enough for its lease to lapse) is fenced: every acting
// request carries this acquisition's token, the agents refuse it once the
// lock file names another, and the executor stops before its next step that
// acts once a renewal has seen the takeover.
//
// The observation can ride in the same agent process, right after the lock
// op: what a host says once its lock is ours cannot be changed by another run,
// since every run that acts holds the lock of every host the whole time. A
// run that does not get every lock throws what it read away with the rest.
import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import { LEASE_MS, RENEW_EVERY_MS } from "../../common/lease.js";
import { type AgentRequest, type AgentResponse, type Fence, type OpData, isFailure } from "../../common/protocol.js";
import { expectSuccess } from "../agent-client/client.js";
import type { Fleet } from "../fleet/fleet.js";
import { observationError, unobservableError } from "../observe/observe.js";
import { compareText } from "../../common/compare.js";
import { type HolderProcess, holderProcess, thisProcess } from "./controller-process.js";

export type LockHolder = NonNullable<OpData<"lock">["held_by"]>;

export interface EnsembleLock {
  release(): Promise<void>;
  /** Runs whose lock this one took over (with --break-lock), for the journal and the terminal. */
  tookOver: (LockHolder & { process_state: HolderProcess })[];
  /** The generation this run holds (the highest of its hosts'). */
  generation: number;
  /** Per host, the responses to the `alongside` requests, in order. */
  alongside: Map<string, AgentResponse[]>;
  /** Throws LockTakenOver once a renewal has found the lock taken over: called before every step that acts. */
  assertHeld(): void;
}

export function lockPath(agentDir: string, ensemble: string): string {
  // Beside the agent bundles, not in a directory of its own: a released lock leaves nothing behind.
  return posix.join(agentDir, `lock-${ensemble.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
}

export const controllerIdentity = (): string => `${userInfo().username}@${hostname()} pid ${process.pid}`;

const seconds = (ms: number) => `${Math.ceil(ms / 1000)}s`;

/**
 * This run no longer holds its ensemble's lock: another took it over (or took
 * it over and released it since). Thrown before the next step that acts, or
 * for an acting request an agent refused; the executor puts no undo after it
 * (the undo would act too) and names the step.
 */
export class LockTakenOver extends ZkfleetError {
  constructor(readonly ensemble: string, readonly by: LockHolder | null, readonly host: string, readonly agentSaid?: string, readonly step?: number) {
    const who = by
      ? `was taken over by run ${by.run} (${by.holder}) at ${by.since}`
      : `is no longer this run's (on ${host}: ${agentSaid ?? "its file is gone: a run that took it over has released it since"})`;
    super("plan", `the lock of ensemble ${ensemble} ${who}; this run stopped${step === undefined ? "" : ` before step ${step + 1}`}; nothing more was changed by it`, {
      where: host,
      hint: "that run acts on the ensemble now (`zkfleet runs` lists it); once it is done, `zkfleet apply` observes afresh and plans what is still missing",
    });
  }

  /** The same, naming the step (0-based index) it stopped before. */
  before(index: number): LockTakenOver {
    return this.step === undefined ? new LockTakenOver(this.ensemble, this.by, this.host, this.agentSaid, index) : this;
  }
}

/** Whether this run may take the lock from its holder, as the holder's process and lease say. */
export type Takeover = { take: true; holderGone: boolean } | { take: false; why: "locked" | "running" | "lease" };

/**
 * Another run's lock is taken over only deliberately (--break-lock); this
 * run's own (`runs resume`) without asking. Either way never from a process
 * running on this machine, and from one that cannot be seen here only once
 * its lease has lapsed. A process seen gone cannot renew or act again: its
 * lease is not waited for (a killed controller is resumed at once). A stopped
 * one (SIGSTOP, Ctrl-Z) acts again when continued: its lease decides, and the
 * fence stops it then.
 */
export function decideTakeover(held: Pick<LockHolder, "run" | "lease_left_ms">, process: HolderProcess, o: { run: string; breakLock: boolean }): Takeover {
  if (held.run !== o.run && !o.breakLock) return { take: false, why: "locked" };
  if (process === "running") return { take: false, why: "running" };
  if (process === "gone") return { take: true, holderGone: true };
  return held.lease_left_ms > 0 ? { take: false, why: "lease" } : { take: true, holderGone: false };
}

function refusal(
  ensemble: string, key: string, path: string, h: LockHolder | null, why: "locked" | "running" | "lease" | "changed",
  o: { run: string; state: HolderProcess; agentSaid?: string },
): ZkfleetError {
  const locked = `ensemble ${ensemble} is locked by run ${h?.run ?? "?"} (${h?.holder ?? "?"}) since ${h?.since ?? "?"}`;
  const resume = `\`zkfleet runs resume ${h?.run ?? "<run>"}\``;
  const own = h?.run === o.run;
  const where = `${key}:${path}`;
  switch (why) {
    case "locked":
      return new ZkfleetError("plan", `${locked}; nothing was changed`, {
        where,
        hint: o.state === "gone"
          ? `its controller is gone (pid ${h?.process?.pid ?? "?"} no longer runs here): ${resume} continues that run, or pass --break-lock to take the lock over`
          : `wait for that run to finish; if its controller is gone, ${resume} continues it, or pass --break-lock to take the lock over deliberately`,
      });
    case "running":
      return new ZkfleetError("plan", `${locked}, and its controller still runs on this machine (pid ${h?.process?.pid ?? "?"}): ` +
        `${own ? "its lock is not taken back from it" : "--break-lock does not take a lock from a live run"}; nothing was changed`, {
        where, hint: "wait for that run to finish, or stop it (Ctrl-C stops it between steps), then run this again",
      });
    case "lease":
      return new ZkfleetError("plan", `${locked}, and its lease is still running (last renewed ${h?.renewed_at ?? "?"}, ` +
        `${seconds(h?.lease_left_ms ?? 0)} left by ${key}'s clock)${o.state === "stopped" ? `: its controller is stopped (pid ${h?.process?.pid ?? "?"}), not gone` : ": its controller may be alive on another machine"}; nothing was changed`, {
        where, hint: `a live controller renews its lease every ${seconds(RENEW_EVERY_MS)}; if that one is gone or stuck, run this again once the lease has lapsed ` +
          `(at most ${seconds(LEASE_MS)} after its last renewal): ${own ? "resume" : "--break-lock"} takes the lock then, and that run is refused at its next step`,
      });
    case "changed":
      return new ZkfleetError("plan", `${locked}: ${o.agentSaid ?? "the lock changed while it was being taken over"}; nothing was changed`, {
        where, hint: "another run took or renewed the lock meanwhile: run this again to see who holds it now",
      });
  }
}

export async function acquireEnsembleLock(
  fleet: Fleet,
  keys: readonly string[],
  opts: {
    ensemble: string; agentDir: string; run: string; breakLock: boolean;
    /** Requests run on each host right after its lock is taken, in the same agent process. */
    alongside?: (key: string) => AgentRequest[];
  },
): Promise<EnsembleLock> {
  const path = lockPath(opts.agentDir, opts.ensemble);
  const me = thisProcess();
  const base = { path, run: opts.run, token: randomBytes(16).toString("hex"), holder: controllerIdentity(), lease_ms: LEASE_MS, ...(me ? { process: me } : {}) };
  const taken = new Map<string, number>();
  const tookOver: EnsembleLock["tookOver"] = [];
  const alongside = new Map<string, AgentResponse[]>();
  const release = async () => {
    await Promise.all([...taken.keys()].map((key) =>
      fleet.call(key, "lock", { ...base, action: "release" }).catch(() => undefined)));
  };
  const unreachable: string[] = [];
  /** Taken, or refused naming the holder (null: none readable), or out of reach (in `unreachable`). */
  const attempt = async (key: string, takeOver?: { token: string; holder_gone: boolean }): Promise<
    { kind: "taken" } | { kind: "refused"; by: LockHolder | null; message: string } | { kind: "unreachable" }
  > => {
    try {
      const acquire: AgentRequest = { op: "lock", args: { ...base, action: "acquire", ...(takeOver ? { take_over: takeOver } : {}) } };
      const [response, ...rest] = await fleet.batch(key, [acquire, ...(opts.alongside?.(key) ?? [])]);
      const r = expectSuccess(key, "lock", response!);
      if (!r.data.acquired) return { kind: "refused", by: r.data.held_by, message: r.message };
      taken.set(key, r.data.generation ?? 0);
      alongside.set(key, rest);
      return { kind: "taken" };
    } catch (err) {
      // Every host is tried, so that the refusal names each one that cannot be reached, as an observation would.
      unreachable.push(`${key}: ${observationError(err)}`);
      return { kind: "unreachable" };
    }
  };
  const fail = async (err: ZkfleetError) => {
    await release();
    return err;
  };
  const first = await Promise.all([...keys].sort().map(async (key) => ({ key, r: await attempt(key) })));
  if (unreachable.length > 0) throw await fail(unobservableError(unreachable));
  // Decided for every host before any is taken over: a refusal on one host after a takeover on another would cost the
  // holder its lock there for nothing.
  const states = new Map<string, HolderProcess>();
  const stateOf = (h: LockHolder) => states.get(h.token) ?? states.set(h.token, holderProcess(h.process)).get(h.token)!;
  const held = first.flatMap(({ key, r }) => (r.kind === "refused" ? [{ key, h: r.by }] : []));
  const plans = held.map(({ key, h }) => ({
    key, h, state: h ? stateOf(h) : "unknown" as const,
    // A lock file that names nobody readable was taken a moment ago (a create racing this one's): not to be broken.
    decision: h ? decideTakeover(h, stateOf(h), opts) : { take: false as const, why: "locked" as const },
  }));
  for (const p of plans) if (!p.decision.take) throw await fail(refusal(opts.ensemble, p.key, path, p.h, p.decision.why, { run: opts.run, state: p.state }));
  const second = await Promise.all(plans.map(async ({ key, h, state, decision }) => {
    const r = await attempt(key, { token: h!.token, holder_gone: decision.take && decision.holderGone });
    if (r.kind === "taken" && h && h.run !== opts.run && !tookOver.some((t) => t.token === h.token)) tookOver.push({ ...h, process_state: state });
    return { key, r };
  }));
  if (unreachable.length > 0) throw await fail(unobservableError(unreachable));
  for (const { key, r } of second) {
    if (r.kind === "refused") throw await fail(refusal(opts.ensemble, key, path, r.by, "changed", { run: opts.run, state: "unknown", agentSaid: r.message }));
  }
  const holding = hold(fleet, opts.ensemble, { path, run: base.run, token: base.token }, base.holder, [...taken.keys()]);
  return {
    release: async () => {
      holding.stop();
      await release();
    },
    assertHeld: holding.assertHeld, tookOver, generation: Math.max(...taken.values()), alongside,
  };
}

/**
 * Holding the lock: its lease renewed on every host every RENEW_EVERY_MS, in
 * the host's agent session (a line each way between the run's own requests);
 * the fence put on every acting request of the fleet. A renewal that fails
 * (a host out of reach) changes nothing by itself: the lease outlasts several,
 * and the run's next request there fails on its own if the host stays away.
 */
function hold(fleet: Fleet, ensemble: string, fence: Fence, holder: string, keys: readonly string[]) {
  let lost: LockTakenOver | undefined;
  const renewing = new Set<string>();
  const renew = async (key: string) => {
    const [response] = await fleet.batch(key, [{ op: "lock", args: { ...fence, holder, action: "renew" } }]);
    if (!response || isFailure(response.result)) return undefined;
    const r = expectSuccess(key, "lock", response);
    if (!r.data.acquired) lost ??= new LockTakenOver(ensemble, r.data.held_by, key);
    return lost;
  };
  const timer = setInterval(() => {
    for (const key of keys) {
      if (renewing.has(key)) continue;
      renewing.add(key);
      renew(key).catch(() => undefined).finally(() => renewing.delete(key));
    }
  }, RENEW_EVERY_MS);
  timer.unref();
  fleet.fenceWith({
    fence,
    // An agent refused an acting request: the lock file there names another. Asking again says who.
    refused: async (key, message) => (await renew(key).catch(() => undefined)) ?? (lost ??= new LockTakenOver(ensemble, null, key, message)),
  });
  return {
    assertHeld: () => {
      if (lost) throw lost;
    },
    stop: () => {
      clearInterval(timer);
      fleet.fenceWith(undefined);
    },
  };
}
