// `zkfleet apply`: observe the hosts, plan (pure), show the plan, and unless
// --check, carry it out. For now it brings an ensemble from nothing to running
// and keeps it as the inventory says; version and membership changes of a
// running ensemble are refused by the planner rather than improvised here.
import { existsSync } from "node:fs";
import { join, posix } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import { type StepResult, executePlan } from "../execute/executor.js";
import { Journal } from "../execute/journal.js";
import { Fleet, type FleetOptions } from "../fleet.js";
import type { Inventory } from "../inventory/schema.js";
import { type HostObservation, observeAll } from "../observe.js";
import { type DesiredHost, type ObservedHost, type Plan, type Step, planApply } from "../plan/plan.js";
import { findHostsConflicts, mergeHostsBlock, renderHostFiles, renderHostsBlock } from "../render/render.js";
import type { EnsembleReport } from "../status/health.js";

const ETC_HOSTS = "/etc/hosts";

export interface ApplyInput {
  file: string;
  inventory: Inventory;
  check: boolean;
  limit?: string[];
  journalDir: string;
  settleTimeoutMs?: number;
  fleet?: FleetOptions;
  /** Asked before changing anything (not in check mode); false aborts. */
  confirm: (plan: Plan) => Promise<boolean>;
  onPlan?: (plan: Plan) => void;
  onStepStart?: (step: Step) => void;
  onStepDone?: (result: StepResult) => void;
  onWaiting?: (line: string) => void;
  signal?: AbortSignal;
}

export interface ApplyResult {
  plan: Plan;
  executed: boolean;
  results: StepResult[];
  changed: number;
  final?: EnsembleReport;
  journal?: string;
}

export function tarballFor(inv: Inventory): string {
  return join(inv.zookeeper.dists, `apache-zookeeper-${inv.zookeeper.version}-bin.tar.gz`);
}

function toObserved(o: HostObservation): ObservedHost {
  const f = o.facts;
  return {
    host: o.key,
    reachable: o.reachable,
    ...(o.error ? { error: o.error } : {}),
    installed: f?.releases?.versions ?? [],
    current: f?.releases?.current ?? null,
    running: f?.process?.state === "running",
    ...(o.status?.mode ? { mode: o.status.mode } : {}),
    files: o.files,
    hasData: f?.data_dir?.version2 ?? false,
  };
}

/** What each host should look like; /etc/hosts is merged into what the host has, keeping its other lines. */
function desiredHosts(inv: Inventory, observed: Map<string, HostObservation>): DesiredHost[] {
  const block = inv.hosts_file === "managed" ? renderHostsBlock(inv) : undefined;
  return inv.hosts.map((spec) => {
    const files = renderHostFiles(inv, spec);
    if (block !== undefined) {
      const current = observed.get(spec.name)?.files[ETC_HOSTS] ?? "";
      files.push({ path: ETC_HOSTS, content: mergeHostsBlock(current, block, inv.ensemble), mode: 0o644 });
    }
    return { host: spec.name, role: spec.role, version: inv.zookeeper.version, tarball: tarballFor(inv), files };
  });
}

/** Lines outside zkfleet's block that would override it (Debian's `127.0.1.1 <hostname>` is the classic). */
function hostsConflicts(inv: Inventory, observed: Map<string, HostObservation>): string[] {
  if (inv.hosts_file !== "managed") return [];
  const block = renderHostsBlock(inv);
  return inv.hosts.flatMap((spec) =>
    findHostsConflicts(observed.get(spec.name)?.files[ETC_HOSTS] ?? "", block, inv.ensemble).map((c) =>
      `${spec.name}: /etc/hosts:${c.line} "${c.text.trim()}" maps ${c.name}, which the ensemble needs at ${c.expected}`));
}

export async function runApply(input: ApplyInput): Promise<ApplyResult> {
  const inv = input.inventory;
  const tarball = tarballFor(inv);
  if (!existsSync(tarball)) {
    throw new ZkfleetError("artifact", `no distribution for ZooKeeper ${inv.zookeeper.version} at ${tarball}`, {
      where: `${input.file}: zookeeper.dists`,
      hint: "build the cache with `zkfleet lab dists`, or point zookeeper.dists at a directory holding apache-zookeeper-<version>-bin.tar.gz",
    });
  }
  for (const name of input.limit ?? []) {
    if (!inv.hosts.some((h) => h.name === name)) {
      throw new ZkfleetError("usage", `--limit ${name}: no such host in ${input.file}`, {
        where: "--limit", hint: `hosts are ${inv.hosts.map((h) => h.name).join(", ")}`,
      });
    }
  }

  const fleet = await Fleet.open([inv], input.fleet);
  try {
    const paths = (key: string) => [
      ...renderHostFiles(inv, inv.hosts.find((h) => h.name === key)!).map((f) => f.path),
      ...(inv.hosts_file === "managed" ? [ETC_HOSTS] : []),
    ];
    const observations = await observeAll(fleet, inv.hosts.map((h) => h.name), paths);
    const byKey = new Map(observations.map((o) => [o.key, o]));
    const plan = planApply({
      ensemble: inv.ensemble,
      desired: desiredHosts(inv, byKey),
      observed: observations.map(toObserved),
      ...(input.limit ? { limit: input.limit } : {}),
      zooCfgPath: posix.join(inv.zookeeper.config_dir, "zoo.cfg"),
    });
    input.onPlan?.(plan);
    const unreachable = observations.filter((o) => !o.reachable);
    if (unreachable.length > 0) {
      throw new ZkfleetError("ssh", `${unreachable.length} host(s) cannot be observed; nothing was changed`, {
        where: unreachable.map((o) => `${o.key}: ${o.error}`).join("\n         "),
        hint: "fix what is named for each host (or leave the host out of the inventory) and run apply again",
      });
    }
    const conflicts = hostsConflicts(inv, byKey);
    if (conflicts.length > 0) {
      throw new ZkfleetError("plan", "/etc/hosts on some hosts gives ensemble names other addresses; nothing was changed", {
        where: conflicts.join("\n         "),
        hint: "the first matching line wins over zkfleet's block, so a server would bind or dial the wrong address: " +
          "remove or correct those lines (zkfleet edits only its own block)",
      });
    }
    if (plan.refused.length > 0) {
      throw new ZkfleetError("plan", "the plan is refused; nothing was changed", {
        where: plan.refused.join("\n         "),
        hint: "these changes need an operation that keeps quorum step by step; apply only creates and maintains an ensemble",
      });
    }
    if (input.check || plan.steps.length === 0) return { plan, executed: false, results: [], changed: 0 };
    if (!(await input.confirm(plan))) {
      throw new ZkfleetError("usage", "apply was not confirmed; nothing was changed", {
        hint: "answer y at the prompt, or pass --yes (review first with --check --diff)",
      });
    }

    const journal = new Journal(input.journalDir, inv.ensemble, "apply");
    const { results, final } = await executePlan(plan, {
      fleet, inventoryFile: input.file, journal, settleTimeoutMs: input.settleTimeoutMs ?? 120_000,
      ...(input.onStepStart ? { onStepStart: input.onStepStart } : {}),
      ...(input.onStepDone ? { onStepDone: input.onStepDone } : {}),
      ...(input.onWaiting ? { onWaiting: input.onWaiting } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    });
    return { plan, executed: true, results, changed: results.filter((r) => r.changed).length, final, journal: journal.path };
  } finally {
    await fleet.close();
  }
}

/** One line per step for people: what, where, why. */
export function describeStep(s: Step): string {
  switch (s.kind) {
    case "install": return `${s.host}: install ZooKeeper ${s.version}${s.setCurrent ? " and make it current" : ""} (${s.reason})`;
    case "write_file": return `${s.host}: ${s.created ? "create" : "update"} ${s.path}`;
    case "start": return `${s.host}: start ZooKeeper (${s.reason})`;
    case "restart": return `${s.host}: restart ZooKeeper, now ${s.mode} (${s.reason})`;
    case "wait_ensemble": return `wait until ${s.hosts.join(", ")} form a healthy ensemble`;
  }
}
