// An ensemble's membership as ZooKeeper defines it: the `server.N=` lines of
// the static config (3.4, or 3.5+ without reconfig), of the dynamic config
// file (3.5+ with reconfig), or as a running 3.5+ server reports them in
// `conf`. Parsed into one typed form so the three can be compared. Pure.

export type ServerRole = "participant" | "observer";

export interface ServerEntry {
  id: number;
  /** As written: a name or an address (IPv6 without brackets). */
  host: string;
  quorumPort: number;
  electionPort: number;
  role: ServerRole;
  /** 3.5+ client part (`;[address:]port`); absent in 3.4 lines. */
  client?: { address: string; port: number };
}

export interface ParsedMembership {
  servers: ServerEntry[];
  /** Lines that start like a server line but cannot be read: never silently ignored. */
  problems: string[];
}

const SERVER_LINE = /^server\.(\d+)\s*=\s*(.*)$/;

/** "host:port" with an optional bracketed IPv6 host. */
function splitHostPort(text: string): { host: string; rest: string[] } | undefined {
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0) return undefined;
    const rest = text.slice(end + 1);
    if (rest !== "" && !rest.startsWith(":")) return undefined;
    return { host: text.slice(1, end), rest: rest === "" ? [] : rest.slice(1).split(":") };
  }
  const [host, ...rest] = text.split(":");
  return host === undefined ? undefined : { host, rest };
}

const port = (text: string | undefined): number | undefined =>
  text !== undefined && /^\d{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : undefined;

export function parseServerLine(id: number, value: string): ServerEntry | string {
  const [serverPart = "", clientPart] = value.trim().split(";");
  const hp = splitHostPort(serverPart.trim());
  if (!hp || hp.host === "") return `server.${id}: no host in "${value}"`;
  const [qp, ep, role, ...extra] = hp.rest;
  const quorumPort = port(qp);
  const electionPort = port(ep);
  if (quorumPort === undefined || electionPort === undefined) return `server.${id}: quorum and election ports must be numbers in "${value}"`;
  if (extra.length > 0 || (role !== undefined && role !== "participant" && role !== "observer")) {
    return `server.${id}: unknown role or extra fields in "${value}"`;
  }
  const entry: ServerEntry = { id, host: hp.host.toLowerCase(), quorumPort, electionPort, role: (role as ServerRole | undefined) ?? "participant" };
  if (clientPart !== undefined && clientPart.trim() !== "") {
    const c = clientPart.trim();
    const colon = c.lastIndexOf(":");
    const cport = port(colon < 0 ? c : c.slice(colon + 1));
    if (cport === undefined) return `server.${id}: client port must be a number in "${value}"`;
    const address = colon < 0 ? "0.0.0.0" : c.slice(0, colon).replace(/^\[|\]$/g, "");
    entry.client = { address, port: cport };
  }
  return entry;
}

/** Server lines of a config text (zoo.cfg, a dynamic file, or `conf` output). */
export function parseMembership(text: string): ParsedMembership {
  const servers: ServerEntry[] = [];
  const problems: string[] = [];
  for (const raw of text.split("\n")) {
    const m = SERVER_LINE.exec(raw.trim());
    if (!m) continue;
    const parsed = parseServerLine(Number(m[1]), m[2]!);
    if (typeof parsed === "string") problems.push(parsed);
    else servers.push(parsed);
  }
  servers.sort((a, b) => a.id - b.id);
  return { servers, problems };
}

/** From `conf` key/values of a running 3.5+ server (3.4 does not list its servers there). */
export function membershipFromConf(conf: Readonly<Record<string, string>>): ServerEntry[] | undefined {
  const lines = Object.entries(conf).filter(([k]) => k.startsWith("server.")).map(([k, v]) => `${k}=${v}`);
  if (lines.length === 0) return undefined;
  const parsed = parseMembership(lines.join("\n"));
  return parsed.problems.length > 0 ? undefined : parsed.servers;
}

/** A server line in one canonical form: `id=host:quorum:election:role[;address:port]`. */
export function serverLine(s: ServerEntry): string {
  const client = s.client ? `;${s.client.address}:${s.client.port}` : "";
  return `server.${s.id}=${s.host}:${s.quorumPort}:${s.electionPort}:${s.role}${client}`;
}

/** A server without its client part, which servers print in more than one way: what a reported configuration is compared by. */
export function coreLine(s: Pick<ServerEntry, "id" | "host" | "quorumPort" | "electionPort" | "role">): string {
  return `server.${s.id}=${s.host.toLowerCase()}:${s.quorumPort}:${s.electionPort}:${s.role}`;
}

/**
 * Two entries describe the same server. The client part counts only when
 * both lines have one: 3.4 lines carry none, and a running server prints
 * 0.0.0.0 where the file left the address out (parseServerLine does too).
 */
export function sameServer(a: ServerEntry, b: ServerEntry): boolean {
  const core = a.id === b.id && a.host === b.host && a.quorumPort === b.quorumPort && a.electionPort === b.electionPort && a.role === b.role;
  if (!core) return false;
  if (!a.client || !b.client) return true;
  return a.client.address === b.client.address && a.client.port === b.client.port;
}

export interface MembershipChange {
  added: string[];
  removed: string[];
}

/** What differs, as server lines (a changed server is removed in one form and added in the other). */
export function membershipChange(from: readonly ServerEntry[], to: readonly ServerEntry[]): MembershipChange {
  return {
    added: to.filter((t) => !from.some((f) => sameServer(f, t))).map(serverLine),
    removed: from.filter((f) => !to.some((t) => sameServer(f, t))).map(serverLine),
  };
}

export function sameMembership(a: readonly ServerEntry[], b: readonly ServerEntry[]): boolean {
  const change = membershipChange(a, b);
  return change.added.length === 0 && change.removed.length === 0;
}
