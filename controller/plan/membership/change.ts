// apply's membership side (pure): what the servers run now (their own
// report, else their files), what the inventory asks for (hosts present;
// absent ones leave), and, when the two differ, the plan of
// model/membership-plan.ts in the way this ensemble can carry it out
// (run.ts). Each configuration on the way is rendered by the
// caller's renderer, which does no I/O.
import type { HostSpec } from "../../inventory/schema.js";
import { hostMembership } from "../../model/ensemble.js";
import { lineName, movesOf, presentHosts } from "../../model/hosts.js";
import type { MemberSpec } from "../../model/membership-plan.js";
import { coreLine, parseMembership, parseServerLine, type ServerEntry } from "../../model/membership.js";
import { type ObservedHost, fileContent, isRunning, hasData, modeOf, runningVersion } from "../../model/observed.js";
import type { EnsembleTarget } from "../../model/target.js";
import { planMembershipRun } from "./run.js";
import type { DesiredFile, DesiredHost } from "../plan.js";
import type { Plan, Refusal } from "../steps.js";
import { ETC_HOSTS, etcHostsFile } from "../../render/hosts-block.js";

/** Which servers a rendered configuration names, and which names /etc/hosts keeps (render.ts Membership). */
export interface MembershipView {
  servers: readonly HostSpec[];
  names: readonly HostSpec[];
}

/**
 * How the caller renders a configuration of the ensemble: pure functions
 * (templates loaded before planning), so that planning stays pure.
 */
export interface MembershipRenderer {
  /** A host's files (zoo.cfg, dynamic file, ...) for a configuration; the target's when none is given. */
  hostFiles(host: HostSpec, membership?: MembershipView): DesiredFile[];
  /** The managed /etc/hosts block for a configuration, markers included. */
  hostsBlock(membership: MembershipView): string;
  /** One server as reconfig takes it (render.ts serverSpecLine). */
  serverSpecLine(host: HostSpec): string;
}

/** The inventory as the membership planner needs it, as data. */
export interface MembershipEnsemble {
  /** Every host of the inventory, present and leaving: gates judge the configurations on the way. */
  target: EnsembleTarget;
  hosts: readonly HostSpec[];
  /** Membership changes by reconfig: zookeeper.reconfig on, and a version that has it (render.ts dynamicConfigPath). */
  dynamic: boolean;
  hostsFileManaged: boolean;
  clientPort: number;
  /** zkfleet's record of the membership it applied, on every host (render.ts membershipRecordPath). */
  recordPath: string;
}

/** Where the ensemble ran after its newest finished run that acted (execute/runs.ts lastAppliedMembers). */
export interface LastApplied {
  run: string;
  members: { host: string; address: string; myid: number }[];
}

interface Record_ { ensemble: string; servers: { id: number; host: string; role: string }[]; max_id: number }

function readRecord(o: ObservedHost, path: string): Record_ | undefined {
  const text = fileContent(o, path);
  if (text === null) return undefined;
  try {
    const r = JSON.parse(text) as Record_;
    return typeof r.max_id === "number" ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The leader first, then servers that serve, run, hold data. */
const byWeight = (observed: readonly ObservedHost[]) => {
  const score = (o: ObservedHost) => (modeOf(o) === "leader" ? 3 : modeOf(o) !== undefined ? 2 : isRunning(o) ? 1 : hasData(o) ? 0 : -1);
  return [...observed].sort((a, b) => score(b) - score(a));
};

/** The configuration the ensemble runs: the leader's own word, else any running server's, else the files of one holding data. */
function currentConfig(observed: readonly ObservedHost[], zooCfg: string): ServerEntry[] | undefined {
  for (const o of byWeight(observed)) {
    const m = hostMembership(o, zooCfg);
    if (m && m.problems.length === 0 && m.servers.length > 0) return m.servers;
  }
  return undefined;
}

/**
 * The server lines static lists hold in zoo.cfg (the leader's first): what
 * the next restarts load, where a running 3.5+ server's `conf` tells what
 * the last one loaded.
 */
function filedConfig(observed: readonly ObservedHost[], zooCfg: string): ServerEntry[] | undefined {
  for (const o of byWeight(observed)) {
    const text = fileContent(o, zooCfg);
    const m = text === null ? undefined : parseMembership(text);
    if (m && m.problems.length === 0 && m.servers.length > 0) return m.servers;
  }
  return undefined;
}

export interface MembershipDecision {
  /** Undefined: membership is as the inventory says; plan as usual. */
  plan?: Plan;
}

export function planMembershipChange(args: {
  ensemble: MembershipEnsemble; observed: readonly ObservedHost[]; desired: readonly DesiredHost[]; zooCfg: string;
  timeouts: { gateMs: number; settleMs: number };
  /** Read by the caller when no server runs or holds data (ensembleExists is false). */
  lastApplied?: LastApplied;
  /** The operator said an empty ensemble under this name is meant (apply --new-ensemble). */
  newEnsemble?: boolean;
  render: MembershipRenderer;
}): MembershipDecision {
  const { ensemble: inv, render } = args;
  const byName = new Map(args.observed.map((o) => [o.host, o]));
  const { target } = inv;
  const refuse = (target: EnsembleTarget, refusals: Refusal[]): MembershipDecision => ({ plan: { target, stages: [], unchanged: [], refusals } });
  const exists = ensembleExists(args.observed);

  if (!exists) {
    // An inventory naming none of the servers the ensemble last ran on would start a second, empty one.
    const last = args.lastApplied;
    const addresses = new Set(inv.hosts.map((h) => h.address));
    if (last && !args.newEnsemble && !last.members.some((m) => addresses.has(m.address))) {
      const where = last.members.map((m) => `${m.host} at ${m.address}`).join(", ");
      return refuse(target, [{
        code: "ensemble_elsewhere",
        message: `ensemble ${target.name} last ran on ${where} (run ${last.run}); none of those is in ${target.inventory}, and its hosts hold no data: ` +
          "applying would start a second, empty ensemble. To move the servers there, list each old one too, leaving under its name " +
          `(${last.members.map((m) => `- {name: ${m.host}, address: ${m.address}, myid: ${m.myid}, state: absent}`).join(" ")}); ` +
          "to start a new, empty ensemble under this name, apply --new-ensemble",
        data: { run: last.run, members: last.members },
      }]);
    }
    return {};
  }

  const entries = currentConfig(args.observed, args.zooCfg);
  if (!entries) return {};
  const byId = new Map(inv.hosts.map((h) => [h.myid, h]));
  const unknown = entries.filter((e) => !byId.has(e.id));
  if (unknown.length > 0) {
    return refuse(target, unknown.map((e): Refusal => {
      // The server line names a host the inventory gives another myid: it would leave and join at once,
      // and both servers would need its ports and data dir.
      const renamed = inv.hosts.find((h) => h.name.toLowerCase() === e.host.toLowerCase() || h.address === e.host);
      return {
        code: "unsafe_membership_change", host: renamed?.name ?? e.host,
        message: renamed
          ? `${renamed.name} runs server.${e.id} and the inventory gives it myid ${renamed.myid}: a host cannot leave and join in one change; ` +
            "move the server to another host (a new myid there), or keep this one's myid; if the name moves to a new address, " +
            `list the old server too: - {name: ${renamed.name}, address: ADDRESS_IT_HAS_NOW, myid: ${e.id}, state: absent}`
          : `server.${e.id} (${e.host}) is a member of the running ensemble but no host in the inventory has myid ${e.id}: ` +
            "list it (state: absent to take it out), or zkfleet cannot reach it to change anything safely",
        data: { id: e.id, host: e.host },
      };
    }));
  }
  const current: MemberSpec[] = entries.map((e) => ({ id: e.id, host: byId.get(e.id)!.name, role: e.role }));
  const wanted: MemberSpec[] = presentHosts(inv).map((h) => ({ id: h.myid, host: h.name, role: h.role }));
  const key = (c: readonly MemberSpec[]) => c.map((m) => `${m.id}:${m.host}:${m.role}`).sort().join(",");
  const mode = inv.dynamic ? "dynamic" : "static";
  const lines = serverLineNames(inv, entries, mode);
  const spec = (name: string) => inv.hosts.find((h) => h.name === name)!;
  const specOf = (m: MemberSpec): HostSpec => ({ ...lines(spec(m.host)), role: m.role });
  const finalSpecOf = (m: MemberSpec): HostSpec => ({ ...spec(m.host), role: m.role });
  // Static lists written by address while the name was another's are rewritten with the name (the restarts read
  // it afresh). A line set by reconfig keeps the address: renaming it by reconfig was seen in the lab (3.9.3) to
  // leave a leader renamed that way unable to commit, its JVM still resolving the name to the old server from its
  // cache; the address names the same server, and apply counts the two forms as one. Only a line naming the same
  // server otherwise (its address, its name) is renamed; any other difference is a change of address in place.
  // Judged by the files: once they name the members, what is left is restarts, which apply rolls as pending
  // (a 3.5+ server's own report keeps the address until its restart, and judged by it the rename never ended).
  const filedLines = serverLineNames(inv, mode === "static" ? filedConfig(args.observed, args.zooCfg) ?? entries : entries, mode);
  const renames = mode === "dynamic" ? [] : wanted.filter((m) => {
    const now = lineName(filedLines(spec(m.host))).toLowerCase();
    const h = spec(m.host);
    return now !== lineName(h).toLowerCase() && [h.address.toLowerCase(), h.name.toLowerCase()].includes(now);
  }).map((m) => m.id);
  if (key(current) === key(wanted) && renames.length === 0) return {};
  // One thing at a time: joiners start on the inventory's version, and the gates accept only it.
  const otherVersion = args.observed.filter((o) => runningVersion(o) !== undefined && runningVersion(o) !== target.version);
  if (otherVersion.length > 0) {
    return refuse(target, otherVersion.map((o): Refusal => ({
      code: "unsafe_membership_change", host: o.host,
      message: `${o.host} runs ZooKeeper ${runningVersion(o)}, the inventory says ${target.version}: a membership change and a version change ` +
        "are made one after the other; apply the version with the current servers first, then change the membership",
      data: { host: o.host, version: runningVersion(o), wanted: target.version },
    })));
  }

  // Reconfig turned on in the same inventory: the running servers cannot take a reconfig before the roll that turns it on.
  const withoutReconfig = mode === "dynamic" ? args.observed.filter((o) => isRunning(o) && current.some((m) => m.host === o.host) && !o.facts?.dynamic_config) : [];
  if (withoutReconfig.length > 0) {
    return refuse(target, withoutReconfig.map((o): Refusal => ({
      code: "unsafe_membership_change", host: o.host,
      message: `${o.host} runs without reconfig (its zoo.cfg names no dynamic file), and the inventory turns reconfig on and changes the membership: ` +
        "those are made one after the other; apply reconfig: true with the current members first (a roll), then change the membership",
      data: { host: o.host },
    })));
  }

  const records = args.observed.flatMap((o) => readRecord(o, inv.recordPath) ?? []);
  const maxIdEverUsed = Math.max(0, ...records.map((r) => r.max_id));
  // The record names the target it was written for: its new ids are that change's own, not old ones.
  const reservedIds = new Set(records.filter((r) => key(r.servers.map((m) => ({ ...m, role: m.role as MemberSpec["role"] }))) === key(wanted)).flatMap((r) => r.servers.map((m) => m.id)));
  const leader = args.observed.find((o) => modeOf(o) === "leader")?.host;
  const allNames = inv.hosts.filter((h) => h.state === "present" || current.some((m) => m.host === h.name));
  // /etc/hosts gives a moving name to the old server while it is involved, whatever form the lines take.
  const moves = movesOf(inv);
  const hostsNames = allNames.filter((h) => moves.get(h.name.toLowerCase())?.to !== h || !allNames.includes(moves.get(h.name.toLowerCase())!.from));
  const hostsFile = (host: string, names: readonly HostSpec[], servers: readonly HostSpec[]): DesiredFile[] => inv.hostsFileManaged
    ? [etcHostsFile(fileContent(byName.get(host)!, ETC_HOSTS) ?? "", render.hostsBlock({ servers, names }), target.name)]
    : [];
  const maxId = Math.max(maxIdEverUsed, ...current.map((m) => m.id), ...wanted.map((m) => m.id));

  const plan = planMembershipRun({
    target, mode, current, wanted, leader, maxIdEverUsed, reservedIds,
    desired: new Map(args.desired.map((d) => [d.host, d])),
    observed: byName,
    filesFor: (host, servers) => {
      const specs = servers.map(specOf);
      return [
        ...render.hostFiles(spec(host), { servers: specs, names: hostsNames }),
        ...hostsFile(host, hostsNames, specs),
      ];
    },
    finalFilesFor: (host) => render.hostFiles(spec(host), { servers: wanted.map(finalSpecOf), names: presentHosts(inv) }),
    finalHostsFile: (host) => (spec(host).state === "present" ? hostsFile(host, presentHosts(inv), presentHosts(inv))[0] : undefined),
    hostsFileAfter: (host, left) => {
      // A leaving host keeps its names: it is the old server, and stops.
      if (spec(host).state !== "present") return undefined;
      const gone = new Set(left);
      const taking = [...moves.values()].filter((m) => gone.has(m.from.name) && hostsNames.includes(m.from)).map((m) => m.to);
      if (taking.length === 0) return undefined;
      const names = [...hostsNames.filter((h) => !gone.has(h.name)), ...taking];
      return hostsFile(host, names, names)[0];
    },
    record: (_host, servers) => ({
      path: inv.recordPath, mode: 0o644,
      content: JSON.stringify({ ensemble: target.name, servers: servers.map((m) => ({ id: m.id, host: m.host, role: m.role })), max_id: maxId }) + "\n",
    }),
    spec: (m) => render.serverSpecLine(specOf(m)),
    canonical: (m) => canonicalLine(render, specOf(m)),
    // A server whose line names it otherwise than the inventory will (by address, while its name was another's).
    renames,
    versions: [target.version],
    timeouts: args.timeouts,
    clientConnect: presentHosts(inv).map((h) => `${inv.hostsFileManaged ? h.name : h.address}:${inv.clientPort}`).join(","),
  });
  return { plan };
}

/** The ensemble exists once one of its servers runs or holds data: then the journal's word on where it ran is not needed. */
export function ensembleExists(observed: readonly ObservedHost[]): boolean {
  return observed.some((o) => isRunning(o) || hasData(o));
}

function canonicalLine(render: MembershipRenderer, h: HostSpec): string {
  const parsed = parseServerLine(h.myid, render.serverSpecLine(h).replace(/^server\.\d+=/, ""));
  return typeof parsed === "string" ? parsed : coreLine(parsed);
}

/**
 * The name each server's line uses during a membership change. A member
 * keeps the one the ensemble knows it by (what it reports, else its files),
 * so that reconfig's expectations match what servers say. A joiner whose
 * name a member still uses (a server moving under its name: the old one
 * serves until it leaves) is named by its address: /etc/hosts maps the
 * name to it once the old server is gone, and static lists then take the
 * name at their next restart.
 */
function serverLineNames(inv: MembershipEnsemble, entries: readonly ServerEntry[], mode: "dynamic" | "static"): (h: HostSpec) => HostSpec {
  const reported = new Map(entries.map((e) => [e.id, e.host]));
  const taken = new Set(entries.map((e) => e.host.toLowerCase()));
  // With reconfig a joiner's line is read by servers that ran all along, and a JVM keeps a name's address for
  // 30 s: the name of a move may still resolve to the old server there, so a move's joiner is named by address.
  const moves = movesOf(inv);
  return (h) => {
    if (!inv.hostsFileManaged) return h;
    const known = reported.get(h.myid);
    if (known !== undefined) return known === lineName(h).toLowerCase() ? h : { ...h, server_name: known };
    const name = lineName(h).toLowerCase();
    return taken.has(name) || (mode === "dynamic" && moves.has(name)) ? { ...h, server_name: h.address } : h;
  };
}
