// The ensemble lock from the controller's side: taken on every host of the
// ensemble for a run that will act, all hosts at once, before anything is
// planned; a run that finds any host held by another releases what it took,
// so two controllers racing may both give up but never both hold it.
// Released in `finally`. A run killed outright leaves it, and the next run is
// told who holds it and how to go on.
//
// The observation can ride in the same agent process, right after the lock
// op: what a host says once its lock is ours cannot be changed by another run,
// since every run that acts holds the lock of every host the whole time. A
// run that does not get every lock throws what it read away with the rest.
import { hostname, userInfo } from "node:os";
import { posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import type { AgentRequest, AgentResponse, OpData } from "../../common/protocol.js";
import { expectSuccess } from "../agent/client.js";
import type { Fleet } from "../fleet.js";
import { observationError, unobservableError } from "../observe.js";
import { compareText } from "../../common/compare.js";

export interface EnsembleLock {
  release(): Promise<void>;
  /** Runs whose lock this one took over (with --break-lock), for the journal. */
  tookOver: NonNullable<OpData<"lock">["held_by"]>[];
  /** Per host, the responses to the `alongside` requests, in order. */
  alongside: Map<string, AgentResponse[]>;
}

export function lockPath(agentDir: string, ensemble: string): string {
  // Beside the agent bundles, not in a directory of its own: a released lock leaves nothing behind.
  return posix.join(agentDir, `lock-${ensemble.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);
}

export const controllerIdentity = (): string => `${userInfo().username}@${hostname()} pid ${process.pid}`;

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
  const holder = controllerIdentity();
  const taken: string[] = [];
  const tookOver: EnsembleLock["tookOver"] = [];
  const alongside = new Map<string, AgentResponse[]>();
  const release = async () => {
    await Promise.all(taken.map((key) =>
      fleet.call(key, "lock", { path, action: "release", run: opts.run, holder }).catch(() => undefined)));
  };
  const unreachable: string[] = [];
  const heldElsewhere: { key: string; by: NonNullable<OpData<"lock">["held_by"]> | null }[] = [];
  await Promise.all([...keys].sort().map(async (key) => {
    try {
      const acquire: AgentRequest = { op: "lock", args: { path, action: "acquire", run: opts.run, holder, break: opts.breakLock } };
      const [response, ...rest] = await fleet.batch(key, [acquire, ...(opts.alongside?.(key) ?? [])]);
      const r = expectSuccess(key, "lock", response!);
      if (!r.data.acquired) return void heldElsewhere.push({ key, by: r.data.held_by });
      taken.push(key);
      alongside.set(key, rest);
      if (r.data.held_by && r.data.held_by.run !== opts.run) tookOver.push(r.data.held_by);
    } catch (err) {
      // Every host is tried, so that the refusal names each one that cannot be reached, as an observation would.
      unreachable.push(`${key}: ${observationError(err)}`);
    }
  }));
  if (heldElsewhere.length > 0) {
    await release();
    const { key, by: h } = heldElsewhere.sort((a, b) => compareText(a.key, b.key))[0]!;
    throw new ZkfleetError("plan", `ensemble ${opts.ensemble} is locked by run ${h?.run ?? "?"} (${h?.holder ?? "?"}) since ${h?.since ?? "?"}; nothing was changed`, {
      where: `${key}:${path}`,
      hint: `wait for that run to finish; if its controller is gone, \`zkfleet runs resume ${h?.run ?? "<run>"}\` continues it, ` +
        "or pass --break-lock to take the lock over deliberately",
    });
  }
  if (unreachable.length > 0) {
    await release();
    throw unobservableError(unreachable);
  }
  return { release, tookOver, alongside };
}
