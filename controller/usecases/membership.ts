// apply's membership side: what the servers run now (their own report, else
// their files), what the inventory asks for (hosts present; absent ones
// leave), and, when the two differ, the plan of model/membership-plan.ts in
// the way this ensemble can carry it out. Renders each configuration on the
// way; planning itself stays pure (plan/membership-run.ts).
import { posix } from "node:path";
import { versionFacts } from "../../common/versions.js";
import { lastAppliedMembers } from "../execute/runs.js";
import { type HostSpec, type Inventory, movesOf } from "../inventory/schema.js";
import { hostMembership } from "../model/ensemble.js";
import type { MemberSpec } from "../model/membership-plan.js";
import { coreLine, parseMembership, parseServerLine, type ServerEntry } from "../model/membership.js";
import { type ObservedHost, fileContent, isRunning, hasData, modeOf, runningVersion } from "../model/observed.js";
import { type EnsembleTarget, probeFor } from "../model/target.js";
import { planMembershipRun } from "../plan/membership-run.js";
import { type DesiredFile, type DesiredHost, hostsConflictRefusals } from "../plan/plan.js";
import { type Plan, type Refusal, planSteps } from "../plan/steps.js";
import { lineName, presentHosts, renderHostFiles, renderHostsBlock, serverSpecLine } from "../render/render.js";
import { ETC_HOSTS, etcHostsFile, hostsBlockOf } from "../render/hosts-block.js";


/** zkfleet's record of the membership it applied, on every host: another controller sees it too. */
export const recordPath = (inv: Inventory) => posix.join(inv.agent.dir, "state", `membership-${inv.ensemble}.json`);

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
  inv: Inventory; file: string; observed: ObservedHost[]; desired: DesiredHost[]; zooCfg: string; journalDir: string;
  timeouts: { gateMs: number; settleMs: number };
  /** The operator said an empty ensemble under this name is meant (apply --new-ensemble). */
  newEnsemble?: boolean;
}): MembershipDecision {
  const { inv } = args;
  const byName = new Map(args.observed.map((o) => [o.host, o]));
  const refuse = (target: EnsembleTarget, refusals: Refusal[]): MembershipDecision => ({ plan: { target, stages: [], unchanged: [], refusals } });
  const members = inv.hosts.map((h) => memberOf(inv, h));
  const target: EnsembleTarget = { name: inv.ensemble, inventory: args.file, version: inv.zookeeper.version, members };
  const exists = args.observed.some((o) => isRunning(o) || hasData(o));

  if (!exists) {
    // An inventory naming none of the servers the ensemble last ran on would start a second, empty one.
    const last = lastAppliedMembers(args.journalDir, inv.ensemble);
    const addresses = new Set(inv.hosts.map((h) => h.address));
    if (last && !args.newEnsemble && !last.members.some((m) => addresses.has(m.address))) {
      const where = last.members.map((m) => `${m.host} at ${m.address}`).join(", ");
      return refuse(target, [{
        code: "ensemble_elsewhere",
        message: `ensemble ${inv.ensemble} last ran on ${where} (run ${last.run}); none of those is in ${args.file}, and its hosts hold no data: ` +
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
  const mode = inv.zookeeper.reconfig && versionFacts(inv.zookeeper.version).supportsReconfig ? "dynamic" : "static";
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
  const otherVersion = args.observed.filter((o) => runningVersion(o) !== undefined && runningVersion(o) !== inv.zookeeper.version);
  if (otherVersion.length > 0) {
    return refuse(target, otherVersion.map((o): Refusal => ({
      code: "unsafe_membership_change", host: o.host,
      message: `${o.host} runs ZooKeeper ${runningVersion(o)}, the inventory says ${inv.zookeeper.version}: a membership change and a version change ` +
        "are made one after the other; apply the version with the current servers first, then change the membership",
      data: { host: o.host, version: runningVersion(o), wanted: inv.zookeeper.version },
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

  const records = args.observed.flatMap((o) => readRecord(o, recordPath(inv)) ?? []);
  const maxIdEverUsed = Math.max(0, ...records.map((r) => r.max_id));
  // The record names the target it was written for: its new ids are that change's own, not old ones.
  const reservedIds = new Set(records.filter((r) => key(r.servers.map((m) => ({ ...m, role: m.role as MemberSpec["role"] }))) === key(wanted)).flatMap((r) => r.servers.map((m) => m.id)));
  const leader = args.observed.find((o) => modeOf(o) === "leader")?.host;
  const allNames = inv.hosts.filter((h) => h.state === "present" || current.some((m) => m.host === h.name));
  // /etc/hosts gives a moving name to the old server while it is involved, whatever form the lines take.
  const moves = movesOf(inv);
  const hostsNames = allNames.filter((h) => moves.get(h.name.toLowerCase())?.to !== h || !allNames.includes(moves.get(h.name.toLowerCase())!.from));
  const hostsFile = (host: string, names: readonly HostSpec[], servers: readonly HostSpec[]): DesiredFile[] => inv.hosts_file === "managed"
    ? [etcHostsFile(fileContent(byName.get(host)!, ETC_HOSTS) ?? "", renderHostsBlock(inv, { membership: { servers, names } }), inv.ensemble)]
    : [];
  const maxId = Math.max(maxIdEverUsed, ...current.map((m) => m.id), ...wanted.map((m) => m.id));

  const plan = planMembershipRun({
    target, mode, current, wanted, leader, maxIdEverUsed, reservedIds,
    desired: new Map(args.desired.map((d) => [d.host, d])),
    observed: byName,
    filesFor: (host, servers) => {
      const specs = servers.map(specOf);
      return [
        ...renderHostFiles(inv, spec(host), { membership: { servers: specs, names: hostsNames } }),
        ...hostsFile(host, hostsNames, specs),
      ];
    },
    finalFilesFor: (host) => renderHostFiles(inv, spec(host), { membership: { servers: wanted.map(finalSpecOf), names: presentHosts(inv) } }),
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
      path: recordPath(inv), mode: 0o644,
      content: JSON.stringify({ ensemble: inv.ensemble, servers: servers.map((m) => ({ id: m.id, host: m.host, role: m.role })), max_id: maxId }) + "\n",
    }),
    spec: (m) => serverSpecLine(inv, specOf(m)),
    canonical: (m) => canonicalLine(inv, specOf(m)),
    // A server whose line names it otherwise than the inventory will (by address, while its name was another's).
    renames,
    versions: [inv.zookeeper.version],
    timeouts: args.timeouts,
    clientConnect: presentHosts(inv).map((h) => `${inv.hosts_file === "managed" ? h.name : h.address}:${inv.zookeeper.client_port}`).join(","),
  });
  const conflicts = hostsConflicts(inv, plan, byName);
  if (conflicts.length > 0) return refuse(target, conflicts);
  return { plan };
}

/**
 * A line outside the block that maps one of its names elsewhere wins over it
 * (the first match does): a joiner whose own /etc/hosts names itself after
 * the server it replaces would dial itself for that server. Checked on every
 * block the plan writes, against the file as observed.
 */
function hostsConflicts(inv: Inventory, plan: Plan, observed: ReadonlyMap<string, ObservedHost>): Refusal[] {
  const found = new Map<string, Refusal>();
  for (const step of planSteps(plan)) {
    if (step.kind !== "write_file" || step.path !== ETC_HOSTS) continue;
    const block = hostsBlockOf(step.content, inv.ensemble);
    if (block === undefined) continue;
    const existing = fileContent(observed.get(step.host)!, ETC_HOSTS) ?? "";
    for (const r of hostsConflictRefusals(step.host, ETC_HOSTS, existing, block, inv.ensemble, " during this change")) {
      // One refusal per line, name and address the run needs, however many of its blocks repeat it.
      found.set(r.message, r);
    }
  }
  return [...found.values()];
}

function canonicalLine(inv: Inventory, h: HostSpec): string {
  const parsed = parseServerLine(h.myid, serverSpecLine(inv, h).replace(/^server\.\d+=/, ""));
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
function serverLineNames(inv: Inventory, entries: readonly ServerEntry[], mode: "dynamic" | "static"): (h: HostSpec) => HostSpec {
  const reported = new Map(entries.map((e) => [e.id, e.host]));
  const taken = new Set(entries.map((e) => e.host.toLowerCase()));
  // With reconfig a joiner's line is read by servers that ran all along, and a JVM keeps a name's address for
  // 30 s: the name of a move may still resolve to the old server there, so a move's joiner is named by address.
  const moves = movesOf(inv);
  return (h) => {
    if (inv.hosts_file !== "managed") return h;
    const known = reported.get(h.myid);
    if (known !== undefined) return known === lineName(h).toLowerCase() ? h : { ...h, server_name: known };
    const name = lineName(h).toLowerCase();
    return taken.has(name) || (mode === "dynamic" && moves.has(name)) ? { ...h, server_name: h.address } : h;
  };
}

function memberOf(inv: Inventory, h: HostSpec): EnsembleTarget["members"][number] {
  return { host: h.name, address: h.address, myid: h.myid, role: h.role, probe: probeFor(inv, h) };
}
