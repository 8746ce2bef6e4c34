// The one place that says which ZooKeeper versions zkfleet knows and what each
// of them can do. Everything version-dependent (schema, lint, templates, the
// planner) asks here instead of comparing version strings.
//
// The setting lists were read from the three release jars themselves (the keys
// QuorumPeerConfig parses, plus the documented `zookeeper.*` system properties
// that zoo.cfg entries turn into), so they are what the server accepts, not
// what a web page remembers.

export interface VersionFacts {
  readonly version: string;
  /** `reconfigEnabled` + dynamic config file + the `reconfig` command (3.5.3+). */
  readonly supportsReconfig: boolean;
  /** Four-letter words must be listed in `4lw.commands.whitelist` (3.5.3+); only srvr is on by default. */
  readonly supports4lwWhitelist: boolean;
  /** The embedded Jetty AdminServer (3.5+), port 8080 unless told otherwise. */
  readonly hasAdminServer: boolean;
  /** Server lines carry a role and a client address: `server.N=h:q:e:participant;addr:port` (3.5+). */
  readonly hasClientAddressInServerLines: boolean;
  /**
   * IPv6 literals in server lines work (brackets, 3.5.5+: ZOOKEEPER-2989,
   * ZOOKEEPER-3057). 3.4 splits server lines on ':' and breaks on them.
   */
  readonly supportsIpv6ServerLines: boolean;
  /** Only fast leader election (electionAlg=3) is left (3.6+ removed 0..2). */
  readonly onlyElectionAlg3: boolean;
  /**
   * zoo.cfg keys the server understands that zkfleet passes through as given.
   * An entry ending in `.*` is a prefix (e.g. `ssl.*` for `ssl.keyStore.location`).
   */
  readonly knownSettings: readonly string[];
  /** The Debian suite whose `zookeeper` package is this version: where zkfleet's distribution is assembled from. */
  readonly debianSuite: "bullseye" | "bookworm" | "trixie";
}

/** Keys ZooKeeper has understood since 3.4 and that zkfleet does not manage itself. */
const SETTINGS_3_4: readonly string[] = [
  "tickTime",
  "initLimit",
  "syncLimit",
  "maxClientCnxns",
  "minSessionTimeout",
  "maxSessionTimeout",
  "autopurge.snapRetainCount",
  "autopurge.purgeInterval",
  "syncEnabled",
  "electionAlg",
  "quorumListenOnAllIPs",
  "quorum.auth.enableSasl",
  "quorum.auth.learnerRequireSasl",
  "quorum.auth.serverRequireSasl",
  "quorum.auth.learner.saslLoginContext",
  "quorum.auth.server.saslLoginContext",
  "quorum.auth.kerberos.servicePrincipal",
  "quorum.cnxn.threads.size",
  "snapCount",
  "preAllocSize",
  "forceSync",
  "skipACL",
  "leaderServes",
  "cnxTimeout",
  "globalOutstandingLimit",
  "fsync.warningthresholdms",
  "serverCnxnFactory",
  "tcpKeepAlive",
  "authProvider.*",
];

/** Added between 3.5 and 3.8. */
const SETTINGS_3_8_ADDED: readonly string[] = [
  "4lw.commands.whitelist",
  "admin.enableServer",
  "admin.idleTimeout",
  "admin.commandURL",
  "admin.portUnification",
  "admin.forceHttps",
  "snapshot.trust.empty",
  "snapshot.compression.method",
  "localSessionsEnabled",
  "localSessionsUpgradingEnabled",
  "clientPortListenBacklog",
  "connectToLearnerMasterLimit",
  "observerMasterPort",
  "maxCnxns",
  "audit.enable",
  "commitLogCount",
  "snapSizeLimitInKb",
  "txnLogSizeLimitInKb",
  "electionPortBindRetry",
  "secureClientPort",
  "secureClientPortAddress",
  "sslQuorum",
  "sslQuorumReloadCertFiles",
  "portUnification",
  "multiAddress.enabled",
  "multiAddress.reachabilityCheckEnabled",
  "multiAddress.reachabilityCheckTimeoutMs",
  "metricsProvider.*",
  "jvm.pause.monitor",
  "jvm.pause.info-threshold.ms",
  "jvm.pause.warn-threshold.ms",
  "jvm.pause.sleep.time.ms",
  "digest.enabled",
  "extendedTypesEnabled",
  "enforceQuota",
  "enforce.auth.enabled",
  "enforce.auth.schemes",
  "ssl.*",
];

/** Added in 3.9. */
const SETTINGS_3_9_ADDED: readonly string[] = ["admin.needClientAuth", "admin.restore.enabled"];

const modern = {
  supportsReconfig: true,
  supports4lwWhitelist: true,
  hasAdminServer: true,
  hasClientAddressInServerLines: true,
  supportsIpv6ServerLines: true,
  onlyElectionAlg3: true,
} as const;

export const ZOOKEEPER_VERSIONS = {
  "3.4.13": {
    version: "3.4.13",
    supportsReconfig: false,
    supports4lwWhitelist: false,
    hasAdminServer: false,
    hasClientAddressInServerLines: false,
    supportsIpv6ServerLines: false,
    onlyElectionAlg3: false,
    knownSettings: SETTINGS_3_4,
    debianSuite: "bullseye",
  },
  "3.8.0": { version: "3.8.0", ...modern, knownSettings: [...SETTINGS_3_4, ...SETTINGS_3_8_ADDED], debianSuite: "bookworm" },
  "3.9.3": {
    version: "3.9.3",
    ...modern,
    knownSettings: [...SETTINGS_3_4, ...SETTINGS_3_8_ADDED, ...SETTINGS_3_9_ADDED],
    debianSuite: "trixie",
  },
} as const satisfies Record<string, VersionFacts>;

export type ZookeeperVersion = keyof typeof ZOOKEEPER_VERSIONS;
export const KNOWN_ZOOKEEPER_VERSIONS = Object.keys(ZOOKEEPER_VERSIONS) as [ZookeeperVersion, ...ZookeeperVersion[]];

export function versionFacts(version: ZookeeperVersion): VersionFacts {
  return ZOOKEEPER_VERSIONS[version];
}

/** Whether the AdminServer will listen: the version has one and the inventory did not switch it off. */
export function adminServerEnabled(zk: { version: ZookeeperVersion; config: Readonly<Record<string, string>> }): boolean {
  return versionFacts(zk.version).hasAdminServer && zk.config["admin.enableServer"] !== "false";
}

export function isKnownSetting(version: ZookeeperVersion, key: string): boolean {
  return versionFacts(version).knownSettings.some((known) =>
    known.endsWith(".*") ? key.startsWith(known.slice(0, -1)) && key.length > known.length - 1 : key === known,
  );
}

/**
 * zoo.cfg keys zkfleet writes itself from inventory fields. Accepting them in
 * the pass-through `config` would give two sources of truth for one line.
 * The value says which inventory field to use instead.
 */
export const MANAGED_SETTINGS: Readonly<Record<string, string>> = {
  dataDir: "zookeeper.data_dir",
  dataLogDir: "zookeeper.data_log_dir",
  clientPort: "zookeeper.client_port",
  clientPortAddress: "zookeeper.bind_to_address",
  "admin.serverPort": "zookeeper.admin_port",
  "admin.serverAddress": "zookeeper.bind_to_address",
  peerType: "the host's role",
  reconfigEnabled: "zookeeper.reconfig",
  dynamicConfigFile: "zookeeper.reconfig",
  standaloneEnabled: "zookeeper.reconfig",
  "server.*": "hosts",
  "group.*": "hosts (hierarchical quorums are not supported by zkfleet)",
  "weight.*": "hosts (hierarchical quorums are not supported by zkfleet)",
};

/** The inventory field that owns a zoo.cfg key, or undefined when the key is free to pass through. */
export function managedSettingOwner(key: string): string | undefined {
  const exact = MANAGED_SETTINGS[key];
  if (exact !== undefined) return exact;
  const prefix = key.split(".")[0];
  return MANAGED_SETTINGS[`${prefix}.*`];
}

/**
 * The four-letter words zoo.cfg allows on 3.5+ unless the inventory overrides
 * `4lw.commands.whitelist`. zkfleet's health gates need srvr and mntr; the
 * rest are the read-only ones a sysadmin reaches for when debugging.
 */
export const FOUR_LETTER_WORDS = ["srvr", "mntr", "conf", "ruok", "stat", "isro", "cons", "envi"] as const;

/** The words zkfleet itself sends: an override without them breaks its gates. */
export const REQUIRED_FOUR_LETTER_WORDS = ["srvr", "mntr"] as const;

/** Whether a live ensemble can move from one version to another one server at a time, and why. */
export interface VersionHop {
  from: string;
  to: string;
  rolling: boolean;
  /** For people: what was seen, or what stands in the way and what to do instead. */
  why: string;
}

/**
 * The hops zkfleet rolls, found in the lab with mixed versions serving one
 * ensemble (a 3.4.13 leader with 3.8.0 and 3.9.3 followers, a 3.9.3 leader
 * with 3.8.0 and 3.4.13 followers): every upgrade among the known versions,
 * and 3.9.3 back to 3.8.0. Back to 3.4 is refused: data written by 3.5+ can
 * hold what 3.4 does not know (container and TTL nodes, the dynamic
 * configuration under /zookeeper/config), so going back there is a restore.
 */
export function versionHop(from: string, to: string): VersionHop {
  const known = (v: string) => (KNOWN_ZOOKEEPER_VERSIONS as readonly string[]).includes(v);
  if (!known(from) || !known(to)) {
    return { from, to, rolling: false, why: `zkfleet knows ZooKeeper ${KNOWN_ZOOKEEPER_VERSIONS.join(", ")}; ${known(from) ? to : from} is not one of them` };
  }
  const order = (v: string) => v.split(".").map(Number).reduce((acc, n) => acc * 1000 + n, 0);
  if (order(to) > order(from)) {
    return { from, to, rolling: true, why: `servers of ${from} and ${to} serve one ensemble together (seen in the lab), so the ensemble is upgraded one server at a time` };
  }
  if (to.startsWith("3.4.") && !from.startsWith("3.4.")) {
    return {
      from, to, rolling: false,
      why: `${from} may have written data 3.4 does not know (container and TTL nodes, the dynamic configuration): ` +
        "going back to 3.4 is a restore of a backup taken before the upgrade, not a rolling downgrade",
    };
  }
  return { from, to, rolling: true, why: `servers of ${from} and ${to} serve one ensemble together (seen in the lab), so the ensemble is downgraded one server at a time` };
}

/** 3.5+ refuses a data directory with transaction logs and no snapshot, which 3.4 followers often have (ZOOKEEPER-3056). */
export function needsSnapshotToStart(version: string): boolean {
  return !version.startsWith("3.4.");
}
