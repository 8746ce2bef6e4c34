// The canary: real clients (the `zookeeper` package, each in a worker
// process) writing and reading while a run stops and starts servers, one on
// the full connect string as applications use it and one pinned to each
// server. What they saw is what clients saw: failed operations, the longest
// time without a successful write, latencies, expired sessions, and, checked
// at the end, acknowledged writes that are gone (must be none).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ZkfleetError } from "../../common/errors.js";
import { packageRoot } from "../../common/paths.js";
import type { CanaryConfig, CanaryFinal, CanaryOp, SweptRun } from "./protocol.js";
import { quantile } from "../../common/quantile.js";

export interface CanaryTarget {
  label: string;
  connect: string;
}

/**
 * A client's figures. null is unknown: a client that gave no report has no
 * figures at all, and one whose final check could not read its znodes does
 * not know whether any acknowledged write was lost. Never 0 for unknown: 0
 * lost is the claim the canary exists to show.
 */
export interface ClientFigures {
  label: string;
  connect: string;
  ops: number | null;
  failed: number | null;
  acked: number | null;
  lost: number | null;
  expired: number | null;
  /** Longest stretch without a successful write (ms), from the canary's start to its stop. */
  longestGapMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Set when the worker died or the final check could not run: its figures are partial or missing. */
  problem?: string;
}

export interface StepFigures {
  index: number;
  ops: number;
  failed: number;
  /** Longest gap of the full-connect-string client while this step ran. */
  longestGapMs: number;
}

export interface CanaryReport {
  clients: ClientFigures[];
  steps: StepFigures[];
  /**
   * Sums over the clients, and the full-connect-string client's gap and latency (what an application sees);
   * null where a client's figure is unknown, and then `unknown` says why.
   */
  total: {
    ops: number | null; failed: number | null; lost: number | null; expired: number | null;
    longestGapMs: number | null; p50Ms: number | null; p99Ms: number | null;
    unknown?: string[];
  };
  /** Canary znodes of earlier runs that were killed outright, removed by this run; and those left, with why. */
  swept?: SweptRun[];
  sweepNotes?: string[];
}

// Loops, not Math.max(...xs): a 6-hour run has more operations than a call takes arguments.
const maxOf = (xs: readonly number[], start: number) => xs.reduce((m, x) => (x > m ? x : m), start);
const minOf = (xs: readonly number[], start: number) => xs.reduce((m, x) => (x < m ? x : m), start);

// A client with no successful operation reports 0 ms, as before the figures were shared.
const quantileOr0 = (xs: readonly number[], q: number) => quantile(xs, q) ?? 0;

/** Longest time between successful writes, counting from the first moment to the last. */
export function longestGap(ops: readonly CanaryOp[], from: number, to: number): number {
  const done = ops.filter((o) => o.kind === "write" && o.ok).map((o) => o.t + o.ms).filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap = 0;
  let last = from;
  for (const t of done) {
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}

export function summarize(finals: readonly (CanaryFinal | { label: string; connect: string; problem: string })[]): CanaryReport {
  const clients = finals.map((f): ClientFigures => {
    if (!("ops" in f)) return { label: f.label, connect: f.connect, ops: null, failed: null, acked: null, lost: null, expired: null, longestGapMs: null, p50Ms: null, p99Ms: null, problem: f.problem };
    const end = maxOf(f.ops.map((o) => o.t + o.ms), 0);
    const start = minOf(f.ops.map((o) => o.t), end);
    const latencies = f.ops.filter((o) => o.ok).map((o) => o.ms);
    return {
      label: f.label, connect: f.connect, ops: f.ops.length, failed: f.ops.filter((o) => !o.ok).length, acked: f.acked, lost: f.verifyError ? null : f.lost.length,
      expired: f.expired, longestGapMs: longestGap(f.ops, start, end), p50Ms: quantileOr0(latencies, 0.5), p99Ms: quantileOr0(latencies, 0.99),
      ...(f.verifyError ? { problem: `the final check could not read the canary's znodes: ${f.verifyError}` } : {}),
    };
  });
  const all = finals.find((f) => f.label === "all");
  const allOps = all && "ops" in all ? all.ops : [];
  const stepIndexes = [...new Set(finals.flatMap((f) => ("ops" in f ? f.ops.map((o) => o.step) : [])))].filter((i) => i >= 0).sort((a, b) => a - b);
  const steps = stepIndexes.map((index): StepFigures => {
    const inStep = finals.flatMap((f) => ("ops" in f ? f.ops.filter((o) => o.step === index) : []));
    const mine = allOps.filter((o) => o.step === index);
    const from = minOf(mine.map((o) => o.t), Infinity);
    const to = maxOf(mine.map((o) => o.t + o.ms), -Infinity);
    return { index, ops: inStep.length, failed: inStep.filter((o) => !o.ok).length, longestGapMs: mine.length > 0 ? longestGap(allOps, from, to) : 0 };
  });
  const c = clients.find((x) => x.label === "all");
  // One unknown part makes the sum unknown.
  const sum = (of: (x: ClientFigures) => number | null) => clients.reduce<number | null>((n, x) => (n === null || of(x) === null ? null : n + of(x)!), 0);
  const unknown = clients.flatMap((x) => (x.problem ? [x.problem] : []));
  const swept = finals.flatMap((f) => ("swept" in f ? f.swept ?? [] : []));
  const sweepNotes = finals.flatMap((f) => ("sweepNotes" in f ? f.sweepNotes ?? [] : []));
  return {
    clients, steps, ...(swept.length > 0 ? { swept } : {}), ...(sweepNotes.length > 0 ? { sweepNotes } : {}),
    total: {
      ops: sum((x) => x.ops), failed: sum((x) => x.failed), lost: sum((x) => x.lost), expired: sum((x) => x.expired),
      longestGapMs: c ? c.longestGapMs : null, p50Ms: c ? c.p50Ms : null, p99Ms: c ? c.p99Ms : null,
      ...(unknown.length > 0 ? { unknown } : {}),
    },
  };
}

/**
 * What one client saw over time, for the run report's picture: its
 * operations in buckets by the wall-clock time they were issued. Columns,
 * not objects, to keep a long run's journal record small.
 */
export interface ClientSeries {
  label: string;
  /** Epoch ms of the first bucket's start; bucket i starts at from + i * bucketMs. */
  from: number;
  bucketMs: number;
  ops: number[];
  failed: number[];
  /** Latency of the bucket's successful operations (ms); 0 when it had none. */
  p50Ms: number[];
  maxMs: number[];
}

/** The narrowest bucket, and how many a client keeps at most: a 6-hour run gets 15 s buckets, about 100 kB in the journal. */
export const SERIES_BUCKET_MS = 250;
export const SERIES_MAX_BUCKETS = 1440;

/** Every client's operations in buckets of a common width and alignment (widened in steps of 250 ms so a long run stays bounded). */
export function timeSeries(finals: readonly (CanaryFinal | { label: string; problem: string })[], maxBuckets = SERIES_MAX_BUCKETS): ClientSeries[] {
  const withOps = finals.filter((f): f is CanaryFinal => "ops" in f && f.ops.length > 0);
  if (withOps.length === 0) return [];
  const times = withOps.flatMap((f) => f.ops.map((o) => f.startedAt + o.t));
  const first = minOf(times, Infinity);
  const span = maxOf(times, -Infinity) - first + 1;
  const bucketMs = SERIES_BUCKET_MS * Math.max(1, Math.ceil(span / (SERIES_BUCKET_MS * maxBuckets)));
  // Buckets aligned on multiples of their width, so every client's bucket i covers the same time.
  const from = Math.floor(first / bucketMs) * bucketMs;
  const count = Math.floor((first + span - 1 - from) / bucketMs) + 1;
  return withOps.map((f) => {
    const inBucket: CanaryOp[][] = Array.from({ length: count }, () => []);
    for (const o of f.ops) inBucket[Math.floor((f.startedAt + o.t - from) / bucketMs)]!.push(o);
    const okMs = inBucket.map((b) => b.filter((o) => o.ok).map((o) => o.ms));
    return {
      label: f.label, from, bucketMs,
      ops: inBucket.map((b) => b.length), failed: inBucket.map((b) => b.filter((o) => !o.ok).length),
      p50Ms: okMs.map((xs) => quantileOr0(xs, 0.5)), maxMs: okMs.map((xs) => maxOf(xs, 0)),
    };
  });
}

export interface CanaryOptions {
  /** Parent znode of the canary's own znodes; the run id keeps two runs' canaries apart. */
  prefix: string;
  /** Remove what earlier runs' canaries left beside prefix, except these runs' (see CanaryConfig.sweep). */
  sweep?: { keep: string[] };
  intervalMs?: number;
  sessionTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxRunMs?: number;
}

function workerPath(): string {
  const path = join(packageRoot(), "dist", "controller", "canary", "worker.js");
  if (!existsSync(path)) {
    throw new ZkfleetError("usage", `the canary worker ${path} is missing`, { hint: "build zkfleet (`npm run build`), or pass --no-canary" });
  }
  return path;
}

/**
 * The controller's environment less NODE_EXTRA_CA_CERTS: node reads that CA
 * bundle at every start, and a worker makes no TLS connection (the native
 * client speaks plain ZooKeeper). Measured here, where it is set: a worker
 * connected 88 ms after its start with it, 48 ms without.
 */
function workerEnv(): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
  return env;
}

interface Worker {
  target: CanaryTarget;
  child: ChildProcess;
  final: Promise<CanaryFinal | { label: string; connect: string; problem: string }>;
}

export class Canary {
  private constructor(private readonly workers: Worker[]) {}

  /** Starts one worker per target and waits until each is connected; a canary that cannot connect stops the run before it acts. */
  static async start(targets: readonly CanaryTarget[], opts: CanaryOptions): Promise<Canary> {
    const path = workerPath();
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (const target of targets) {
      const config: CanaryConfig = {
        label: target.label, connect: target.connect, verifyConnect: targets.find((t) => t.label === "all")?.connect ?? target.connect,
        prefix: opts.prefix, intervalMs: opts.intervalMs ?? 100,
        sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000, connectTimeoutMs: opts.connectTimeoutMs ?? 15_000, maxRunMs: opts.maxRunMs ?? 6 * 3600_000,
        // One client sweeps: the one on the full connect string, which outlives any one server.
        ...(opts.sweep && target.label === "all" ? { sweep: opts.sweep } : {}),
      };
      const child = spawn(process.execPath, [path, JSON.stringify(config)], { stdio: ["pipe", "pipe", "pipe"], env: workerEnv() });
      // A worker that crashed is reported by its exit; a step line written to it before that is noticed fails with EPIPE.
      child.stdin!.on("error", () => undefined);
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr = (stderr + String(d)).slice(-2000)));
      const lines = createInterface({ input: child.stdout! });
      let readyResolve!: () => void;
      let readyReject!: (e: Error) => void;
      ready.push(new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; }));
      const final = new Promise<CanaryFinal | { label: string; connect: string; problem: string }>((resolve) => {
        lines.on("line", (line) => {
          let msg: { type?: string; message?: string };
          try {
            msg = JSON.parse(line) as { type?: string };
          } catch {
            return;
          }
          if (msg.type === "ready") readyResolve();
          else if (msg.type === "error") readyReject(new Error(msg.message));
          else if (msg.type === "final") resolve(msg as CanaryFinal);
        });
        child.on("exit", (code, signal) => {
          const problem = `canary client ${target.label} exited (${signal ?? `code ${code}`}) without its report${stderr ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`;
          readyReject(new Error(problem));
          resolve({ label: target.label, connect: target.connect, problem });
        });
      });
      workers.push({ target, child, final });
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      for (const w of workers) w.child.kill("SIGKILL");
      throw new ZkfleetError("zookeeper", `the canary cannot work with the ensemble before the run: ${(err as Error).message}; no server was stopped or restarted`, {
        hint: "check that every server answers (zkfleet status); when the client ports are closed to this machine, --canary-via ssh reaches them through the SSH connections; or run with --no-canary",
      });
    }
    return new Canary(workers);
  }

  /** Later operations belong to this plan step. */
  step(index: number): void {
    for (const w of this.workers) if (w.child.stdin?.writable) w.child.stdin.write(`step ${index}\n`);
  }

  /** Stops the clients, lets each check its acknowledged writes, and sums up; a worker that hangs is killed after timeoutMs. */
  async stop(timeoutMs = 120_000): Promise<{ report: CanaryReport; series: ClientSeries[] }> {
    for (const w of this.workers) if (w.child.stdin?.writable) w.child.stdin.end("stop\n");
    const finals = await Promise.all(this.workers.map((w) => Promise.race([
      w.final,
      new Promise<{ label: string; connect: string; problem: string }>((resolve) => setTimeout(() => {
        w.child.kill("SIGKILL");
        resolve({ label: w.target.label, connect: w.target.connect, problem: `canary client ${w.target.label} did not report within ${timeoutMs / 1000}s and was stopped` });
      }, timeoutMs).unref()),
    ])));
    return { report: summarize(finals), series: timeSeries(finals) };
  }

  /** For `finally` after an error: no worker outlives the run. */
  kill(): void {
    for (const w of this.workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
  }
}
