// What ZooKeeper makes of the value of each zoo.cfg key zkfleet knows
// (common/versions.ts lists them), so that `check` refuses `tickTime: abc`
// at its line instead of a server refusing to start in the window. Keys
// read with Integer.parseInt or Long.parseLong fail the server on a bad
// value; booleans read with Boolean.parseBoolean and yes/no switches compared
// with "yes" or "no" take any other word silently as the other setting, which
// is worse. Prefix keys (ssl.*, authProvider.*, metricsProvider.*) and free
// text (class names, principals, paths) are passed through unchecked.

export type SettingType =
  | { kind: "int" | "long"; min?: number; why?: string }
  | { kind: "port" | "boolean" | "yesno" | "text" }
  | { kind: "choice"; values: readonly string[] };

const int = (min?: number, why?: string): SettingType => ({ kind: "int", ...(min === undefined ? {} : { min }), ...(why ? { why } : {}) });
const long = (min?: number): SettingType => ({ kind: "long", ...(min === undefined ? {} : { min }) });
const BOOLEAN: SettingType = { kind: "boolean" };
const YES_NO: SettingType = { kind: "yesno" };
const PORT: SettingType = { kind: "port" };
const TEXT: SettingType = { kind: "text" };

export const SETTING_TYPES: Readonly<Record<string, SettingType>> = {
  tickTime: int(1),
  initLimit: int(1),
  syncLimit: int(1),
  maxClientCnxns: int(0),
  minSessionTimeout: int(-1, "-1 means 2 x tickTime"),
  maxSessionTimeout: int(-1, "-1 means 20 x tickTime"),
  "autopurge.snapRetainCount": int(3, "ZooKeeper keeps at least 3"),
  "autopurge.purgeInterval": int(0),
  syncEnabled: BOOLEAN,
  electionAlg: int(0),
  quorumListenOnAllIPs: BOOLEAN,
  "quorum.auth.enableSasl": BOOLEAN,
  "quorum.auth.learnerRequireSasl": BOOLEAN,
  "quorum.auth.serverRequireSasl": BOOLEAN,
  "quorum.auth.learner.saslLoginContext": TEXT,
  "quorum.auth.server.saslLoginContext": TEXT,
  "quorum.auth.kerberos.servicePrincipal": TEXT,
  "quorum.cnxn.threads.size": int(1),
  snapCount: int(2, "ZooKeeper takes at least 2"),
  preAllocSize: long(1),
  forceSync: YES_NO,
  skipACL: YES_NO,
  leaderServes: YES_NO,
  cnxTimeout: int(1),
  globalOutstandingLimit: int(1),
  "fsync.warningthresholdms": long(0),
  serverCnxnFactory: TEXT,
  tcpKeepAlive: BOOLEAN,
  "4lw.commands.whitelist": TEXT,
  "admin.enableServer": BOOLEAN,
  "admin.idleTimeout": int(1),
  "admin.commandURL": TEXT,
  "admin.portUnification": BOOLEAN,
  "admin.forceHttps": BOOLEAN,
  "snapshot.trust.empty": BOOLEAN,
  "snapshot.compression.method": { kind: "choice", values: ["gz", "snappy", ""] },
  localSessionsEnabled: BOOLEAN,
  localSessionsUpgradingEnabled: BOOLEAN,
  clientPortListenBacklog: int(-1, "-1 means the JVM's default"),
  connectToLearnerMasterLimit: int(0),
  observerMasterPort: PORT,
  maxCnxns: int(0),
  "audit.enable": BOOLEAN,
  commitLogCount: int(0),
  snapSizeLimitInKb: long(),
  txnLogSizeLimitInKb: long(),
  electionPortBindRetry: int(0),
  secureClientPort: PORT,
  secureClientPortAddress: TEXT,
  sslQuorum: BOOLEAN,
  sslQuorumReloadCertFiles: BOOLEAN,
  portUnification: BOOLEAN,
  "multiAddress.enabled": BOOLEAN,
  "multiAddress.reachabilityCheckEnabled": BOOLEAN,
  "multiAddress.reachabilityCheckTimeoutMs": int(0),
  "jvm.pause.monitor": BOOLEAN,
  "jvm.pause.info-threshold.ms": long(0),
  "jvm.pause.warn-threshold.ms": long(0),
  "jvm.pause.sleep.time.ms": long(1),
  "digest.enabled": BOOLEAN,
  extendedTypesEnabled: BOOLEAN,
  enforceQuota: BOOLEAN,
  "enforce.auth.enabled": BOOLEAN,
  "enforce.auth.schemes": TEXT,
  "admin.needClientAuth": BOOLEAN,
  "admin.restore.enabled": BOOLEAN,
};

const RANGE = { int: [-(2n ** 31n), 2n ** 31n - 1n], long: [-(2n ** 63n), 2n ** 63n - 1n] } as const;

/** Why `value` will not do for `key`, or undefined when it will (or zkfleet does not know the key's type). */
export function settingValueProblem(key: string, value: string): string | undefined {
  const type = SETTING_TYPES[key];
  const text = value.trim();
  switch (type?.kind) {
    case "int":
    case "long": {
      const [low, high] = RANGE[type.kind];
      if (!/^-?\d+$/.test(text) || BigInt(text) < low || BigInt(text) > high) {
        return `${key} must be a whole number (ZooKeeper reads it as a Java ${type.kind}); got ${JSON.stringify(value)}`;
      }
      if (type.min !== undefined && BigInt(text) < BigInt(type.min)) {
        return `${key} must be at least ${type.min}${type.why ? ` (${type.why})` : ""}; got ${text}`;
      }
      return undefined;
    }
    case "port":
      return /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535 ? undefined : `${key} must be a port, 1 to 65535; got ${JSON.stringify(value)}`;
    case "boolean":
      return text === "true" || text === "false" ? undefined
        : `${key} must be true or false (ZooKeeper takes any other word for false); got ${JSON.stringify(value)}`;
    case "yesno":
      return text === "yes" || text === "no" ? undefined
        : `${key} must be yes or no (ZooKeeper compares it with one of them, taking any other word for the other); got ${JSON.stringify(value)}`;
    case "choice":
      return type.values.includes(text) ? undefined
        : `${key} must be one of ${type.values.map((v) => JSON.stringify(v)).join(", ")}; got ${JSON.stringify(value)}`;
    default:
      return undefined;
  }
}
