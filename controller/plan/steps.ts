// The contract between the planner and the executor. A plan holds everything
// the executor will do: each step's arguments, the gates before and the
// checks after as steps of their own, timeouts, and the state a step expects
// to replace (for the journal, resume and rollback). The executor adds
// nothing and reorders nothing, so `apply --check` shows exactly what runs.
import type { OpArgsInput } from "../../common/protocol.js";
import type { EnsembleTarget } from "../model/target.js";

/** A release found on the hosts at adoption, outside install_dir. */
export interface Preinstalled {
  version: string;
  home: string;
}

interface StepBase {
  host: string;
  /** Why the step is needed, for --check output and the journal. */
  reason: string;
}

export type InstallStep = StepBase & {
  kind: "install";
  version: string;
  /** Local tarball, pushed into transferDir on the host, unpacked, then removed. */
  tarball: string;
  transferDir: string;
  installDir: string;
  /** The adopted release used where it lies (not pushed; `current` points at its home). */
  preinstalled?: Preinstalled;
  setCurrent: boolean;
  before: { current: string | null; installed: string[] };
};

export type WriteFileStep = StepBase & {
  kind: "write_file";
  path: string;
  content: string;
  mode: number;
  /** The agent keeps the replaced content under stateDir/backups. */
  stateDir: string;
  diff: string;
  before: "absent" | "present";
  /** The content it replaces (null: none): what an undo writes back. */
  previous: string | null;
};

/** Point `current` at a release already unpacked on the host (the server is stopped). */
export type SwitchReleaseStep = StepBase & {
  kind: "switch_release"; version: string; installDir: string; preinstalled?: Preinstalled; before: { current: string | null };
};

/** Move the data directory's state aside (never deleted) so the server starts empty and syncs from the leader. */
export type CleanDataStep = StepBase & { kind: "clean_data"; args: OpArgsInput<"clean_data"> };

/**
 * Put a backup's snapshot and logs into a stopped server's data directory
 * (restore): the files are pushed into stagingDir on the host, then the
 * agent checks each against its sha256, moves the old state aside and
 * writes them into version-2, and a marker last.
 */
export type RestoreDataStep = StepBase & {
  kind: "restore_data";
  /** The backup directory on the controller: files/<name> are pushed. */
  backup: string;
  files: { name: string; size: number; sha256: string }[];
  stagingDir: string;
  args: Omit<OpArgsInput<"restore_data">, "files">;
};

export type StartStep = StepBase & { kind: "start"; args: OpArgsInput<"start"> };
export type StopStep = StepBase & { kind: "stop"; args: OpArgsInput<"stop">; /** Its mode when planned. */ mode: string };

/**
 * Wait until every member serves: one leader, the others following or
 * observing, synced. As a gate (before a stop) a timeout refuses to go on,
 * since stopping a server of an unhealthy ensemble could cost quorum; as a
 * check (after a start) a timeout is a failed step.
 */
export type AwaitHealthyStep = StepBase & {
  kind: "await_healthy";
  host: "*";
  role: "gate" | "check";
  /** The hosts whose health is awaited: every member of the ensemble. */
  hosts: string[];
  /** Versions a server may report and still count as healthy: two while an upgrade is half done. */
  versions: string[];
  /** A check after a start also waits until this host's zxid reaches what the leader had. */
  caughtUp?: string;
  /**
   * Roles during a membership change, where they differ from the target's;
   * "learner" is a joiner started but not yet added: it must serve (follow
   * or observe) and is not counted as a voter.
   */
  roles?: Record<string, "participant" | "observer" | "learner">;
  /**
   * A gate before an undo stops this server (the one that failed): it waits
   * only until, without it, a quorum of voters serves, since the ensemble
   * as a whole is not expected to be healthy then.
   */
  quorumWithout?: string;
  timeoutMs: number;
};

/**
 * Dynamic reconfiguration (3.5.3+): one server added, removed or given
 * another role, sent through one server's zkCli by the agent. The super
 * user's password is added when the step runs, never stored in the plan.
 */
export type ReconfigStep = StepBase & {
  kind: "reconfig";
  /** The server the request goes to (any live member). */
  server: string;
  add: string[];
  remove: number[];
  installDir: string;
  preinstalled?: Preinstalled;
  /** The server lines the ensemble must report once it is committed (canonical form, membership.ts serverLine). */
  expect: string[];
};

/** Wait until every listed member reports the expected server lines, then until a write commits under them. */
export type AwaitConfigStep = StepBase & {
  kind: "await_config";
  host: "*";
  hosts: string[];
  expect: string[];
  timeoutMs: number;
};

export type Step =
  | InstallStep | WriteFileStep | StopStep | SwitchReleaseStep | CleanDataStep | RestoreDataStep | StartStep | AwaitHealthyStep | ReconfigStep | AwaitConfigStep;
export type StepKind = Step["kind"];

/**
 * Steps run in stages, in order. In a concurrent stage hosts proceed side by
 * side, each host's steps in order (preparing hosts that serve nothing); in
 * a serial stage one step after another (anything that touches a server).
 */
export interface Stage {
  title: string;
  concurrent: boolean;
  steps: Step[];
  /**
   * When a step fails after this stage stopped its server: put the server
   * back as it was (previous files and release) and check it serves, then
   * halt. Shown by --check like every other step.
   */
  undo?: Step[];
  /**
   * A server the resumed run stopped and started but never saw through its
   * check: this stage checks it, and its undo (that run's) puts it back when
   * it does not serve.
   */
  resumes?: string;
}

export type RefusalCode =
  | "unobservable_host"
  | "unreadable_file"
  | "membership_change"
  | "unreadable_membership"
  | "hosts_file_conflict"
  | "quorum_at_risk"
  | "unsafe_version_hop"
  | "unsafe_membership_change"
  | "ensemble_elsewhere"
  | "restore_target_running";

/** A reason the plan must not run: a code and data for tests and --json, a message for people. */
export interface Refusal {
  code: RefusalCode;
  host?: string;
  message: string;
  data: Record<string, unknown>;
}

export interface DeferredWrite {
  host: string;
  path: string;
  /** Why it can wait: its effect is already there, or it is read only at start-up. */
  reason: string;
}

export interface Plan {
  target: EnsembleTarget;
  stages: Stage[];
  /** Hosts the plan leaves alone (running, already as desired). */
  unchanged: string[];
  /** Files of unchanged hosts not taken over yet (adoption): written with the server's next restart. */
  deferred?: DeferredWrite[];
  /** When any, the plan has no stages and must not run. */
  refusals: Refusal[];
  /** Membership changes still to make after this plan, each planned afresh once this one is done (static membership). */
  continues?: string[];
}

/** Every step in execution order; a step's index here is its number in the journal. */
export function planSteps(plan: Plan): Step[] {
  return plan.stages.flatMap((s) => s.steps);
}

export function assertNever(x: never): never {
  throw new Error(`unhandled step ${JSON.stringify(x)}`);
}

/** One line per step for people: what, where, why. */
export function describeStep(s: Step): string {
  switch (s.kind) {
    case "install": return `${s.host}: ${s.setCurrent ? "install" : "unpack"} ZooKeeper ${s.version}${s.setCurrent ? " and make it current" : " beside the running release"} (${s.reason})`;
    case "switch_release": return `${s.host}: switch current from ${s.before.current ?? "nothing"} to ${s.version}`;
    case "clean_data": return `${s.host}: move the data directory's state aside${s.args.only_if_logs_without_snapshot ? " if it holds logs and no snapshot" : ""} (${s.reason})`;
    case "restore_data": return `${s.host}: move the data directory's state aside and put the backup's ${s.files.map((f) => f.name).join(", ")} in its place (${s.reason})`;
    case "write_file": return `${s.host}: ${s.before === "absent" ? "create" : "update"} ${s.path}`;
    case "start": return `${s.host}: start ZooKeeper (${s.reason})`;
    case "stop": return `${s.host}: stop ZooKeeper, now ${s.mode} (${s.reason})`;
    case "await_healthy":
      if (s.quorumWithout !== undefined) {
        return `gate: a quorum of ${s.hosts.join(", ")} serves without ${s.quorumWithout} within ${Math.round(s.timeoutMs / 1000)}s (${s.reason})`;
      }
      return `${s.role === "gate" ? "gate" : "check"}: ${s.hosts.join(", ")} healthy${s.caughtUp ? `, ${s.caughtUp} caught up with the leader` : ""}` +
        `${s.versions.length > 1 ? ` (running ${s.versions.join(" or ")})` : ""} within ${Math.round(s.timeoutMs / 1000)}s (${s.reason})`;
    case "reconfig":
      return `${s.host}: reconfig through ${s.server}:${s.add.map((a) => ` add ${a}`).join("")}${s.remove.map((r) => ` remove server.${r}`).join("")} (${s.reason})`;
    case "await_config":
      return `await config: ${s.hosts.join(", ")} report ${s.expect.length} server(s) (${s.expect.map((l) => l.split("=")[0]).join(", ")}) and a write commits, within ${Math.round(s.timeoutMs / 1000)}s (${s.reason})`;
    default: return assertNever(s);
  }
}
