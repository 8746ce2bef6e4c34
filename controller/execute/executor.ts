// The executor carries out a plan's steps and nothing else: before a step it
// re-observes and checks the step's gate, after it waits for its outcome, and
// it journals both. Decisions about what to do belong to the planner.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import type { Fleet, FleetHost } from "../fleet.js";
import { observeServer, toHostReport } from "../observe.js";
import type { Plan, Step } from "../plan/plan.js";
import { type EnsembleReport, judgeEnsemble } from "../status/health.js";
import type { Journal } from "./journal.js";

export interface StepResult {
  step: Step;
  changed: boolean;
  message: string;
  ms: number;
}

export interface ExecuteOptions {
  fleet: Fleet;
  inventoryFile: string;
  journal: Journal;
  /** How long to wait for an ensemble to settle after starts and restarts. */
  settleTimeoutMs: number;
  onStepStart?: (step: Step) => void;
  onStepDone?: (result: StepResult) => void;
  onWaiting?: (line: string) => void;
  /** Aborted (Ctrl-C): stop before the next step, never inside one. */
  signal?: AbortSignal;
}

function serviceOf(h: FleetHost) {
  return h.inventory.zookeeper.service === "systemd"
    ? { kind: "systemd" as const, unit: "zookeeper.service" }
    : { kind: "script" as const };
}

function zooCfgPath(h: FleetHost): string {
  return posix.join(h.inventory.zookeeper.config_dir, "zoo.cfg");
}

async function install(opts: ExecuteOptions, step: Extract<Step, { kind: "install" }>): Promise<Omit<StepResult, "step" | "ms">> {
  const { fleet } = opts;
  const h = fleet.host(step.host);
  const conn = await fleet.connection(step.host);
  const remote = posix.join(h.inventory.agent.dir, "dists", posix.basename(step.tarball));
  let content: Buffer;
  try {
    content = await readFile(step.tarball);
  } catch (cause) {
    throw new ZkfleetError("artifact", `cannot read ${step.tarball}`, {
      where: step.tarball, hint: "build it with `zkfleet lab dists`, or fix zookeeper.dists in the inventory", cause,
    });
  }
  const sha256 = createHash("sha256").update(content).digest("hex");
  const mk = await conn.run(["mkdir", "-p", posix.dirname(remote)], { become: h.inventory.ssh.become });
  if (mk.code !== 0) throw new ZkfleetError("ssh", `cannot create ${posix.dirname(remote)} on ${step.host}: ${mk.stderr.trim()}`, { where: step.host });
  await conn.put(remote, content, 0o644);
  try {
    const r = await fleet.call(step.host, "install_dist", {
      tarball: remote, version: step.version, install_dir: h.inventory.zookeeper.install_dir, set_current: step.setCurrent, sha256,
    });
    return { changed: r.changed, message: r.message };
  } finally {
    // The release is unpacked; the pushed tarball is only a transfer copy.
    await conn.run(["rm", "-f", "--", remote], { become: h.inventory.ssh.become });
  }
}

async function writeFile(opts: ExecuteOptions, step: Extract<Step, { kind: "write_file" }>) {
  const h = opts.fleet.host(step.host);
  const r = await opts.fleet.call(step.host, "write_file", {
    path: step.path, content: step.content, mode: step.mode, state_dir: posix.join(h.inventory.agent.dir, "state"),
  });
  return { changed: r.changed, message: r.message };
}

async function start(opts: ExecuteOptions, host: string) {
  const h = opts.fleet.host(host);
  const zk = h.inventory.zookeeper;
  const r = await opts.fleet.call(host, "start", {
    install_dir: zk.install_dir, config_dir: zk.config_dir, data_dir: zk.data_dir, service: serviceOf(h), log_dir: zk.log_dir,
  });
  return { changed: r.changed, message: r.message };
}

async function stop(opts: ExecuteOptions, host: string) {
  const h = opts.fleet.host(host);
  const r = await opts.fleet.call(host, "stop", {
    data_dir: h.inventory.zookeeper.data_dir, config_path: zooCfgPath(h), service: serviceOf(h),
  });
  return { changed: r.changed, message: r.message };
}

/** Observes every host of the plan's ensemble and judges it. */
export async function observeEnsemble(opts: ExecuteOptions, keys: string[]): Promise<EnsembleReport> {
  // Gates poll every second: ask the servers through the SSH connections, start nothing on the hosts.
  const observed = await Promise.all(keys.map((k) => observeServer(opts.fleet, k)));
  const hosts = keys.map((k, i) => toHostReport(opts.fleet.host(k), observed[i]!));
  return judgeEnsemble(opts.fleet.host(keys[0]!).inventory, opts.inventoryFile, hosts);
}

async function waitHealthy(opts: ExecuteOptions, keys: string[], what: string): Promise<EnsembleReport> {
  const deadline = Date.now() + opts.settleTimeoutMs;
  let last: EnsembleReport | undefined;
  for (;;) {
    last = await observeEnsemble(opts, keys);
    if (last.verdict === "healthy") return last;
    if (Date.now() > deadline) {
      throw new ZkfleetError("zookeeper", `${what}: the ensemble did not settle within ${opts.settleTimeoutMs / 1000}s (${last.verdict})`, {
        where: last.problems.join("; "),
        hint: "look at the ZooKeeper logs on the hosts named above (log_dir), then run `zkfleet status`; apply can be run again once fixed",
      });
    }
    opts.onWaiting?.(`${what}: ${last.verdict}, ${last.votersUp}/${last.voters} voters up${last.problems[0] ? ` (${last.problems[0]})` : ""}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Restart one running server without losing quorum. Gate: the ensemble is
 * healthy now, so taking this one server down leaves a majority serving.
 * Outcome: the ensemble is healthy again, this server included.
 */
async function restart(opts: ExecuteOptions, step: Extract<Step, { kind: "restart" }>, keys: string[]) {
  const before = await observeEnsemble(opts, keys);
  if (before.verdict !== "healthy") {
    throw new ZkfleetError("plan", `not restarting ${step.host}: the ensemble is ${before.verdict} right now`, {
      where: before.problems.join("; "),
      hint: "restarting a server of an ensemble that is not fully healthy could cost quorum; fix the problems above, then run apply again",
    });
  }
  await stop(opts, step.host);
  await start(opts, step.host);
  await waitHealthy(opts, keys, `after restarting ${step.host}`);
  return { changed: true, message: `restarted (was ${step.mode}); ensemble healthy again` };
}

export async function executePlan(plan: Plan, opts: ExecuteOptions): Promise<{ results: StepResult[]; final?: EnsembleReport }> {
  const keys = opts.fleet.hosts.map((h) => h.key);
  const results: StepResult[] = [];
  let final: EnsembleReport | undefined;
  opts.journal.write("plan", { ensemble: plan.ensemble, steps: plan.steps.map(({ kind, host, reason }) => ({ kind, host, reason })) });

  const run = async (index: number, step: Step, fn: () => Promise<{ changed: boolean; message: string }>) => {
    if (opts.signal?.aborted) {
      opts.journal.write("interrupted", { before: index, kind: step.kind, host: step.host });
      throw new ZkfleetError("usage", `interrupted before step ${index + 1} (${step.kind} on ${step.host}); every earlier step finished`, {
        where: opts.journal.path,
        hint: "run apply again: it observes the hosts afresh and plans only what is still missing",
      });
    }
    opts.onStepStart?.(step);
    opts.journal.write("step-start", { index, kind: step.kind, host: step.host });
    const started = Date.now();
    try {
      const r = await fn();
      const result = { step, ...r, ms: Date.now() - started };
      opts.journal.write("step-done", { index, kind: step.kind, host: step.host, changed: r.changed, message: r.message, ms: result.ms });
      results.push(result);
      opts.onStepDone?.(result);
    } catch (err) {
      opts.journal.write("step-failed", { index, kind: step.kind, host: step.host, error: String(err instanceof Error ? err.message : err) });
      throw err;
    }
  };

  // Preparing hosts (install, files) touches no running server: hosts in parallel, each host's steps in order.
  const prepare = plan.steps.map((s, i) => [i, s] as const).filter(([, s]) => s.kind === "install" || s.kind === "write_file");
  const byHost = new Map<string, (typeof prepare)[number][]>();
  for (const entry of prepare) byHost.set(entry[1].host, [...(byHost.get(entry[1].host) ?? []), entry]);
  const prepared = await opts.fleet.forEachHost([...byHost.keys()], async (host) => {
    for (const [i, s] of byHost.get(host)!) {
      await run(i, s, () => (s.kind === "install" ? install(opts, s) : writeFile(opts, s as Extract<Step, { kind: "write_file" }>)));
    }
  });
  const failed = prepared.find((r) => !r.ok);
  if (failed && !failed.ok) throw failed.error;

  for (const [i, s] of plan.steps.entries()) {
    if (s.kind === "start") await run(i, s, () => start(opts, s.host));
    else if (s.kind === "restart") await run(i, s, () => restart(opts, s, keys));
    else if (s.kind === "wait_ensemble") {
      await run(i, s, async () => {
        final = await waitHealthy(opts, keys, "waiting for the ensemble");
        return { changed: false, message: `leader ${final.leader}, ${final.votersUp}/${final.voters} voters up` };
      });
    }
  }
  opts.journal.write("done", { changed: results.filter((r) => r.changed).length });
  return { results, final };
}
