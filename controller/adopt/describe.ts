// From what the hosts of a hand-installed ensemble show (running servers,
// their zoo.cfg, myid, /etc/hosts, what each server answers) to an
// inventory that describes the ensemble exactly as it is, so that the next
// apply changes nothing and restarts nothing. What an inventory cannot say
// is listed as a note, never dropped; what makes the ensemble impossible to
// describe is a problem, and no inventory is written. Pure.
import { posix } from "node:path";
import { DEBIAN_ZOOKEEPER_HOME, type FileRead, type OpData } from "../../common/protocol.js";
import { KNOWN_ZOOKEEPER_VERSIONS, managedSettingOwner } from "../../common/versions.js";
import { addressKind, isSameOrInside } from "../inventory/validators.js";
import { parseMembership, type ServerEntry } from "../model/membership.js";
import { parseSettings } from "../model/zoo-cfg.js";
import { SYSTEMD_UNIT } from "../render/render.js";

import { ETC_HOSTS } from "../render/hosts-block.js";

export interface AdoptHost {
  /** How the controller reached it over SSH. */
  address: string;
  discover: OpData<"discover">;
  /** Read once the config is known: data dir, myid, /etc/hosts, the dynamic file. */
  facts?: OpData<"facts">;
  server?: OpData<"status">;
}

export interface AdoptOptions {
  ensemble: string;
  installDir: string;
  /** Where the agent's files go (zkfleet's own). */
  agentDir?: string;
  dists?: string;
  ssh: Record<string, unknown>;
}

export interface Adoption {
  /** The inventory as plain data, ready for YAML; undefined when there are problems. */
  inventory?: Record<string, unknown>;
  /** What the inventory cannot express, or what changes at a server's next restart. */
  notes: string[];
  /** Why no inventory can be written; each names the host and what to do. */
  problems: string[];
}


const fileText = (f: FileRead | undefined): string | undefined => (f?.state === "present" ? f.content : undefined);

/** The running server's zoo.cfg, or the reason there is none to adopt. */
export function configOf(h: AdoptHost): { path: string; text: string } | string {
  const servers = h.discover.servers;
  if (servers.length > 1) return `${h.address}: ${servers.length} ZooKeeper servers run here (${servers.map((s) => `pid ${s.pid}`).join(", ")}); adopt one host per server`;
  const [server] = servers;
  const path = server?.config ?? Object.keys(h.discover.configs)[0];
  if (path === undefined) return `${h.address}: no ZooKeeper server runs here; start it (adopt describes a running ensemble), or pass --config with its zoo.cfg`;
  const f = h.discover.configs[path];
  if (f?.state !== "present") return `${h.address}: cannot read ${path} (${f?.state === "unreadable" ? f.error : "absent"})`;
  return { path, text: f.content };
}

/** -Xmx2g, -Xmx512m, -Xmx1048576k → megabytes; the last one wins, as in the JVM. */
export function heapMb(argv: readonly string[]): number | undefined {
  let mb: number | undefined;
  for (const arg of argv) {
    const m = /^-Xmx(\d+)([kKmMgG]?)$/.exec(arg);
    if (!m) continue;
    const n = Number(m[1]);
    const unit = (m[2] ?? "").toLowerCase();
    mb = unit === "g" ? n * 1024 : unit === "m" ? n : unit === "k" ? Math.floor(n / 1024) : Math.floor(n / (1024 * 1024));
  }
  return mb;
}

function systemProperty(argv: readonly string[], name: string): string | undefined {
  const prefix = `-D${name}=`;
  return argv.filter((a) => a.startsWith(prefix)).at(-1)?.slice(prefix.length);
}

/** The first address /etc/hosts gives a name (what the resolver answers from the file). */
export function resolveInHostsFile(text: string, name: string): string | undefined {
  for (const line of text.split("\n")) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (address && names.some((n) => n.toLowerCase() === name.toLowerCase())) return address;
  }
  return undefined;
}

/** Settings ZooKeeper accepts but whose values an inventory cannot carry. */
function passThrough(settings: Map<string, string>, notes: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of [...settings].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (managedSettingOwner(key) !== undefined) continue;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(key) || value.includes("\\")) {
      notes.push(`zoo.cfg setting ${key}=${value} cannot be written by zkfleet (odd key or a backslash); it is dropped at the next restart unless you find another way to set it`);
      continue;
    }
    out[key] = value;
  }
  return out;
}

const sameValues = <T>(values: readonly T[]) => values.every((v) => JSON.stringify(v) === JSON.stringify(values[0]));

type Discovered = OpData<"discover">["servers"][number];
const debianServer = (h: AdoptHost): Discovered | undefined => (h.discover.servers[0]?.layout === "debian" ? h.discover.servers[0] : undefined);

/**
 * How the servers are started, from the systemd service whose cgroup holds
 * each (Debian's init script under systemd runs as zookeeper.service too).
 * Problems for what an inventory cannot say: mixed managers, another unit
 * name, or Debian's layout outside systemd (service: script passes --config
 * to zkServer.sh, which Debian's does not take).
 */
function serviceOf(hosts: readonly AdoptHost[], problems: string[]): { kind: "script" } | { kind: "systemd"; user: string } {
  const servers = hosts.map((h) => h.discover.servers[0]!);
  const units = servers.map((s) => s.unit ?? null);
  const users = servers.map((s) => s.user ?? null);
  const where = (values: readonly (string | null)[]) => hosts.map((h, i) => `${h.address}: ${values[i] ?? "none"}`).join(", ");
  if (!sameValues(units)) {
    problems.push(`the servers run under different systemd units (${where(units)}); an inventory starts them all one way, so make them agree first`);
    return { kind: "script" };
  }
  const unit = units[0];
  if (unit === null || unit === undefined) {
    hosts.forEach((h) => debianServer(h) && problems.push(
      `${h.address}: Debian's zookeeperd runs here outside systemd; zkfleet runs it only as ${SYSTEMD_UNIT.name} (its service: script passes --config to zkServer.sh, which Debian's does not take): start it through systemd (systemctl start zookeeper) and adopt again`));
    return { kind: "script" };
  }
  if (unit !== SYSTEMD_UNIT.name) {
    problems.push(`the servers run under systemd's ${unit}; zkfleet manages a unit named ${SYSTEMD_UNIT.name}, and a second unit would start a second server: rename the unit (and stop the old one) first`);
    return { kind: "script" };
  }
  if (!sameValues(users) || users[0] === null || users[0] === undefined) {
    problems.push(`the servers run as different or unknown users (${where(users)}); zookeeper.user is one for all`);
    return { kind: "script" };
  }
  return { kind: "systemd", user: users[0] };
}

/** What adopting Debian's zookeeperd layout leaves as it is, or changes at the next restart. */
function debianNotes(configReal: string, configDir: string): string[] {
  return [
    `Debian's zookeeperd: the server keeps running from ${DEBIAN_ZOOKEEPER_HOME} (Debian's zkServer.sh, which reads /etc/zookeeper/conf/environment) and /usr/share/java's jars; zkfleet installs other releases beside it only for an upgrade`,
    `${configDir} is Debian's alternatives link (now to ${posix.dirname(configReal)}); zkfleet writes through it and never changes the link`,
    "JAVA_OPTS from /etc/default/zookeeper or the environment file are read by /etc/init.d/zookeeper only: they are dropped at the next restart (zookeeper.heap_mb sets the heap)",
    "Debian links the data dir's myid to /etc/zookeeper/conf/myid: zkfleet reads through the link and refuses to replace it (a myid change would stop there)",
    "apt upgrades of zookeeper and zookeeperd still change what runs: hold them (apt-mark hold zookeeper zookeeperd libzookeeper-java) while zkfleet manages the ensemble",
  ];
}

export function describeAdoption(hosts: readonly AdoptHost[], opts: AdoptOptions): Adoption {
  const notes: string[] = [];
  const problems: string[] = [];
  const configs = hosts.map(configOf);
  configs.forEach((c) => typeof c === "string" && problems.push(c));
  if (problems.length > 0) return { notes, problems };
  const cfg = configs as { path: string; text: string }[];

  const version = hosts.map((h) => h.server?.version?.split(/[-,\s]/)[0]);
  version.forEach((v, i) => v === undefined && problems.push(`${hosts[i]!.address}: the server does not answer srvr on its client port, so its version is unknown; it must serve to be adopted`));
  const homes = hosts.map((h) => h.discover.servers[0]?.home ?? null);
  homes.forEach((home, i) => home === null && problems.push(`${hosts[i]!.address}: cannot tell which directory the server runs from (no bin/zkServer.sh beside its config or class path, and not Debian's zookeeperd layout); install it from a release tarball or Debian's zookeeperd package`));
  if (problems.length > 0) return { notes, problems };
  const service = serviceOf(hosts, problems);
  if (!sameValues(version)) problems.push(`the servers run different versions (${hosts.map((h, i) => `${h.address}: ${version[i]}`).join(", ")}); finish that upgrade by hand first`);
  const v = version[0]!;
  if (!(KNOWN_ZOOKEEPER_VERSIONS as readonly string[]).includes(v)) {
    problems.push(`ZooKeeper ${v} runs here; zkfleet knows ${KNOWN_ZOOKEEPER_VERSIONS.join(", ")}`);
  }
  if (!sameValues(homes)) problems.push(`the servers run from different directories (${hosts.map((h, i) => `${h.address}: ${homes[i]}`).join(", ")}); an inventory has one`);
  // Debian's /etc/zookeeper/conf is an alternatives link: keep the name the server was given, not where it points today.
  const configDirs = cfg.map((c, i) => posix.dirname(debianServer(hosts[i]!)?.config_given ?? c.path));
  if (!sameValues(configDirs)) problems.push(`the servers read their config from different directories (${configDirs.join(", ")}); an inventory has one`);

  // Settings, membership and the host each line names.
  const settings = cfg.map((c) => parseSettings(c.text));
  const dynamicTexts = hosts.map((h) => fileText(h.facts?.dynamic_config?.file));
  const members = cfg.map((c, i) => parseMembership(dynamicTexts[i] ?? c.text));
  members.forEach((m, i) => m.problems.forEach((p) => problems.push(`${hosts[i]!.address}: ${p}`)));
  const perHostKeys = new Set(["clientPortAddress", "admin.serverAddress", "peerType"]);
  const shared = (i: number) => new Map([...settings[i]!].filter(([k]) => !perHostKeys.has(k) && k !== "dynamicConfigFile"));
  hosts.forEach((h, i) => {
    const a = shared(0);
    const b = shared(i);
    const differ = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
    if (differ.length > 0) problems.push(`${h.address}: zoo.cfg differs from ${hosts[0]!.address}'s in ${differ.join(", ")}; an inventory gives every server the same settings, so make them agree first`);
    if (JSON.stringify(members[i]!.servers) !== JSON.stringify(members[0]!.servers)) {
      problems.push(`${h.address}: its server lines differ from ${hosts[0]!.address}'s; the servers do not agree on the membership`);
    }
  });
  if (problems.length > 0) return { notes, problems };

  const servers: ServerEntry[] = members[0]!.servers;
  const ports = (f: (s: ServerEntry) => number) => [...new Set(servers.map(f))];
  if (ports((s) => s.quorumPort).length > 1 || ports((s) => s.electionPort).length > 1) {
    problems.push(`the server lines use different quorum or election ports per server (${servers.map((s) => `${s.id}: ${s.quorumPort}:${s.electionPort}`).join(", ")}); an inventory has one pair`);
  }
  const byName = servers.every((s) => addressKind(s.host) === "hostname");
  const inventoryHosts: Record<string, unknown>[] = [];
  const seen = new Set<number>();
  hosts.forEach((h, i) => {
    const myidText = h.facts?.myid ?? null;
    const myid = myidText !== null && /^\d+$/.test(myidText) ? Number(myidText) : undefined;
    if (myid === undefined) return problems.push(`${h.address}: no readable myid in ${settings[i]!.get("dataDir") ?? "the data directory"}`);
    const line = servers.find((s) => s.id === myid);
    if (!line) return problems.push(`${h.address}: its myid ${myid} has no server line; it is not a member`);
    seen.add(myid);
    const hostsText = fileText(h.facts?.files[ETC_HOSTS]) ?? "";
    if (byName) {
      const resolved = resolveInHostsFile(hostsText, line.host);
      if (resolved !== undefined && resolved !== h.address) {
        problems.push(`${h.address}: server.${myid} names ${line.host}, which its /etc/hosts gives ${resolved}; reach the host at the address its server uses`);
      }
      for (const other of servers) {
        const r = resolveInHostsFile(hostsText, other.host);
        if (r === undefined) notes.push(`${h.address}: ${other.host} is not in /etc/hosts (DNS?); zkfleet's /etc/hosts block will name it, and writing the block restarts this server on the first apply`);
      }
    } else if (line.host !== h.address) {
      problems.push(`${h.address}: server.${myid} names ${line.host}; reach the host at the address its server uses`);
    }
    const name = byName ? line.host : (h.facts?.hostname ?? h.discover.hostname);
    inventoryHosts.push({ name, address: h.address, myid, ...(line.role === "observer" ? { role: "observer" } : {}) });
  });
  for (const s of servers) {
    if (!seen.has(s.id)) problems.push(`server.${s.id} (${s.host}) is a member but was not given; add its address to the command`);
  }
  if (problems.length > 0) return { notes, problems };

  const first = settings[0]!;
  const cpa = settings.map((s) => s.get("clientPortAddress"));
  const bind = cpa.every((a, i) => a !== undefined && a === hosts[i]!.address);
  if (!bind && cpa.some((a) => a !== undefined && a !== "0.0.0.0")) {
    problems.push(`clientPortAddress is set but is not each host's own address (${cpa.join(", ")}); zkfleet binds either to all addresses or to the host's own`);
  }
  const dynamic = dynamicTexts[0] !== undefined;
  const clientPort = Number(first.get("clientPort") ?? servers[0]?.client?.port ?? 2181);
  const argv = hosts[0]!.discover.servers[0]!.argv;
  const heap = heapMb(argv);
  if (heap === undefined) notes.push("the servers run with the JVM's default heap (no -Xmx); from each server's next restart zkfleet gives it -Xmx1000m (zookeeper.heap_mb)");
  const cwd = hosts[0]!.discover.servers[0]!.cwd;
  const logProp = systemProperty(argv, "zookeeper.log.dir");
  const logDir = logProp === undefined ? undefined : posix.resolve(cwd ?? "/", logProp);
  const home = homes[0]!;
  // Inside the release or the data dirs it would overlap what zkfleet manages apart.
  const inUse = [home, first.get("dataDir"), first.get("dataLogDir"), configDirs[0]].flatMap((d) => (d === undefined ? [] : [d]));
  const usableLogDir = logDir !== undefined && !inUse.some((d) => isSameOrInside(logDir, d) || isSameOrInside(d, logDir)) ? logDir : undefined;
  if (usableLogDir === undefined) {
    notes.push(`ZooKeeper logs to ${logDir ?? "its working directory"} now; from each server's next restart it logs to /var/log/zookeeper (zookeeper.log_dir)`);
  }
  notes.push(`the servers keep running from ${home}; zkfleet installs other releases under ${opts.installDir} and switches to them only in an upgrade`);
  notes.push(`zookeeper-env.sh and log4j.properties in ${configDirs[0]} are taken over (rewritten) at each server's next restart`);
  if (service.kind === "systemd") {
    notes.push(`the servers run under systemd's ${SYSTEMD_UNIT.name}; from each server's next restart they run under zkfleet's ${SYSTEMD_UNIT.path}, which takes precedence over a unit in /lib or one generated from /etc/init.d`);
  }
  if (debianServer(hosts[0]!)) notes.push(...debianNotes(cfg[0]!.path, configDirs[0]!));

  const dataLogDir = first.get("dataLogDir");
  const admin = first.get("admin.serverPort");
  const zookeeper: Record<string, unknown> = {
    version: v,
    ...(opts.dists ? { dists: opts.dists } : {}),
    preinstalled: { version: v, home },
    install_dir: opts.installDir,
    data_dir: first.get("dataDir"),
    ...(dataLogDir !== undefined && dataLogDir !== first.get("dataDir") ? { data_log_dir: dataLogDir } : {}),
    ...(usableLogDir ? { log_dir: usableLogDir } : {}),
    config_dir: configDirs[0],
    client_port: clientPort,
    quorum_port: servers[0]!.quorumPort,
    election_port: servers[0]!.electionPort,
    ...(admin !== undefined ? { admin_port: Number(admin) } : {}),
    bind_to_address: bind,
    reconfig: first.get("reconfigEnabled") === "true" || dynamic,
    ...(heap !== undefined ? { heap_mb: heap } : {}),
    ...(service.kind === "systemd" ? { service: "systemd", ...(service.user !== "root" ? { user: service.user } : {}) } : {}),
    config: passThrough(first, notes),
  };
  return {
    inventory: {
      ensemble: opts.ensemble,
      zookeeper,
      ssh: opts.ssh,
      ...(opts.agentDir ? { agent: { dir: opts.agentDir } } : {}),
      hosts_file: byName ? "managed" : "unmanaged",
      hosts: inventoryHosts.sort((a, b) => (a.myid as number) - (b.myid as number)),
    },
    notes,
    problems,
  };
}
