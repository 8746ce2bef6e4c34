// acquireEnsembleLock against a stand-in fleet that answers agent batches as
// hosts would: the observation rides in the lock's batch, right after the
// lock op, and a run that finds one host held by another run releases the
// locks it took on the others, hands back nothing it read, and refuses. A
// lock is taken over only from a holder that is not running: one whose
// process is seen gone here, or whose lease has lapsed. The pure parts (the
// lease, the holder's process state, the decision) are tested on their own,
// and the process states also against real processes of this machine.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { LEASE_MS, leaseLeft } from "../../common/lease.js";
import type { AgentRequest, AgentResponse, ControllerProcess } from "../../common/protocol.js";
import { type LockHolder, LockTakenOver, acquireEnsembleLock, decideTakeover } from "../../controller/execute/lock.js";
import { holderProcess, judgeHolder, parseProcStat, thisProcess } from "../../controller/execute/controller-process.js";
import type { Fleet } from "../../controller/fleet/fleet.js";

const holder = (over: Partial<LockHolder> = {}): LockHolder => ({
  run: "run-0", holder: "ops@ctl pid 7", since: "2025-01-01T00:00:00Z", generation: 1, token: "ab".repeat(16), process: null,
  lease_ms: LEASE_MS, renewed_at: "2025-01-01T00:00:00Z", lease_left_ms: 30_000, ...over,
});

function standIn(heldBy: Record<string, LockHolder>) {
  const batches: { key: string; ops: string[]; action?: string; takeOver?: unknown }[] = [];
  const respond = (op: AgentRequest, index: number, key: string): AgentResponse => {
    if (op.op !== "lock") return { type: "response", index, op: op.op, result: { changed: false, message: `read ${key}`, data: {} } };
    const held = heldBy[key];
    const args = op.args;
    let acquired = false;
    if (args.action === "acquire") {
      acquired = held === undefined ||
        (args.take_over?.token === held.token && (args.take_over.holder_gone || held.lease_left_ms === 0));
      if (acquired) heldBy[key] = holder({ run: args.run, token: args.token, generation: (held?.generation ?? 0) + 1, lease_left_ms: LEASE_MS });
    }
    return { type: "response", index, op: "lock", result: { changed: acquired, message: acquired ? "taken" : "held", data: { acquired, held_by: held ?? null, generation: acquired ? heldBy[key]!.generation : null } } };
  };
  const fleet = {
    batch: async (key: string, requests: AgentRequest[]) => {
      const lock = requests.find((r) => r.op === "lock");
      batches.push({ key, ops: requests.map((r) => r.op), ...(lock?.op === "lock" ? { action: lock.args.action, takeOver: lock.args.take_over } : {}) });
      return requests.map((r, i) => respond(r, i, key));
    },
    call: async (key: string, op: string, args: unknown) => {
      const [r] = await fleet.batch(key, [{ op, args } as AgentRequest]);
      return r!.result;
    },
    fenceWith: () => undefined,
  };
  return { fleet: fleet as unknown as Fleet, batches };
}

const opts = { ensemble: "e", agentDir: "/opt/zkfleet", run: "run-1", breakLock: false };
const alongside = (): AgentRequest[] => [{ op: "facts", args: {} }, { op: "status", args: { host: "127.0.0.1", port: 2181 } }];
const released = (batches: { key: string; action?: string }[]) => batches.filter((b) => b.action === "release").map((b) => b.key).sort();

/** A process of this machine, as a lock file would name it: a child made to run, stop or exit. */
async function child(): Promise<{ process: ControllerProcess; stop(): Promise<void>; end(): Promise<void> }> {
  const c = spawn("sleep", ["600"], { stdio: "ignore" });
  await new Promise((resolve) => c.once("spawn", resolve));
  const start = parseProcStat((await import("node:fs")).readFileSync(`/proc/${c.pid}/stat`, "utf8"))!.start;
  const id = { ...thisProcess()!, pid: c.pid!, start };
  return {
    process: id,
    stop: async () => {
      c.kill("SIGSTOP");
      // Delivered asynchronously: the process table shows it within moments.
      for (let i = 0; i < 250 && holderProcess(id) !== "stopped"; i++) await new Promise((r) => setTimeout(r, 20));
    },
    end: async () => {
      const exited = new Promise((resolve) => c.once("exit", resolve));
      c.kill("SIGKILL");
      await exited;
    },
  };
}

describe("acquireEnsembleLock", () => {
  it("runs the observation in the lock's batch on every host, after the lock op", async () => {
    const { fleet, batches } = standIn({});
    const lock = await acquireEnsembleLock(fleet, ["zk1", "zk2", "zk3"], { ...opts, alongside });
    expect(batches.map((b) => b.ops)).toEqual([["lock", "facts", "status"], ["lock", "facts", "status"], ["lock", "facts", "status"]]);
    expect([...lock.alongside.keys()].sort()).toEqual(["zk1", "zk2", "zk3"]);
    expect(lock.alongside.get("zk2")!.map((r) => r.result)).toMatchObject([{ message: "read zk2" }, { message: "read zk2" }]);
    expect(lock.generation).toBe(1);
    expect(() => lock.assertHeld()).not.toThrow();
    await lock.release();
    expect(released(batches)).toEqual(["zk1", "zk2", "zk3"]);
  });

  it("releases what it took and refuses when one host is held by another run", async () => {
    const { fleet, batches } = standIn({ zk2: holder() });
    const err = await acquireEnsembleLock(fleet, ["zk1", "zk2", "zk3"], { ...opts, alongside }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toMatch(/ensemble e is locked by run run-0 \(ops@ctl pid 7\) since \S+; nothing was changed/);
    expect(released(batches)).toEqual(["zk1", "zk3"]);
  });

  it("--break-lock is refused while the holder's controller runs on this machine, lease lapsed or not", async () => {
    const { fleet, batches } = standIn({ zk2: holder({ process: thisProcess()!, lease_left_ms: 0 }) });
    const err = await acquireEnsembleLock(fleet, ["zk1", "zk2", "zk3"], { ...opts, breakLock: true }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toMatch(new RegExp(`locked by run run-0 .*, and its controller still runs on this machine \\(pid ${process.pid}\\): --break-lock does not take a lock from a live run`));
    expect(batches.some((b) => b.takeOver !== undefined)).toBe(false);
    expect(released(batches)).toEqual(["zk1", "zk3"]);
  });

  it("--break-lock is refused while the lease runs and the holder cannot be seen; taken over once it lapsed, generation up, told", async () => {
    const fresh = standIn({ zk1: holder(), zk2: holder() });
    const err = await acquireEnsembleLock(fresh.fleet, ["zk1", "zk2"], { ...opts, breakLock: true }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toMatch(/and its lease is still running .* 30s left by zk1's clock\): its controller may be alive on another machine/);
    expect(fresh.batches.some((b) => b.takeOver !== undefined)).toBe(false);

    const lapsed = standIn({ zk1: holder({ lease_left_ms: 0 }), zk2: holder({ lease_left_ms: 0, generation: 4 }) });
    const lock = await acquireEnsembleLock(lapsed.fleet, ["zk1", "zk2", "zk3"], { ...opts, breakLock: true, alongside });
    expect(lapsed.batches.filter((b) => b.takeOver).map((b) => [b.key, b.takeOver, b.ops])).toEqual([
      ["zk1", { token: holder().token, holder_gone: false }, ["lock", "facts", "status"]],
      ["zk2", { token: holder().token, holder_gone: false }, ["lock", "facts", "status"]],
    ]);
    expect(lock.tookOver).toMatchObject([{ run: "run-0", process_state: "unknown" }]);
    expect(lock.generation).toBe(5);
    expect([...lock.alongside.keys()].sort()).toEqual(["zk1", "zk2", "zk3"]);
  });

  it("takes the lock from a controller seen gone at once, lease or not; waits for the lease of one that is stopped", async () => {
    const gone = await child();
    await gone.end();
    const fromGone = standIn({ zk1: holder({ process: gone.process }) });
    const lock = await acquireEnsembleLock(fromGone.fleet, ["zk1"], { ...opts, breakLock: true });
    expect(fromGone.batches.find((b) => b.takeOver)?.takeOver).toEqual({ token: holder().token, holder_gone: true });
    expect(lock.tookOver).toMatchObject([{ process_state: "gone" }]);

    const stopped = await child();
    try {
      await stopped.stop();
      const { fleet } = standIn({ zk1: holder({ process: stopped.process }) });
      const err = await acquireEnsembleLock(fleet, ["zk1"], { ...opts, breakLock: true }).then(() => undefined, (e: unknown) => e);
      expect(String(err)).toMatch(new RegExp(`its controller is stopped \\(pid ${stopped.process.pid}\\), not gone`));
      const later = standIn({ zk1: holder({ process: stopped.process, lease_left_ms: 0 }) });
      expect((await acquireEnsembleLock(later.fleet, ["zk1"], { ...opts, breakLock: true })).tookOver).toMatchObject([{ process_state: "stopped" }]);
    } finally {
      await stopped.end();
    }
  });

  it("takes its own run's lock back (resume) without --break-lock once the holder is gone, and not from a live one", async () => {
    const gone = await child();
    await gone.end();
    const back = standIn({ zk1: holder({ run: "run-1", process: gone.process }) });
    const lock = await acquireEnsembleLock(back.fleet, ["zk1"], opts);
    expect(lock.tookOver).toEqual([]);
    expect(lock.generation).toBe(2);
    const live = standIn({ zk1: holder({ run: "run-1", process: thisProcess()! }) });
    const err = await acquireEnsembleLock(live.fleet, ["zk1"], opts).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toMatch(/its controller still runs on this machine .*: its lock is not taken back from it/);
  });

  it("refuses, and gives back what it took, when a host's holder changed between reading and taking over", async () => {
    const { fleet, batches } = standIn({ zk1: holder({ lease_left_ms: 0 }), zk2: holder({ lease_left_ms: 0 }) });
    const real = fleet.batch.bind(fleet);
    // zk2's holder renews between the two rounds.
    (fleet as unknown as { batch: typeof real }).batch = async (key, requests) => {
      const r = await real(key, requests);
      const takeOver = requests[0]?.op === "lock" && requests[0].args.take_over !== undefined;
      if (key === "zk2" && takeOver) r[0]!.result = { changed: false, message: "held by run run-0, its lease renewed 0s ago", data: { acquired: false, held_by: holder(), generation: null } };
      return r;
    };
    const err = await acquireEnsembleLock(fleet, ["zk1", "zk2"], { ...opts, breakLock: true }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toMatch(/locked by run run-0 .*: held by run run-0, its lease renewed 0s ago; nothing was changed/);
    expect(released(batches)).toEqual(["zk1"]);
  });
});

describe("LockTakenOver", () => {
  it("names the run that took the lock, when, and the step this run stopped before", () => {
    const err = new LockTakenOver("orders", holder({ run: "run-9", holder: "eve@ctl2 pid 42", since: "2025-02-02T02:02:02Z" }), "zk1").before(3);
    expect(err.message).toBe("the lock of ensemble orders was taken over by run run-9 (eve@ctl2 pid 42) at 2025-02-02T02:02:02Z; this run stopped before step 4; nothing more was changed by it");
    expect(err.before(7)).toBe(err);
  });
});

describe("the lease", () => {
  it("runs its length from the last renewal by the host's clock, and lapses after", () => {
    expect(leaseLeft(1_000_000, 45_000, 1_000_000)).toBe(45_000);
    expect(leaseLeft(1_000_000, 45_000, 1_010_000)).toBe(35_000);
    expect(leaseLeft(1_000_000, 45_000, 1_044_999)).toBe(1);
    expect(leaseLeft(1_000_000, 45_000, 1_045_000)).toBe(0);
    expect(leaseLeft(1_000_000, 45_000, 9_000_000)).toBe(0);
  });

  it("counts a renewal stamped in the future (the clock set back) from now, unless it is further ahead than a lease", () => {
    expect(leaseLeft(1_010_000, 45_000, 1_000_000)).toBe(45_000);
    expect(leaseLeft(1_045_000, 45_000, 1_000_000)).toBe(45_000);
    expect(leaseLeft(1_045_001, 45_000, 1_000_000)).toBe(0);
  });

  it("is lapsed when nothing can be read from it", () => {
    expect(leaseLeft(Number.NaN, 45_000, 1_000_000)).toBe(0);
    expect(leaseLeft(1_000_000, 0, 1_000_000)).toBe(0);
  });
});

describe("the holder's process", () => {
  const here = { boot_id: "b-1", pid_ns: "pid:[4026531836]" };
  const proc = { ...here, pid: 4242, start: "1234567" };
  const stat = (state: string, start: string, comm = "node") => `4242 (${comm}) ${state} 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 11 0 ${start} 1000 50`;

  it("reads state and start time past a command name with spaces and parentheses", () => {
    expect(parseProcStat(stat("S", "1234567", "my (odd) name"))).toEqual({ state: "S", start: "1234567" });
    expect(parseProcStat("garbage")).toBeUndefined();
  });

  it("is running, stopped or gone only in this machine's process table, and gone when its pid names a later process", () => {
    expect(judgeHolder(proc, here, stat("S", "1234567"))).toBe("running");
    expect(judgeHolder(proc, here, stat("R", "1234567"))).toBe("running");
    expect(judgeHolder(proc, here, stat("T", "1234567"))).toBe("stopped");
    expect(judgeHolder(proc, here, stat("S", "7654321"))).toBe("gone");
    expect(judgeHolder(proc, here, stat("Z", "1234567"))).toBe("gone");
    expect(judgeHolder(proc, here, "no such pid")).toBe("gone");
    expect(judgeHolder(proc, here, "unreadable")).toBe("unknown");
    expect(judgeHolder(proc, { ...here, boot_id: "b-2" }, "no such pid")).toBe("unknown");
    expect(judgeHolder(proc, { ...here, pid_ns: "pid:[1]" }, "no such pid")).toBe("unknown");
    expect(judgeHolder(null, here, "no such pid")).toBe("unknown");
    expect(judgeHolder(proc, undefined, "no such pid")).toBe("unknown");
  });

  it("tells this process running, a stopped child stopped and an ended one gone", async () => {
    expect(holderProcess(thisProcess()!)).toBe("running");
    const c = await child();
    try {
      expect(holderProcess(c.process)).toBe("running");
      await c.stop();
      expect(holderProcess(c.process)).toBe("stopped");
    } finally {
      await c.end();
    }
    expect(holderProcess(c.process)).toBe("gone");
    expect(holderProcess({ ...thisProcess()!, start: "1" })).toBe("gone");
  });
});

describe("decideTakeover", () => {
  const lapsed = { run: "run-0", lease_left_ms: 0 };
  const fresh = { run: "run-0", lease_left_ms: 1 };
  it("takes another run's lock only with --break-lock, its own without; never from a running controller", () => {
    expect(decideTakeover(lapsed, "gone", { run: "run-1", breakLock: false })).toEqual({ take: false, why: "locked" });
    expect(decideTakeover(lapsed, "gone", { run: "run-0", breakLock: false })).toEqual({ take: true, holderGone: true });
    expect(decideTakeover(lapsed, "running", { run: "run-1", breakLock: true })).toEqual({ take: false, why: "running" });
    expect(decideTakeover(lapsed, "running", { run: "run-0", breakLock: false })).toEqual({ take: false, why: "running" });
  });
  it("lets the lease decide for a stopped controller or one that cannot be seen, and not for one seen gone", () => {
    for (const state of ["stopped", "unknown"] as const) {
      expect(decideTakeover(fresh, state, { run: "run-1", breakLock: true })).toEqual({ take: false, why: "lease" });
      expect(decideTakeover(lapsed, state, { run: "run-1", breakLock: true })).toEqual({ take: true, holderGone: false });
    }
    expect(decideTakeover(fresh, "gone", { run: "run-1", breakLock: true })).toEqual({ take: true, holderGone: true });
  });
});
