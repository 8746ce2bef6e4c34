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
import type { CanaryConfig, CanaryFinal, CanaryOp } from "./protocol.js";

interface ZkClient {
  on(event: "connect" | "connecting" | "close", fn: (...args: unknown[]) => void): void;
  init(config: Record<string, unknown>): void;
  create(path: string, data: string | Buffer, flags: number): Promise<string>;
  get(path: string, watch: boolean): Promise<[unknown, Buffer | string]>;
  get_children(path: string, watch: boolean): Promise<string[]>;
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

async function finish(): Promise<void> {
  stopping = true;
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
  // Clean up: the canary's znodes are not the user's data.
  if (verifyError === undefined) {
    // Many deletes in flight at once, not one round trip (a quorum write) after another: a run's few hundred
    // znodes took a quarter of a second one by one, with the whole run waiting.
    const names = [...present];
    for (let i = 0; i < names.length; i += CLEANUP_IN_FLIGHT) {
      await Promise.all(names.slice(i, i + CLEANUP_IN_FLIGHT).map((name) => within(client.delete_(`${base}/${name}`, -1), 5_000, "cleanup").catch(() => undefined)));
    }
    await within(client.delete_(base, -1), 5_000, "cleanup").catch(() => undefined);
    // The run's parent, when this was the last client to leave it.
    await within(client.delete_(config.prefix, -1), 5_000, "cleanup").catch(() => undefined);
  }
  const final: CanaryFinal = {
    type: "final", label: config.label, connect: config.connect, startedAt: started, ops, events, acked: acked.length, lost, expired,
    ...(verifyError ? { verifyError } : {}),
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
