// What the two ways of carrying out a membership change share (pure): the
// run's input, and the context a plan is built in: the hosts' files as the
// plan proceeds, the servers running as it proceeds, the health waits.
import type { MemberSpec } from "../../model/membership-plan.js";
import { type ObservedHost, fileContent } from "../../model/observed.js";
import type { EnsembleTarget } from "../../model/target.js";
import type { DesiredFile, DesiredHost } from "../plan.js";
import { type AwaitHealthyStep, type Step, awaitHealthy, writeFileStep } from "../steps.js";

export type MembershipMode = "dynamic" | "static";

export interface MembershipRunInput {
  /** Every host involved (present and leaving), so gates can judge the configurations on the way. */
  target: EnsembleTarget;
  mode: MembershipMode;
  current: MemberSpec[];
  wanted: MemberSpec[];
  /** Every inventory host, present or leaving, by name. */
  desired: Map<string, DesiredHost>;
  observed: Map<string, ObservedHost>;
  leader?: string;
  maxIdEverUsed?: number;
  reservedIds?: ReadonlySet<number>;
  /** A host's files for a configuration (server lines, dynamic file, /etc/hosts naming every host involved). */
  filesFor: (host: string, servers: readonly MemberSpec[]) => DesiredFile[];
  /** The files every host ends with (its own target files; /etc/hosts with the target's names only). */
  finalHostsFile?: (host: string) => DesiredFile | undefined;
  /**
   * /etc/hosts once these servers have left and stopped: a name that moves
   * (listed twice in the inventory) maps to its new server. Undefined where
   * nothing changes for the host.
   */
  hostsFileAfter?: (host: string, left: readonly string[]) => DesiredFile | undefined;
  /** A member's own files as the inventory renders the target (server lines by their final names). */
  finalFilesFor?: (host: string) => DesiredFile[];
  /**
   * Ids of target members whose server line names them by address (they
   * joined while a server moving under their name still served). Static
   * lists take the name at the restarts that follow; a reconfig'd line
   * keeps the address (see change.ts).
   */
  renames?: number[];
  /** The record of the membership zkfleet applied, kept on every host (another controller reads it too). */
  record: (host: string, servers: readonly MemberSpec[]) => DesiredFile;
  /** ZooKeeper's form of a server line for reconfig, and the canonical one to compare what servers report. */
  spec: (m: MemberSpec) => string;
  canonical: (m: MemberSpec) => string;
  versions: string[];
  timeouts: { gateMs: number; settleMs: number };
  /** What clients should connect to once the target is reached (names where /etc/hosts is managed). */
  clientConnect: string;
}

/** The voters of a configuration, as titles and messages print them. */
export const idsOf = (c: readonly MemberSpec[]) => `{${c.filter((m) => m.role === "participant").map((m) => m.id).join(",")}}`;

/** The hosts of a configuration whose server runs (as the plan proceeds). */
export const liveHosts = (config: readonly MemberSpec[], alive: ReadonlySet<number>) => config.filter((m) => alive.has(m.id)).map((m) => m.host);

/** A plan of a membership run as it is being built: the strategies (static.ts, dynamic.ts) add to it. */
export interface RunContext {
  input: MembershipRunInput;
  hostOf: ReadonlyMap<string, DesiredHost>;
  /** Ids of the members whose server runs at this point of the plan. */
  running: Set<number>;
  /** The write steps that bring a host's files to these, each with what the step before left as `previous`. */
  writes(host: string, files: readonly DesiredFile[], why: string): Step[];
  healthy(role: AwaitHealthyStep["role"], hosts: string[], reason: string, extra?: Partial<AwaitHealthyStep>): AwaitHealthyStep;
}

export function runContext(input: MembershipRunInput, running: Set<number>): RunContext {
  const hostOf = new Map([...input.desired.values()].map((d) => [d.host, d]));
  // What each host holds as the plan proceeds: a write's `previous` is what the step before left.
  const content = new Map<string, string | null>();
  const contentOf = (host: string, path: string) => {
    const key = `${host}\0${path}`;
    if (!content.has(key)) content.set(key, fileContent(input.observed.get(host)!, path));
    return content.get(key)!;
  };
  return {
    input, hostOf, running,
    writes: (host, files, why) => files.flatMap((f): Step[] => {
      const before = contentOf(host, f.path);
      if (before === f.content) return [];
      content.set(`${host}\0${f.path}`, f.content);
      return [writeFileStep(host, f, hostOf.get(host)!.stateDir, before, why)];
    }),
    healthy: (role, hosts, reason, extra = {}) => awaitHealthy(role, hosts, input.versions, input.timeouts, reason, extra),
  };
}
