// One measuring client for bench/unavailability.mjs, in a process of its own
// as zkfleet's canary runs its clients: the `zookeeper` package is a native
// addon that can crash (DESIGN.md), and a crash must cost one client's
// figures, not the bench. It sets its own znode and reads it back at a steady
// rate, recording every operation and connection event in wall-clock
// milliseconds, so that the bench can line them up with its `srvr` polls.
//
// argv[2]: JSON {connect, sessionTimeoutMs, intervalMs, path, deterministic, maxRunMs}
// stdin: "last" (report when the last operation succeeded), "stop"
// stdout: JSON lines {type:"ready"|"sid"|"last"|"final"|"error", ...}
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const ZooKeeper = createRequire(import.meta.url)("zookeeper");
const cfg = JSON.parse(process.argv[2]);
// performance.now() is monotonic; adding timeOrigin gives wall-clock ms comparable across processes on this machine.
const now = () => performance.timeOrigin + performance.now();
const ops = [];
const events = [];
let lastOk = 0;
let connected = false;
let stopping = false;
let ready = false;
let expired = 0;
let client;

const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);

function open() {
  const zk = new ZooKeeper({
    connect: cfg.connect, timeout: cfg.sessionTimeoutMs,
    debug_level: ZooKeeper.constants.ZOO_LOG_LEVEL_ERROR ?? 1,
    // The bench gives each client one of the orders a randomising client could draw; the list is still the whole ensemble.
    host_order_deterministic: cfg.deterministic,
  });
  zk.on("connect", () => {
    connected = true;
    events.push({ t: now(), kind: "connected", sid: zk.client_id });
    // After an expiry the session is a new one: the bench finds clients on servers by their session id.
    if (ready) send({ type: "sid", sid: zk.client_id });
  });
  zk.on("connecting", () => { connected = false; events.push({ t: now(), kind: "disconnected" }); });
  zk.on("close", () => {
    connected = false;
    if (stopping) return;
    // The C client closes the handle after an expiry: count it and carry on with a new session, as an application would.
    expired += 1;
    events.push({ t: now(), kind: "expired" });
    client = open();
  });
  // A slow reply must never be taken for a dead session (DESIGN.md: response_counter_limit).
  zk.init({ response_counter_limit: 1_000_000 });
  return zk;
}

async function op(kind, fn) {
  const t0 = now();
  try {
    const ok = (await fn()) !== false;
    const t1 = now();
    ops.push({ t0, t1, kind, ok });
    if (ok) lastOk = t1;
  } catch (err) {
    ops.push({ t0, t1: now(), kind, ok: false, error: String(err?.message ?? err).slice(0, 120) });
  }
}

async function finish() {
  if (stopping) return;
  stopping = true;
  // Our one znode is not the ensemble's data: remove it, but never wait long for a server that is gone.
  await Promise.race([client.delete_(cfg.path, -1).catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
  send({ type: "final", ops, events, expired });
  client.close();
  process.exit(0);
}

async function main() {
  client = open();
  const deadline = Date.now() + 20_000;
  while (!connected) {
    if (Date.now() > deadline) { send({ type: "error", message: `no connection to ${cfg.connect} within 20 s` }); process.exit(2); }
    await new Promise((r) => setTimeout(r, 20));
  }
  await client.create(cfg.path, "0", 0).catch((err) => { if (!/exists/i.test(String(err?.message))) throw err; });
  send({ type: "ready", sid: client.client_id });
  ready = true;
  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => {
    if (line.trim() === "last") send({ type: "last", t: lastOk });
    else if (line.trim() === "stop") void finish();
  });
  // The bench killed or gone: nobody will say stop, and no client outlives its cap.
  commands.on("close", () => void finish());
  setTimeout(() => void finish(), cfg.maxRunMs).unref();
  let seq = 0;
  let acked = 0;
  while (!stopping) {
    const t = Date.now();
    const value = ++seq;
    await op("write", async () => { await client.set(cfg.path, String(value), -1); acked = value; });
    if (stopping) break;
    // A read older than our last acknowledged write would be a stale read: count it failed.
    await op("read", async () => Number(String((await client.get(cfg.path, false))[1])) >= acked);
    await new Promise((r) => setTimeout(r, Math.max(0, cfg.intervalMs - (Date.now() - t))));
  }
}

main().catch((err) => { send({ type: "error", message: String(err?.message ?? err) }); process.exit(1); });
