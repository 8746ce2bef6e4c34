// The ensemble as observed: who runs, in which mode and version, what
// membership each host declares (from the running server itself, else from
// its files), and whether the ensemble exists at all (a server runs or holds
// data). The planner decides from this; nothing here acts. Pure.
import {
  type ParsedMembership, type ServerEntry, membershipFromConf, parseMembership,
} from "./membership.js";
import {
  type ObservedHost, currentRelease, fileRead, hasData, isRunning, modeOf, runningVersion,
} from "./observed.js";

export interface HostMembership {
  host: string;
  /** Where it was read: what a message names so an operator can look. */
  source: string;
  servers: ServerEntry[];
  /** Server lines that could not be read. */
  problems: string[];
}

export interface ModelHost {
  host: string;
  running: boolean;
  mode?: string;
  /** The version the server reports when it answers, else the release `current` points to. */
  version: string | null;
  hasData: boolean;
  membership?: HostMembership;
}

export interface EnsembleModel {
  hosts: ModelHost[];
  /** Some server runs or holds data: the ensemble has a history that a change must carry over. */
  exists: boolean;
}

function fromParsed(host: string, source: string, parsed: ParsedMembership): HostMembership | undefined {
  if (parsed.servers.length === 0 && parsed.problems.length === 0) return undefined;
  return { host, source, servers: parsed.servers, problems: parsed.problems };
}

/**
 * The membership a host declares. A running 3.5+ server's own `conf` wins:
 * it is what the server acts on, whatever its files say now. Then the
 * dynamic file its zoo.cfg names (3.5+ with reconfig), then zoo.cfg itself.
 */
export function hostMembership(o: ObservedHost, zooCfgPath: string): HostMembership | undefined {
  const running = o.server?.conf ? membershipFromConf(o.server.conf) : undefined;
  if (running) return { host: o.host, source: "the running server (conf)", servers: running, problems: [] };
  const dynamic = o.facts?.dynamic_config;
  if (dynamic && dynamic.file.state === "present") {
    const found = fromParsed(o.host, dynamic.path, parseMembership(dynamic.file.content));
    if (found) return found;
  }
  const cfg = fileRead(o, zooCfgPath);
  return cfg.state === "present" ? fromParsed(o.host, zooCfgPath, parseMembership(cfg.content)) : undefined;
}

export function modelEnsemble(observed: readonly ObservedHost[], zooCfgPath: string): EnsembleModel {
  const hosts = observed.map((o): ModelHost => {
    const membership = hostMembership(o, zooCfgPath);
    const mode = modeOf(o);
    return {
      host: o.host,
      running: isRunning(o),
      ...(mode ? { mode } : {}),
      version: runningVersion(o) ?? currentRelease(o),
      hasData: hasData(o),
      ...(membership ? { membership } : {}),
    };
  });
  return { hosts, exists: hosts.some((h) => h.running || h.hasData) };
}
