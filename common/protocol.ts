// The wire contract between the controller and the agent. Both ends import
// these schemas (the agent bundles them, the controller imports this file), so
// a message one side accepts is exactly a message the other side may send.
//
// Framing: newline-delimited JSON. The controller writes a batch of Request
// lines and closes stdin; the agent writes one Hello line, then one Response
// line per request, in order (Response.index is the request's position).

import { posix } from "node:path";
import { z } from "zod";
import { LEASE_MS } from "./lease.js";

/** Bumped on any incompatible change to the messages below. */
export const PROTOCOL_VERSION = 4;

// ---------------------------------------------------------------- building blocks

/** Every path the agent touches comes from the request: absolute, no `..`. */
export const AbsPath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith("/"), "must be an absolute path")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'")
  .refine((p) => !p.includes("\0"), "must not contain NUL");

/** A release name becomes a directory name: keep it to one safe path segment. */
const ReleaseName = z
  .string()
  .regex(/^[0-9A-Za-z][0-9A-Za-z._-]*$/, "must be a plain version like 3.8.0");

/**
 * A release unpacked on the host before zkfleet managed it (adoption): used
 * where it lies, as the current release until zkfleet switches away from it.
 */
const Preinstalled = z.strictObject({ version: ReleaseName, home: AbsPath }).optional();

const SystemdUnit = z
  .string()
  .regex(/^[A-Za-z0-9@._:-]+$/, "must be a systemd unit name like zookeeper.service");

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

/** How ZooKeeper is started and stopped on a host. */
const Service = z
  .discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("script") }),
    z.strictObject({ kind: z.literal("systemd"), unit: SystemdUnit }),
  ])
  .default({ kind: "script" });

const Zxid = z.strictObject({
  /** As ZooKeeper prints it, lower-case: 0x100000002. */
  hex: z.string().regex(/^0x[0-9a-f]+$/),
  epoch: z.number().int().nonnegative(),
  counter: z.number().int().nonnegative(),
});
export type Zxid = z.infer<typeof Zxid>;

const DataFile = z.strictObject({
  name: z.string(),
  size: z.number().int().nonnegative(),
  zxid: z.string().nullable(),
});

const DirListing = z.strictObject({
  path: z.string(),
  exists: z.boolean(),
  version2: z.boolean(),
  snapshots: z.array(DataFile),
  logs: z.array(DataFile),
  highest_snapshot_zxid: z.string().nullable(),
  highest_log_zxid: z.string().nullable(),
});

const ProcessState = z.strictObject({
  pid_file: z.string(),
  /** running: the pid is a live java QuorumPeerMain; stale: a pid file that is not. */
  state: z.enum(["running", "stale", "absent"]),
  pid: z.number().int().positive().nullable(),
  /** The config file the running process was given, when it can be read. */
  config: z.string().nullable(),
  /** When the running process started (ms since the epoch): a managed file changed after it is not loaded yet. */
  started_at_ms: z.number().nullable(),
  detail: z.string(),
});

/**
 * A file as read on the host. "unreadable" (permissions, I/O error, not a
 * regular file) is kept apart from "absent": a file that exists but cannot
 * be read must never be planned as one to create.
 */
export const FileRead = z.discriminatedUnion("state", [
  z.strictObject({ state: z.literal("present"), content: z.string(), mtime_ms: z.number() }),
  z.strictObject({ state: z.literal("absent") }),
  z.strictObject({ state: z.literal("unreadable"), error: z.string() }),
]);
export type FileRead = z.infer<typeof FileRead>;

// ---------------------------------------------------------------- operations

export const FactsArgs = z.strictObject({
  install_dir: AbsPath.optional(),
  preinstalled: Preinstalled,
  data_dir: AbsPath.optional(),
  data_log_dir: AbsPath.optional(),
  config_dir: AbsPath.optional(),
  os_release: AbsPath.default("/etc/os-release"),
  /** Files to read (the managed ones), each reported present, absent or unreadable. */
  files: z.array(AbsPath).default([]),
  /**
   * A zoo.cfg whose `dynamicConfigFile` is to be followed: a running 3.5+
   * server renames its dynamic file (zoo.cfg.dynamic.<version>) and edits
   * zoo.cfg to point at it, so its path is only known from the host.
   */
  zoo_cfg: AbsPath.optional(),
});
export const FactsData = z.strictObject({
  hostname: z.string(),
  node: z.string(),
  os: z
    .strictObject({ id: z.string(), version_id: z.string().nullable(), pretty_name: z.string().nullable() })
    .nullable(),
  releases: z
    .strictObject({ dir: z.string(), versions: z.array(z.string()), current: z.string().nullable() })
    .nullable(),
  process: ProcessState.nullable(),
  myid: z.string().nullable(),
  data_dir: DirListing.nullable(),
  data_log_dir: DirListing.nullable(),
  config_dir: z
    .strictObject({
      path: z.string(),
      exists: z.boolean(),
      files: z.array(z.strictObject({ name: z.string(), size: z.number().int().nonnegative() })),
    })
    .nullable(),
  files: z.record(z.string(), FileRead),
  /** The dynamic config file zoo_cfg names, when it names one. */
  dynamic_config: z.strictObject({ path: z.string(), file: FileRead }).nullable(),
});

export const WriteFileArgs = z.strictObject({
  path: AbsPath,
  content: z.string(),
  mode: z.number().int().min(0).max(0o7777).default(0o644),
  /** Backups of replaced content go under <state_dir>/backups/<timestamp>/<path>. */
  state_dir: AbsPath,
});
export const WriteFileData = z.strictObject({
  path: z.string(),
  mode: z.number().int(),
  backup: z.string().nullable(),
});

export const InstallDistArgs = z.strictObject({
  /** The tarball pushed to the host; none when the release is unpacked already (or adopted) and only `current` moves. */
  tarball: AbsPath.optional(),
  version: ReleaseName,
  install_dir: AbsPath,
  preinstalled: Preinstalled,
  set_current: z.boolean().default(false),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export const InstallDistData = z.strictObject({
  version: z.string(),
  release_dir: z.string(),
  unpacked: z.boolean(),
  current_before: z.string().nullable(),
  current_after: z.string().nullable(),
});

export const StartArgs = z.strictObject({
  install_dir: AbsPath,
  preinstalled: Preinstalled,
  config_dir: AbsPath,
  /** Where zkServer.sh keeps zookeeper_server.pid (the config's dataDir). */
  data_dir: AbsPath,
  service: Service,
  java_home: AbsPath.optional(),
  log_dir: AbsPath.optional(),
  env: z.record(EnvName, z.string()).default({}),
  timeout_s: z.number().positive().max(600).default(60),
  /**
   * The client port as the controller probes it. zkServer.sh start sleeps 1 s after launching the JVM before it
   * checks the process; with this, start returns as soon as the server answers `srvr` there (it has loaded its
   * data by then) and leaves the script to finish on its own.
   */
  probe: z.strictObject({ address: z.string().min(1), port: z.number().int().min(1).max(65535) }).optional(),
});
export const StartData = z.strictObject({
  pid: z.number().int().positive().nullable(),
  already_running: z.boolean(),
  output: z.string(),
});

export const StopArgs = z.strictObject({
  data_dir: AbsPath,
  /** The zoo.cfg the process must have been started with, or stop refuses. */
  config_path: AbsPath,
  service: Service,
  timeout_s: z.number().positive().max(600).default(30),
});
export const StopData = z.strictObject({
  pid: z.number().int().positive().nullable(),
  signal: z.enum(["SIGTERM", "SIGKILL"]).nullable(),
  removed_pid_file: z.boolean(),
});

export const CleanDataArgs = z.strictObject({
  data_dir: AbsPath,
  data_log_dir: AbsPath.optional(),
  /** When given, any QuorumPeerMain running with this config also blocks the move. */
  config_path: AbsPath.optional(),
  /**
   * Move only when the state holds transaction logs and no snapshot, on which
   * 3.5+ refuses to start (ZOOKEEPER-3056). Decided when the step runs: a
   * 3.4 follower writes its first logs any time after the plan was made.
   */
  only_if_logs_without_snapshot: z.boolean().default(false),
});
export const CleanDataData = z.strictObject({
  moved: z.array(z.strictObject({ from: z.string(), to: z.string() })),
});

/**
 * backup_source: the files a physical backup of this server's data takes
 * (common/backup-files.ts), each with its size now. Read-only; ZooKeeper
 * keeps running and appending, so the copy reads each file up to that size.
 */
export const BackupSourceArgs = z.strictObject({
  data_dir: AbsPath,
  data_log_dir: AbsPath.optional(),
});
const BackupFile = z.strictObject({
  path: z.string(),
  name: z.string(),
  kind: z.enum(["snapshot", "log"]),
  /** From the name: the snapshot's last zxid, or the log's first. */
  zxid: z.string().regex(/^0x[0-9a-f]+$/),
  size: z.number().int().nonnegative(),
});
export const BackupSourceData = z.strictObject({
  snapshot: BackupFile,
  /** Oldest first: the log holding the snapshot's zxid, and every later one. */
  logs: z.array(BackupFile),
  /** Newer snapshots passed over because they were still being written. */
  incomplete_snapshots: z.array(z.string()),
});

/** Largest piece of a file one read_chunk answer carries (before compression and base64). */
export const MAX_CHUNK = 8 * 1024 * 1024;

/**
 * read_chunk: a piece of a snapshot or transaction log, for a backup. Only
 * ZooKeeper's data files in a version-2 directory can be read this way.
 * Transaction logs are preallocated with zeros, hence deflate.
 */
export const ReadChunkArgs = z.strictObject({
  path: AbsPath.refine((p) => /\/version-2\/(snapshot|log)\.[0-9a-fA-F]{1,16}$/.test(p), "must be a snapshot.<zxid> or log.<zxid> in a version-2 directory"),
  offset: z.number().int().nonnegative(),
  length: z.number().int().positive().max(MAX_CHUNK),
});
export const ReadChunkData = z.strictObject({
  offset: z.number().int().nonnegative(),
  /** Bytes read (fewer than asked at the end of the file). */
  bytes: z.number().int().nonnegative(),
  /** sha256 of the bytes read, before compression: the controller checks what it unpacks against it. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** The bytes, raw deflate, base64. */
  deflated: z.string(),
});

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be a sha256 in hex");

/**
 * restore_data: put a backup's snapshot and logs into an empty version-2.
 * Every staged file is checked (size, sha256) before anything is touched;
 * then the state there is moved aside as clean_data does, the files are
 * copied in, and the marker written last (it says the host holds the backup).
 */
export const RestoreDataArgs = z.strictObject({
  data_dir: AbsPath,
  data_log_dir: AbsPath.optional(),
  config_path: AbsPath.optional(),
  files: z.array(z.strictObject({
    name: z.string().regex(/^(snapshot|log)\.[0-9a-f]{1,16}$/, "must be snapshot.<zxid> or log.<zxid>"),
    /** Where the controller put it on the host. */
    staged: AbsPath,
    size: z.number().int().nonnegative(),
    sha256: Sha256,
  })).min(1),
  marker: z.strictObject({ path: AbsPath, content: z.string() }),
});
export const RestoreDataData = z.strictObject({
  moved: z.array(z.strictObject({ from: z.string(), to: z.string() })),
  written: z.array(z.string()),
});

/**
 * A run's lock on an ensemble, kept on each of its hosts (so that another
 * controller sees it too): a small JSON file created exclusively. It is a
 * lease: the holder renews it (`renew` stamps the file's mtime, in the host's
 * own clock) while its run lives, and it is judged on the host against that
 * same clock (common/lease.ts), so the controller's clock never enters.
 * Every acquisition gets a new token (and the file's generation goes up): the
 * fence each acting request carries names it.
 */
const LockToken = z.string().regex(/^[0-9a-f]{16,64}$/, "must be a lock token (hex)");
/**
 * The controller process that holds a lock, as another controller on the same
 * machine can recognise it: the kernel's boot id and pid namespace say which
 * process table the pid belongs to, and its start time (clock ticks since boot,
 * /proc/PID/stat) tells it from a later process given the same pid.
 */
export const ControllerProcess = z.strictObject({
  boot_id: z.string().min(1).max(100),
  pid_ns: z.string().min(1).max(100),
  pid: z.number().int().positive(),
  start: z.string().regex(/^[0-9]{1,20}$/),
});
export type ControllerProcess = z.infer<typeof ControllerProcess>;
export const LockArgs = z.strictObject({
  path: AbsPath,
  /** renew: stamp the lease of the lock this run holds (same run and token), or say who holds it now. */
  action: z.enum(["acquire", "renew", "release"]),
  /** The run that holds or wants the lock. */
  run: z.string().min(1).max(200),
  /** This acquisition's token, the same on every host; acquire, renew and release act only on a lock holding it. */
  token: LockToken,
  /** Who: user@controller and pid, for the message another run shows. */
  holder: z.string().min(1).max(200),
  process: ControllerProcess.optional(),
  /** How long the lease runs without a renewal. */
  lease_ms: z.number().int().min(1000).max(600_000).default(LEASE_MS),
  /**
   * Take the lock over from the holder the controller read (its token, "" for a lock file without one): refused
   * when another holds it by now, and, unless the controller found that holder's process gone, while its lease runs.
   */
  take_over: z.strictObject({ token: z.string().max(64), holder_gone: z.boolean() }).optional(),
});
const LockHolder = z.strictObject({
  run: z.string(),
  holder: z.string(),
  since: z.string(),
  /** 1 for a lock taken free, one more at every takeover. */
  generation: z.number().int().nonnegative(),
  token: z.string(),
  process: ControllerProcess.nullable(),
  lease_ms: z.number().int().nonnegative(),
  /** The last renewal, in the host's clock (ISO). */
  renewed_at: z.string(),
  /** What is left of the lease as the host judged it when answering; 0: lapsed. */
  lease_left_ms: z.number().int().nonnegative(),
});
export const LockData = z.strictObject({
  /** Held by this run's token after the call (acquire and renew). */
  acquired: z.boolean(),
  /** Who held it before this call (null when free). */
  held_by: LockHolder.nullable(),
  /** The generation this run holds, when it holds the lock. */
  generation: z.number().int().positive().nullable(),
});

/**
 * What an acting request carries when its run holds the ensemble's lock: the
 * agent runs it only while the lock file there names this run and token
 * (`fenced` otherwise), so a run whose lock was taken over acts no more.
 */
export const Fence = z.strictObject({ path: AbsPath, run: z.string().min(1).max(200), token: LockToken });
export type Fence = z.infer<typeof Fence>;

/**
 * discover: the ZooKeeper servers running on a host, found from /proc, for
 * adopting an ensemble zkfleet did not install (nothing is known yet but
 * the host's address).
 */
export const DiscoverArgs = z.strictObject({
  /** A zoo.cfg to report even when no server runs with it. */
  config: AbsPath.optional(),
});
/** Debian's zookeeperd keeps its scripts here, the jar in /usr/share/java and the config behind /etc/zookeeper/conf. */
export const DEBIAN_ZOOKEEPER_HOME = "/usr/share/zookeeper";

/**
 * The zoo.cfg in a config_dir: the file the controller writes, stops and
 * starts by, and the agent starts a server with. The one place that names it.
 */
export const zooCfgPath = (configDir: string): string => posix.join(configDir, "zoo.cfg");

const DiscoveredServer = z.strictObject({
  pid: z.number().int().positive(),
  argv: z.array(z.string()),
  cwd: z.string().nullable(),
  started_at_ms: z.number().nullable(),
  /** The config file it was started with, symlinks resolved. */
  config: z.string().nullable(),
  /** The release it runs from: the directory holding bin/zkServer.sh, when one is found. */
  home: z.string().nullable(),
  /** The config as the process was given it (absolute, symlinks kept): Debian's /etc/zookeeper/conf is an alternatives link. */
  config_given: z.string().nullable().optional(),
  /** Debian's zookeeperd layout: the server runs from /usr/share/java's jar with /usr/share/zookeeper's scripts. */
  layout: z.literal("debian").nullable().optional(),
  /** The systemd service whose cgroup holds it (/proc/PID/cgroup), null outside any. */
  unit: z.string().nullable().optional(),
  /** Who it runs as (its real uid's name, or the number when /etc/passwd has none). */
  user: z.string().nullable().optional(),
});
export const DiscoverData = z.strictObject({
  hostname: z.string(),
  servers: z.array(DiscoveredServer),
  /** Every config named by a server (and args.config), read. */
  configs: z.record(z.string(), FileRead),
});

/**
 * One server as `reconfig -add` takes it (3.5+):
 * server.<id>=<host>:<quorum port>:<election port>[:participant|:observer][;[<client address>:]<client port>].
 * Strict on purpose: the spec is written into a zkCli command line, so no
 * spaces, commas (zkCli's list separator) or shell metacharacters get through.
 */
export const RECONFIG_SERVER_SPEC =
  /^server\.([1-9][0-9]{0,17})=(?:[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]):([1-9][0-9]{0,4}):([1-9][0-9]{0,4})(?::(?:participant|observer))?(?:;(?:(?:[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]):)?[1-9][0-9]{0,4})?$/;

const ReconfigServerSpec = z
  .string()
  .max(300)
  .regex(RECONFIG_SERVER_SPEC, "must be a server spec like server.4=zk4:2888:3888:participant;0.0.0.0:2181");

/** The id a spec adds: server.<id>=... */
export function reconfigSpecId(spec: string): number | undefined {
  const id = RECONFIG_SERVER_SPEC.exec(spec)?.[1];
  return id === undefined ? undefined : Number(id);
}

/**
 * A digest credential as zkCli's `addauth digest user:password` takes it: one
 * token of printable characters. Whitespace would split it and a quote would
 * be taken as quoting. Messages never echo the value.
 */
export const DigestAuth = z.strictObject({
  user: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be a plain user name such as super"),
  password: z
    .string()
    .min(1, "must not be empty")
    .max(1024, "must be at most 1024 characters")
    .refine((p) => /^[!#-&(-~]+$/.test(p), "may contain only printable ASCII characters other than spaces and quotes"),
});
export type DigestAuth = z.infer<typeof DigestAuth>;

/**
 * reconfig: change an ensemble's membership through one of its servers with
 * ZooKeeper's dynamic reconfiguration (3.5.3+, reconfigEnabled=true), by the
 * release's own zkCli.sh. Since 3.5.3 only the super user (or a client with
 * rights on /zookeeper/config) may reconfig, hence `auth`. The configuration
 * is read first: what is already in place is not sent again, and the change
 * is made conditional on the version read (or on from_version).
 */
export const ReconfigArgs = z
  .strictObject({
    install_dir: AbsPath,
    preinstalled: Preinstalled,
    /** The server to talk to, host:port; usually this host's own client address. */
    server: z
      .string()
      .regex(/^(?:[A-Za-z0-9][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\]):[1-9][0-9]{0,4}$/, "must be host:port such as 10.0.0.4:2181"),
    add: z.array(ReconfigServerSpec).default([]),
    remove: z.array(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)).default([]),
    /** Commit only if the configuration is still this version (hex, as `conf` prints it): `reconfig -v`. */
    from_version: z
      .string()
      .regex(/^(?:0x)?[0-9a-fA-F]{1,16}$/, "must be a hexadecimal config version such as 100000000")
      .optional(),
    auth: DigestAuth.optional(),
    java_home: AbsPath.optional(),
    env: z.record(EnvName, z.string()).default({}),
    timeout_s: z.number().positive().max(600).default(60),
  })
  .superRefine((args, ctx) => {
    if (args.add.length === 0 && args.remove.length === 0) {
      ctx.addIssue({ code: "custom", path: ["add"], message: "add or remove must name at least one server" });
    }
    const added = args.add.map(reconfigSpecId);
    added.forEach((id, i) => {
      if (added.indexOf(id) !== i) ctx.addIssue({ code: "custom", path: ["add", i], message: `server.${id} is added twice` });
      if (id !== undefined && args.remove.includes(id)) {
        ctx.addIssue({ code: "custom", path: ["add", i], message: `server.${id} is both added and removed` });
      }
    });
    args.remove.forEach((id, i) => {
      if (args.remove.indexOf(id) !== i) ctx.addIssue({ code: "custom", path: ["remove", i], message: `server ${id} is removed twice` });
    });
  });
/**
 * The configuration the op leaves: the one it committed, or the current one
 * when the change was already in place (changed: false, nothing sent).
 */
export const ReconfigData = z.strictObject({
  /** As ZooKeeper prints it: hex, no 0x (what from_version takes). */
  version: z.string().nullable(),
  /** server.N=... lines in ZooKeeper's order. */
  servers: z.array(z.string()),
  /** What zkCli printed (its tail), the password masked. */
  output: z.string(),
});

export const FourLetterWord = z.enum(["ruok", "srvr", "mntr", "conf"]);
export type FourLetterWord = z.infer<typeof FourLetterWord>;

export const StatusArgs = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  words: z.array(FourLetterWord).min(1).default(["ruok", "srvr", "mntr", "conf"]),
  timeout_ms: z.number().int().positive().max(60_000).default(5000),
});
export const StatusData = z.strictObject({
  running: z.boolean(),
  address: z.string(),
  /** Per word: answered, refused by the whitelist, or no usable answer. */
  words: z.partialRecord(FourLetterWord, z.enum(["ok", "not_whitelisted", "no_answer"])),
  imok: z.boolean().optional(),
  serving: z.boolean().optional(),
  mode: z.string().optional(),
  zxid: Zxid.optional(),
  version: z.string().optional(),
  connections: z.number().int().optional(),
  outstanding: z.number().int().optional(),
  latency: z.strictObject({ min: z.number(), avg: z.number(), max: z.number() }).optional(),
  node_count: z.number().int().optional(),
  followers: z.number().int().optional(),
  synced_followers: z.number().int().optional(),
  mntr: z.record(z.string(), z.string()).optional(),
  conf: z.record(z.string(), z.string()).optional(),
  raw: z.partialRecord(FourLetterWord, z.string()),
});

/** One entry per operation: its arguments and its result payload. */
export const Ops = {
  facts: { args: FactsArgs, data: FactsData },
  write_file: { args: WriteFileArgs, data: WriteFileData },
  install_dist: { args: InstallDistArgs, data: InstallDistData },
  start: { args: StartArgs, data: StartData },
  stop: { args: StopArgs, data: StopData },
  clean_data: { args: CleanDataArgs, data: CleanDataData },
  status: { args: StatusArgs, data: StatusData },
  lock: { args: LockArgs, data: LockData },
  discover: { args: DiscoverArgs, data: DiscoverData },
  reconfig: { args: ReconfigArgs, data: ReconfigData },
  backup_source: { args: BackupSourceArgs, data: BackupSourceData },
  read_chunk: { args: ReadChunkArgs, data: ReadChunkData },
  restore_data: { args: RestoreDataArgs, data: RestoreDataData },
} as const;

export type OpName = keyof typeof Ops;

/** The operations that change a host: the ones a run holding the ensemble's lock sends fenced. */
export const ACTING_OPS: ReadonlySet<OpName> = new Set<OpName>(["write_file", "install_dist", "start", "stop", "clean_data", "reconfig", "restore_data"]);
export const OpName = z.enum(Object.keys(Ops) as [OpName, ...OpName[]]);
/** What a caller writes (defaults may be omitted). */
export type OpArgsInput<K extends OpName> = z.input<(typeof Ops)[K]["args"]>;
/** What the agent works with (defaults applied). */
export type OpArgs<K extends OpName> = z.output<(typeof Ops)[K]["args"]>;
export type OpData<K extends OpName> = z.output<(typeof Ops)[K]["data"]>;

// ---------------------------------------------------------------- messages

function requestFor<K extends OpName>(op: K) {
  return z.strictObject({
    op: z.literal(op),
    args: Ops[op].args as (typeof Ops)[K]["args"],
    /** Run only while this run holds the lock named (see Fence). */
    fence: Fence.optional(),
  });
}

export const Request = z.discriminatedUnion("op", [
  requestFor("facts"),
  requestFor("write_file"),
  requestFor("install_dist"),
  requestFor("start"),
  requestFor("stop"),
  requestFor("clean_data"),
  requestFor("status"),
  requestFor("lock"),
  requestFor("discover"),
  requestFor("reconfig"),
  requestFor("backup_source"),
  requestFor("read_chunk"),
  requestFor("restore_data"),
]);
/** A request as the controller writes it. */
export type AgentRequest = z.input<typeof Request>;
/** A request after validation, defaults applied. */
export type ParsedRequest = z.output<typeof Request>;

export const Hello = z.strictObject({
  type: z.literal("hello"),
  protocol: z.number().int(),
  agent_version: z.string(),
  node: z.string(),
  pid: z.number().int().positive(),
});
export type Hello = z.infer<typeof Hello>;

export const ErrorCode = z.enum([
  /** The request did not validate (bad JSON, unknown op, bad argument). */
  "invalid_request",
  /** A file or directory the operation needs is missing. */
  "not_found",
  /** Proceeding would be unsafe (unrelated process, ZooKeeper running, ...). */
  "refused",
  /** A command the operation ran failed. */
  "command_failed",
  /** A file-system or network call failed. */
  "io",
  "timeout",
  /** A bug in the agent. */
  "internal",
  /** Not run: the request's fence names a lock this run no longer holds (taken over). */
  "fenced",
  /** Not run: an earlier request of the same batch failed, and later ones may depend on it. */
  "skipped",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const Success = z.strictObject({
  changed: z.boolean(),
  diff: z.string().optional(),
  message: z.string(),
  data: z.unknown().optional(),
});
export const Failure = z.strictObject({
  error: z.strictObject({ code: ErrorCode, message: z.string(), hint: z.string().optional() }),
});
export type Success = z.infer<typeof Success>;
export type Failure = z.infer<typeof Failure>;

export const Response = z.strictObject({
  type: z.literal("response"),
  /** Position of the request in the batch (0-based). */
  index: z.number().int().nonnegative(),
  /** null when the request line was too broken to name its operation. */
  op: OpName.nullable(),
  result: z.union([Success, Failure]),
});
export type AgentResponse = z.infer<typeof Response>;

/** A successful result whose payload has been checked against its operation's schema. */
export interface OpResult<K extends OpName> {
  changed: boolean;
  diff?: string;
  message: string;
  data: OpData<K>;
}

export function isFailure(result: Success | Failure): result is Failure {
  return "error" in result;
}
