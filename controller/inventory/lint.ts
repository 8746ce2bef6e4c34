// Lint: an inventory can be well-formed and still be a bad idea. These checks
// are the ones a careful sysadmin would make before a maintenance window.
// Errors are things that will not work or will lose data; warnings are
// things that work but give less safety than people usually believe.
import { addressKind, closestMatch, isSameOrInside } from "./validators.js";
import type { Finding, FieldPath, Severity } from "./findings.js";
import type { HostSpec, Inventory } from "./schema.js";
import {
  isKnownSetting,
  REQUIRED_FOUR_LETTER_WORDS,
  versionFacts,
  ZOOKEEPER_VERSIONS,
  type ZookeeperVersion,
} from "../../common/versions.js";

type Lint = (inv: Inventory) => Finding[];

function finding(severity: Severity, code: string, path: FieldPath, message: string, host?: HostSpec): Finding {
  return { severity, code, path, message, ...(host ? { host: host.name } : {}) };
}
const error = (code: string, path: FieldPath, message: string, host?: HostSpec) => finding("error", code, path, message, host);
const warning = (code: string, path: FieldPath, message: string, host?: HostSpec) => finding("warning", code, path, message, host);

const lintVoters: Lint = (inv) => {
  const voters = inv.hosts.filter((host) => host.role === "participant" && host.state === "present").length;
  if (voters === 0) {
    return [error("no-voters", ["hosts"], "every host is an observer: an ensemble needs voters (role: participant) to form a quorum")];
  }
  if (voters < 3) {
    const who = voters === 1 ? "a single voter" : "2 voters need both up to keep a majority, so they";
    return [warning("few-voters", ["hosts"], `${who} survive no failure; use 3 voters (or 5) for fault tolerance`)];
  }
  if (voters % 2 === 0) {
    const message =
      `${voters} voters survive no more failures than ${voters - 1} while needing a larger majority; ` +
      "add or remove one voter, or make one an observer";
    return [warning("even-voters", ["hosts"], message)];
  }
  return [];
};

function versionKnowing(key: string): ZookeeperVersion | undefined {
  return (Object.keys(ZOOKEEPER_VERSIONS) as ZookeeperVersion[]).find((version) => isKnownSetting(version, key));
}

const lintSettings: Lint = (inv) => {
  const { version } = inv.zookeeper;
  const known = versionFacts(version).knownSettings.filter((key) => !key.endsWith(".*"));
  return Object.keys(inv.zookeeper.config)
    .filter((key) => !isKnownSetting(version, key))
    .map((key) => {
      const other = versionKnowing(key);
      const guess = other ? undefined : closestMatch(key, known);
      const advice = other
        ? `it exists in ZooKeeper ${other}; remove it or upgrade first`
        : guess
          ? `did you mean ${guess}?`
          : "check the spelling against the ZooKeeper administrator's guide";
      return error("unknown-setting", ["zookeeper", "config", key], `ZooKeeper ${version} does not know ${key}: ${advice}`);
    });
};

const lintVersionFeatures: Lint = (inv) => {
  const zk = inv.zookeeper;
  const facts = versionFacts(zk.version);
  const findings: Finding[] = [];
  if (zk.reconfig && !facts.supportsReconfig) {
    const message = `ZooKeeper ${zk.version} has no dynamic reconfiguration (3.5.3+); set reconfig: false`;
    findings.push(error("reconfig-unsupported", ["zookeeper", "reconfig"], message));
  }
  if (zk.reconfig && facts.supportsReconfig && zk.super_password_file === undefined) {
    const message =
      "since 3.5.3 only the super user may reconfig, and membership changes by reconfig need it; " +
      "set super_password_file to a file on this machine holding its password";
    findings.push(warning("reconfig-without-super", ["zookeeper", "reconfig"], message));
  }
  if (!facts.supportsIpv6ServerLines && inv.hosts_file === "unmanaged") {
    const message =
      `ZooKeeper ${zk.version} cannot parse IPv6 literals in server lines; ` +
      "use hosts_file: managed so server lines carry names, or IPv4";
    inv.hosts.forEach((host, index) => {
      if (addressKind(host.address) === "ipv6") findings.push(error("ipv6-unsupported", ["hosts", index, "address"], message, host));
    });
  }
  const electionAlg = zk.config.electionAlg;
  const at: FieldPath = ["zookeeper", "config", "electionAlg"];
  if (electionAlg !== undefined && electionAlg !== "3") {
    findings.push(
      facts.onlyElectionAlg3
        ? error("election-alg", at, `ZooKeeper ${zk.version} only has electionAlg 3; remove the setting`)
        : warning("election-alg", at, "election algorithms other than 3 are deprecated and gone in 3.6; remove the setting before upgrading"),
    );
  }
  return findings;
};

const lintFourLetterWords: Lint = (inv) => {
  const whitelist = inv.zookeeper.config["4lw.commands.whitelist"];
  if (whitelist === undefined || whitelist.trim() === "*") return [];
  const words = whitelist.split(",").map((word) => word.trim());
  const missing = REQUIRED_FOUR_LETTER_WORDS.filter((word) => !words.includes(word));
  if (missing.length === 0) return [];
  const message = `zkfleet checks server health with ${REQUIRED_FOUR_LETTER_WORDS.join(" and ")}; add ${missing.join(", ")} to the list`;
  return [error("4lw-missing", ["zookeeper", "config", "4lw.commands.whitelist"], message)];
};

const lintRiskySettings: Lint = (inv) => {
  const config = inv.zookeeper.config;
  const at = (key: string): FieldPath => ["zookeeper", "config", key];
  const findings: Finding[] = [];
  if (!(Number(config["autopurge.purgeInterval"] ?? "0") > 0)) {
    const message =
      "old snapshots and transaction logs are never purged and will fill the disk; " +
      "set autopurge.purgeInterval (hours, e.g. 24)";
    findings.push(warning("no-autopurge", at("autopurge.purgeInterval"), message));
  }
  if (config["snapshot.trust.empty"] === "true") {
    const message =
      "snapshot.trust.empty can start a server with missing data (ZOOKEEPER-3644); remove it once the 3.4 upgrade is done";
    findings.push(warning("trust-empty-snapshot", at("snapshot.trust.empty"), message));
  }
  if (config.forceSync === "no") {
    findings.push(warning("no-fsync", at("forceSync"), "forceSync=no acknowledges writes before they reach the disk: a power loss can lose them"));
  }
  if (config.skipACL === "yes") {
    findings.push(warning("skip-acl", at("skipACL"), "skipACL=yes turns off every ACL check: any client can change any node"));
  }
  if (config.extendedTypesEnabled === "true") {
    const message = "with extendedTypesEnabled (TTL nodes) myid must be at most 254; give this host another id";
    inv.hosts.forEach((host, index) => {
      if (host.myid === 255) findings.push(error("myid-ttl", ["hosts", index, "myid"], message, host));
    });
  }
  return findings;
};

/** Directories that must never hold ZooKeeper data, nor anything below them. */
const SYSTEM_TREES = ["/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/dev", "/proc", "/sys", "/run"];
/** Directories that are fine to be below, but not to be (zkfleet moves a data dir aside when a host rejoins). */
const SHARED_ROOTS = ["/", "/var", "/var/lib", "/var/log", "/opt", "/home", "/root", "/srv", "/mnt", "/media", "/tmp", "/var/tmp"];

interface NamedDir {
  field: string;
  path: FieldPath;
  dir: string;
}

function managedDirs(inv: Inventory): NamedDir[] {
  const zk = inv.zookeeper;
  const dirs: NamedDir[] = [
    { field: "data_dir", path: ["zookeeper", "data_dir"], dir: zk.data_dir },
    { field: "install_dir", path: ["zookeeper", "install_dir"], dir: zk.install_dir },
    { field: "log_dir", path: ["zookeeper", "log_dir"], dir: zk.log_dir },
    { field: "config_dir", path: ["zookeeper", "config_dir"], dir: zk.config_dir },
    { field: "agent.dir", path: ["agent", "dir"], dir: inv.agent.dir },
  ];
  if (zk.data_log_dir !== undefined) {
    dirs.splice(1, 0, { field: "data_log_dir", path: ["zookeeper", "data_log_dir"], dir: zk.data_log_dir });
  }
  return dirs;
}

const isDataDir = (dir: NamedDir) => dir.field === "data_dir" || dir.field === "data_log_dir";

function lintOneDir(dir: NamedDir): Finding[] {
  const isSystem = [...SHARED_ROOTS, ...SYSTEM_TREES].includes(dir.dir);
  if (isSystem || (isDataDir(dir) && SYSTEM_TREES.some((tree) => isSameOrInside(dir.dir, tree)))) {
    const message = `${dir.dir} is or lies in a system directory; give ${dir.field} a directory of its own, e.g. /var/lib/zookeeper for data`;
    return [error("unsafe-dir", dir.path, message)];
  }
  if (isDataDir(dir) && ["/tmp", "/var/tmp"].some((tree) => isSameOrInside(dir.dir, tree))) {
    const message = `${dir.dir} may be emptied at boot, losing this server's data; use /var/lib/zookeeper or a dedicated disk`;
    return [warning("temporary-data-dir", dir.path, message)];
  }
  return [];
}

function lintDirPair(a: NamedDir, b: NamedDir): Finding[] {
  if (isDataDir(a) && isDataDir(b)) {
    // A transaction log below the data directory is an ordinary layout.
    if (a.dir !== b.dir) return [];
    const message = "data_log_dir equals data_dir, which is already ZooKeeper's default; remove data_log_dir or point it at a separate disk";
    return [warning("same-data-log-dir", b.path, message)];
  }
  if (a.dir === b.dir) {
    return [error("overlapping-dirs", a.path, `${a.field} and ${b.field} are both ${a.dir}; each needs its own directory`)];
  }
  const [inner, outer] = isSameOrInside(a.dir, b.dir) ? [a, b] : isSameOrInside(b.dir, a.dir) ? [b, a] : [];
  if (!inner || !outer) return [];
  const message =
    `${inner.field} ${inner.dir} is inside ${outer.field} ${outer.dir}; ` +
    "replacing or moving one would take the other along, keep them apart";
  return [error("overlapping-dirs", inner.path, message)];
}

const lintDirectories: Lint = (inv) => {
  const dirs = managedDirs(inv);
  const findings = dirs.flatMap(lintOneDir);
  // The adopted release may hold the data and config dirs (a manual install often keeps them in it), but never zkfleet's releases.
  const home = inv.zookeeper.preinstalled?.home;
  if (home !== undefined && (isSameOrInside(home, inv.zookeeper.install_dir) || isSameOrInside(inv.zookeeper.install_dir, home))) {
    findings.push(error("overlapping-dirs", ["zookeeper", "preinstalled", "home"],
      `preinstalled.home ${home} and install_dir ${inv.zookeeper.install_dir} overlap; zkfleet unpacks releases into install_dir, ` +
      "give it a directory of its own such as /opt/zkfleet/zookeeper"));
  }
  dirs.forEach((a, i) => dirs.slice(i + 1).forEach((b) => findings.push(...lintDirPair(a, b))));
  return findings;
};

/** A unit is installed in /etc/systemd/system and run by systemctl, both root's; zkServer.sh runs as whoever the agent is. */
const lintService: Lint = (inv) => {
  const zk = inv.zookeeper;
  if (zk.service === "script") {
    return zk.user === undefined ? [] : [error("user-needs-systemd", ["zookeeper", "user"],
      `zookeeper.user ${zk.user} applies only to service: systemd; under service: script zkServer.sh runs the server as the agent's user (ssh.user, or root with ssh.become); remove user or set service: systemd`)];
  }
  if (inv.ssh.user === "root" || inv.ssh.become) return [];
  return [error("systemd-needs-root", ["ssh", "become"],
    `service: systemd installs a unit in /etc/systemd/system and runs systemctl, which ssh.user ${inv.ssh.user} cannot do; set ssh.become: true (sudo) or connect as root`)];
};

const LINTS: readonly Lint[] = [lintVoters, lintSettings, lintVersionFeatures, lintFourLetterWords, lintRiskySettings, lintDirectories, lintService];

/** All findings for one validated inventory, errors first. */
export function lintInventory(inv: Inventory): Finding[] {
  const findings = LINTS.flatMap((lint) => lint(inv));
  return [...findings.filter((f) => f.severity === "error"), ...findings.filter((f) => f.severity === "warning")];
}
