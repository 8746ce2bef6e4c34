// The planner: what must happen to bring the observed fleet to the desired
// state, and in which order. Pure: no SSH, no ZooKeeper client, no file
// system. Quorum safety is decided here, so this is where the rules live and
// where the unit and property tests aim.
import { unifiedDiff } from "../../common/diff.js";

export interface DesiredFile {
  path: string;
  content: string;
  mode: number;
}

/** What the executor found on one host before planning. */
export interface ObservedHost {
  host: string;
  reachable: boolean;
  error?: string;
  /** Versions unpacked under install_dir/releases, and the one `current` points to. */
  installed: string[];
  current: string | null;
  /** ZooKeeper process verified by pid file and /proc. */
  running: boolean;
  /** From srvr: leader, follower, observer, standalone; undefined when not serving. */
  mode?: string;
  /** Current content of each managed file (null when absent). */
  files: Record<string, string | null>;
  /** The data dir already holds a version-2 directory (the server has state). */
  hasData: boolean;
}

export interface DesiredHost {
  host: string;
  role: "participant" | "observer";
  version: string;
  /** Local tarball of the distribution, to push when the release is missing. */
  tarball: string;
  files: DesiredFile[];
}

interface StepBase {
  host: string;
  /** Why the step is needed, for --check output and the journal. */
  reason: string;
}

export type Step =
  | (StepBase & { kind: "install"; version: string; tarball: string; setCurrent: boolean })
  | (StepBase & { kind: "write_file"; path: string; content: string; mode: number; diff: string; created: boolean })
  | (StepBase & { kind: "start" })
  | (StepBase & { kind: "restart"; mode: string })
  | (Omit<StepBase, "host"> & { kind: "wait_ensemble"; host: "*"; hosts: string[] });

export interface Plan {
  ensemble: string;
  steps: Step[];
  /** Hosts the plan leaves alone (already as desired). */
  unchanged: string[];
  /** When set, the plan must not run: each entry says what and why. */
  refused: string[];
}

/** Server lines of a zoo.cfg (or dynamic file), normalised: the ensemble's membership. */
export function membership(cfg: string | null): string[] {
  if (cfg === null) return [];
  return cfg
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^server\.\d+\s*=/.test(l))
    .map((l) => l.replace(/\s+/g, ""))
    .sort();
}

/**
 * Restart order from observed state, never from inventory order: servers
 * that are down first (nothing to lose), then followers, observers, and the
 * leader last, so the ensemble elects at most once.
 */
export function restartOrder(hosts: ObservedHost[]): ObservedHost[] {
  const rank = (h: ObservedHost): number =>
    !h.running || h.mode === undefined ? 0 : h.mode === "follower" ? 1 : h.mode === "observer" ? 2 : h.mode === "leader" ? 4 : 3;
  return [...hosts].sort((a, b) => rank(a) - rank(b) || a.host.localeCompare(b.host));
}

export interface PlanInput {
  ensemble: string;
  desired: DesiredHost[];
  observed: ObservedHost[];
  /** Restrict changes to these hosts (--limit); every host is still observed. */
  limit?: string[];
  /** The main config file's path, whose server lines define membership. */
  zooCfgPath: string;
}

export function planApply(input: PlanInput): Plan {
  const observedBy = new Map(input.observed.map((o) => [o.host, o]));
  const refused: string[] = [];
  const steps: Step[] = [];
  const unchanged: string[] = [];
  const inScope = (host: string) => !input.limit || input.limit.includes(host);

  for (const d of input.desired) {
    const o = observedBy.get(d.host);
    if (!o || !o.reachable) refused.push(`${d.host}: cannot be observed (${o?.error ?? "no observation"}); nothing was changed`);
  }
  if (refused.length > 0) return { ensemble: input.ensemble, steps: [], unchanged: [], refused };

  const anyRunning = input.observed.some((o) => o.running);
  const restarts: ObservedHost[] = [];
  const starts: string[] = [];

  for (const d of input.desired) {
    const o = observedBy.get(d.host)!;
    if (!inScope(d.host)) continue;
    const hostSteps: Step[] = [];

    if (o.running && o.current !== null && o.current !== d.version) {
      refused.push(`${d.host}: runs ZooKeeper ${o.current}, the inventory says ${d.version}; ` +
        "changing the version of a running server is a rolling upgrade, which apply does not do");
      continue;
    }
    if (!o.installed.includes(d.version) || o.current !== d.version) {
      hostSteps.push({
        kind: "install", host: d.host, version: d.version, tarball: d.tarball, setCurrent: o.current !== d.version,
        reason: o.installed.includes(d.version) ? `switch current from ${o.current ?? "nothing"} to ${d.version}` : `ZooKeeper ${d.version} is not installed`,
      });
    }

    const changedFiles = d.files.filter((f) => o.files[f.path] !== f.content);
    for (const f of changedFiles) {
      const before = o.files[f.path] ?? null;
      hostSteps.push({
        kind: "write_file", host: d.host, path: f.path, content: f.content, mode: f.mode,
        diff: unifiedDiff(f.path, before, f.content), created: before === null,
        reason: before === null ? `${f.path} does not exist` : `${f.path} differs from the inventory`,
      });
    }

    if (o.running && changedFiles.length > 0) {
      const cfg = d.files.find((f) => f.path === input.zooCfgPath);
      if (cfg && membership(o.files[input.zooCfgPath] ?? null).join() !== membership(cfg.content).join()) {
        refused.push(`${d.host}: the change alters the ensemble's membership (server lines) of a running server; ` +
          "rewriting static configs of a live ensemble risks two leaders (ZOOKEEPER-2819), and apply does not change membership");
        continue;
      }
      restarts.push(o);
    } else if (!o.running) {
      starts.push(d.host);
    }
    if (hostSteps.length === 0 && o.running) unchanged.push(d.host);
    steps.push(...hostSteps);
  }

  for (const host of starts) {
    steps.push({
      kind: "start", host,
      reason: anyRunning ? "ZooKeeper is not running; it joins the running ensemble" : "ZooKeeper is not running",
    });
  }
  for (const o of restartOrder(restarts)) {
    steps.push({ kind: "restart", host: o.host, mode: o.mode ?? "unknown", reason: "its configuration changed; restarted one at a time, leader last" });
  }
  // Under --limit, hosts left out that are not running cannot form the
  // ensemble this run would wait for; waiting would only time out.
  const willRun = (h: string) => observedBy.get(h)!.running || starts.includes(h);
  if ((starts.length > 0 || restarts.length > 0) && input.desired.every((d) => willRun(d.host))) {
    steps.push({
      kind: "wait_ensemble", host: "*", hosts: input.desired.map((d) => d.host),
      reason: "done only when one leader serves and every other server follows or observes it",
    });
  }
  return { ensemble: input.ensemble, steps: refused.length > 0 ? [] : steps, unchanged, refused };
}
