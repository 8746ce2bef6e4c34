// One canary client, in a process of its own: the `zookeeper` package is a
// native addon known to crash (DESIGN.md), and a crash here must cost the
// run its canary figures, never the run itself. It writes sequence-numbered
// znodes at a steady rate and reads each back, records every operation and
// connection event, and at "stop" checks that every acknowledged write is
// still there, removes its znodes and prints one final report line.
//
// Protocol: config as JSON in argv[2]; stdin lines "step <n>" (later
// operations belong to that plan step) and "stop"; stdout: one JSON line
// {"type":"ready"} once connected, then one {"type":"final", ...} line.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import type { CanaryConfig, CanaryFinal, CanaryOp, SweptRun } from "./protocol.js";

interface ZkClient {
  on(event: "connect" | "connecting" | "close", fn: (...args: unknown[]) => void): void;
  init(config: Record<string, unknown>): void;
  create(path: string, data: string | Buffer, flags: number): Promise<string>;
  get(path: string, watch: boolean): Promise<[unknown, Buffer | string]>;
  get_children(path: string, watch: boolean): Promise<string[]>;
  exists(path: string, watch: boolean): Promise<{ cversion: number }>;
  sync(path: string): Promise<unknown>;
  delete_(path: string, version: number): Promise<void>;
  mkdirp(path: string, cb: (err: Error | null) => void): void;
  close(): void;
}
type ZkCtor = (new (config: Record<string, unknown>) => ZkClient) & { constants: Record<string, number> };

const ZooKeeper = createRequire(import.meta.url)("zookeeper") as ZkCtor;
const config = JSON.parse(process.argv[2] ?? "{}") as CanaryConfig;
const started = Date.now();
const now = () => Date.now() - started;
const ops: CanaryOp[] = [];
const events: CanaryFinal["events"] = [];
const acked: number[] = [];
let step = -1;
let stopping = false;
let expired = 0;
let client: ZkClient;
let connected = false;

function send(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Called at the next connect: waiting for the event, not polling for it, which cost the canary's start 25 ms on average. */
const onConnect: (() => void)[] = [];

/** True once the current client is connected, false at the deadline. */
function untilConnected(deadline: number): Promise<boolean> {
  if (connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(connected), Math.max(0, deadline - Date.now()));
    onConnect.push(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function connectClient(connect = config.connect): ZkClient {
  const zk = new ZooKeeper({ connect, timeout: config.sessionTimeoutMs, debug_level: ZooKeeper.constants.ZOO_LOG_LEVEL_ERROR ?? 1, host_order_deterministic: false });
  zk.on("connect", () => {
    connected = true;
    events.push({ t: now(), kind: "connected" });
    for (const resolve of onConnect.splice(0)) resolve();
  });
  zk.on("connecting", () => {
    connected = false;
    events.push({ t: now(), kind: "disconnected" });
  });
  zk.on("close", (...args: unknown[]) => {
    connected = false;
    // After an expiry the C client closes the handle: count it and open a new session.
    if (!stopping) {
      expired += 1;
      events.push({ t: now(), kind: "expired", detail: String(args[1] ?? "") });
      client = connectClient();
    }
  });
  // Replies of large nodes take many event-loop polls (DESIGN.md): never give up on a slow reply.
  zk.init({ response_counter_limit: 1_000_000 });
  return zk;
}

const base = `${config.prefix}/${config.label}`;

async function tick(seq: number): Promise<void> {
  const path = `${base}/w-${String(seq).padStart(10, "0")}`;
  const t0 = now();
  try {
    await client.create(path, String(seq), 0);
    acked.push(seq);
    ops.push({ t: t0, ms: now() - t0, kind: "write", ok: true, step });
  } catch (err) {
    ops.push({ t: t0, ms: now() - t0, kind: "write", ok: false, step, error: String((err as Error).message ?? err) });
    return;
  }
  const t1 = now();
  try {
    const [, data] = await client.get(path, false);
    const ok = String(data) === String(seq);
    ops.push({ t: t1, ms: now() - t1, kind: "read", ok, step, ...(ok ? {} : { error: `read ${String(data)}, wrote ${seq}` }) });
  } catch (err) {
    ops.push({ t: t1, ms: now() - t1, kind: "read", ok: false, step, error: String((err as Error).message ?? err) });
  }
}

/** Settles within ms whatever the client does (a request to a server that is gone can wait a whole session timeout). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = new Promise<T>((_, reject) => {
    setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref();
  });
  return Promise.race([p, timeout]);
}

const CLEANUP_IN_FLIGHT = 64;

async function deleteAll(paths: readonly string[]): Promise<void> {
  // Many deletes in flight at once, not one round trip (a quorum write) after another: a run's few hundred
  // znodes took a quarter of a second one by one, with the whole run waiting.
  for (let i = 0; i < paths.length; i += CLEANUP_IN_FLIGHT) {
    await Promise.all(paths.slice(i, i + CLEANUP_IN_FLIGHT).map((p) => within(client.delete_(p, -1), 5_000, "cleanup").catch(() => undefined)));
  }
}

/** A run's id as journal.ts names runs: what tells the canary's own subtrees from anything else under the parent. */
const RUN_ID = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]{6}$/;
const OWN_ZNODE = /^w-\d{10}$/;

/** A znode that is not there (ZNONODE): for the sweep, a run whose subtree went meanwhile (its own client removed it). */
const isNoNode = (err: unknown) => (err as { code?: number }).code === -101 || /no ?node/i.test(String((err as Error).message ?? err));

const SWEEP_ATTEMPTS = 6;
const SWEEP_CALL_MS = 10_000;

/**
 * The canary znodes earlier runs left (a run killed outright: its clients
 * never cleaned up). Only subtrees shaped as the canary writes them (run id,
 * client labels, w-<seq> znodes), never those of the runs to keep, and never
 * one still written to: a live run's clients create a znode every interval,
 * so a subtree whose child counters moved between two looks two seconds
 * apart belongs to a run that is not over.
 *
 * The sweep runs while the roll restarts servers, so its session loses its
 * server now and then: a call that fails so is tried again (both looks
 * again), never taken as an answer. A failed first look once read as "the
 * counters moved", and a killed run's znodes stayed for good.
 */
async function sweep(keep: readonly string[], stop: () => boolean): Promise<Swept> {
  const root = config.prefix.slice(0, config.prefix.lastIndexOf("/")) || "/";
  const at = (...parts: string[]) => [root === "/" ? "" : root, ...parts].join("/");
  const call = <T>(p: Promise<T>, what: string) => within(p, SWEEP_CALL_MS, what);
  const notes: string[] = [];
  const swept: SweptRun[] = [];
  // Each candidate's labels and the child counters of it and them; undefined once the subtree is gone.
  const look = async (run: string) => {
    try {
      const labels = await call(client.get_children(at(run), false), `listing ${at(run)}`);
      const versions = await Promise.all([at(run), ...labels.map((l) => at(run, l))].map(async (p) => (await call(client.exists(p, false), `reading ${p}`)).cversion));
      return { labels, versions: versions.join(",") };
    } catch (err) {
      if (isNoNode(err)) return undefined;
      throw err;
    }
  };
  let pending: string[] | undefined;
  let lastError = "";
  for (let attempt = 1; attempt <= SWEEP_ATTEMPTS && !stop(); attempt += 1) {
    try {
      pending ??= (await call(client.get_children(root, false), `listing ${root}`)).filter((run) => RUN_ID.test(run) && !keep.includes(run));
      const first = new Map<string, string>();
      for (const run of pending) {
        const seen = await look(run);
        if (seen) first.set(run, seen.versions);
      }
      pending = pending.filter((run) => first.has(run));
      if (pending.length === 0) return { swept, notes };
      await new Promise((r) => setTimeout(r, 2_000));
      for (const run of [...pending]) {
        if (stop()) break;
        const now = await look(run);
        if (now && now.versions !== first.get(run)) notes.push(`${at(run)} is still being written to (a run in progress): left alone`);
        else if (now) {
          const children = await Promise.all(now.labels.map(async (l) => ({ label: l, kids: await call(client.get_children(at(run, l), false), `listing ${at(run, l)}`) })));
          const foreign = children.flatMap((c) => c.kids.filter((k) => !OWN_ZNODE.test(k)).map((k) => at(run, c.label, k)));
          if (foreign.length > 0) notes.push(`${at(run)} holds znodes the canary does not write (${foreign.slice(0, 3).join(", ")}): left alone`);
          else {
            await deleteAll(children.flatMap((c) => c.kids.map((k) => at(run, c.label, k))));
            await deleteAll(now.labels.map((l) => at(run, l)));
            await deleteAll([at(run)]);
            const still = await call(client.exists(at(run), false), `reading ${at(run)}`).then(() => true, (err: unknown) => (isNoNode(err) ? false : Promise.reject(err)));
            // Still there: a delete lost its server (tried again) or the run was written to meanwhile (a later look says).
            if (still) continue;
            swept.push({ run, znodes: children.reduce((n, c) => n + c.kids.length + 1, 1) });
          }
        }
        pending = pending.filter((r) => r !== run);
      }
      if (pending.length === 0 || stop()) break;
    } catch (err) {
      lastError = String((err as Error).message ?? err);
      await new Promise((r) => setTimeout(r, 1_000 * attempt));
    }
  }
  for (const run of pending ?? []) {
    notes.push(`${at(run)} was not swept${stop() ? " before the run ended" : ` after ${SWEEP_ATTEMPTS} tries`}${lastError ? ` (last error: ${lastError})` : ""}: left for a later run`);
  }
  return { swept, notes, unfinished: pending === undefined || pending.length > 0 };
}

interface Swept { swept: SweptRun[]; notes: string[]; unfinished?: boolean }

let sweeping: Promise<Swept> | undefined;

async function finish(): Promise<void> {
  stopping = true;
  // The sweep shares this session: it ends (or stops between runs) before the session does.
  let sweptBy: Swept | undefined = sweeping ? await within(sweeping, 30_000, "the sweep").catch((err: unknown) => ({ swept: [], notes: [`the sweep stopped: ${String((err as Error).message ?? err)}`], unfinished: true })) : undefined;
  client.close();
  // A new session on every server: the check must not depend on the server this client was pinned to.
  connected = false;
  client = connectClient(config.verifyConnect);
  const deadline = Date.now() + config.connectTimeoutMs;
  await untilConnected(deadline);
  // Every write the ensemble acknowledged must be there now, whatever happened in between.
  let present = new Set<string>();
  let verifyError: string | undefined = connected ? undefined : `no connection to ${config.verifyConnect} for the final check`;
  while (connected && Date.now() < deadline) {
    try {
      // A new session may be on a follower that has not yet applied every committed write: sync first, or an
      // acknowledged write still on its way to that follower would be counted as lost.
      await within(client.sync(base), 5_000, `sync of ${base}`);
      present = new Set(await within(client.get_children(base, false), 5_000, `listing ${base}`));
      verifyError = undefined;
      break;
    } catch (err) {
      verifyError = String((err as Error).message ?? err);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const lost = verifyError === undefined ? acked.filter((seq) => !present.has(`w-${String(seq).padStart(10, "0")}`)) : [];
  // A sweep the roll kept cutting off (its server restarted under it again and again) gets one more go now that
  // the run is over and this session has just answered: killed runs' znodes are not left for yet another run.
  if (sweptBy?.unfinished && verifyError === undefined && config.sweep) {
    const before = sweptBy;
    const again = await within(sweep(config.sweep.keep, () => false), 30_000, "the sweep").catch((err: unknown) => ({ swept: [], notes: [`the sweep stopped: ${String((err as Error).message ?? err)}`], unfinished: true }));
    sweptBy = { swept: [...before.swept, ...again.swept], notes: [...before.notes.filter((n) => !/ was not swept /.test(n)), ...again.notes] };
  }
  // Clean up: the canary's znodes are not the user's data.
  if (verifyError === undefined) {
    await deleteAll([...present].map((name) => `${base}/${name}`));
    await within(client.delete_(base, -1), 5_000, "cleanup").catch(() => undefined);
    // The run's parent, when this was the last client to leave it.
    await within(client.delete_(config.prefix, -1), 5_000, "cleanup").catch(() => undefined);
  }
  const final: CanaryFinal = {
    type: "final", label: config.label, connect: config.connect, startedAt: started, ops, events, acked: acked.length, lost, expired,
    ...(verifyError ? { verifyError } : {}),
    ...(sweptBy ? { swept: sweptBy.swept, ...(sweptBy.notes.length > 0 ? { sweepNotes: sweptBy.notes } : {}) } : {}),
  };
  send(final);
  client.close();
  process.exit(0);
}

async function main(): Promise<void> {
  client = connectClient();
  if (!(await untilConnected(Date.now() + config.connectTimeoutMs))) {
    send({ type: "error", message: `no connection to ${config.connect} within ${config.connectTimeoutMs} ms` });
    process.exit(2);
  }
  await new Promise<void>((resolve, reject) => client.mkdirp(base, (err) => (err ? reject(err) : resolve())));
  send({ type: "ready" });
  if (config.sweep) {
    sweeping = sweep(config.sweep.keep, () => stopping).catch((err: unknown) => ({ swept: [], notes: [`the sweep failed: ${String((err as Error).message ?? err)}`], unfinished: true }));
  }
  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => {
    const m = /^step (-?\d+)$/.exec(line.trim());
    if (m) step = Number(m[1]);
    else if (line.trim() === "stop") void finish();
  });
  // A controller that died leaves no one to say stop: stop by ourselves, and never outlive the cap.
  commands.on("close", () => void (stopping || finish()));
  setTimeout(() => void (stopping || finish()), config.maxRunMs).unref();
  let seq = 0;
  while (!stopping) {
    const t = Date.now();
    await tick(seq++);
    await new Promise((r) => setTimeout(r, Math.max(0, config.intervalMs - (Date.now() - t))));
  }
}

main().catch((err: unknown) => {
  send({ type: "error", message: String((err as Error)?.message ?? err) });
  process.exit(1);
});
