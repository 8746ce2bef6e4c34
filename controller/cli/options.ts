// The options commands share, and how every command's help ends (its
// examples in one layout). Parsing only: what an option means is the use
// case's business.
import { type Command, Option } from "commander";
import { ZkfleetError } from "../../common/errors.js";
import { CANARY_VIA, type CanaryViaOption } from "../canary/route.js";
import type { ClusterOptions } from "../data/cluster.js";
import { defaultJournalDir } from "../execute/journal.js";

/** Text for commander's addHelpText("after", …): an "Examples:" block, one command a line. */
export const examples = (...lines: string[]): string => ["", "Examples:", ...lines.map((l) => "  " + l)].join("\n");

export function intArg(name: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) {
      throw new ZkfleetError("usage", `${name} must be a whole number, got "${value}"`, { where: name });
    }
    return Number(value);
  };
}

export interface ClusterFlags extends AuthFlags {
  zk?: string;
  inventory?: string;
  sessionTimeout: number;
  acceptNewHostKeys?: boolean;
}

export interface AuthFlags {
  auth?: string[];
  authFile?: string;
}

/** Sessions a walk without watches reads through, each starting on another server (export.ts spreadReader). */
export const READ_SESSIONS = 3;

/** Readers replace a failed client process this often (the package crashes on some races: zk/worker.ts getAcl). */
export const READ_RETRIES = 3;

export const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * For an option that takes one value (an inventory, above all): given twice,
 * commander would keep the last and drop the first without a word.
 */
export function once(flag: string) {
  return (value: string, previous: string | undefined): string => {
    if (previous === undefined) return value;
    throw new ZkfleetError("usage", `${flag} is given twice (${previous}, then ${value}); this command takes one`, {
      where: flag,
      hint: `run the command once per ${flag === "-i" ? "inventory (check and status take several -i)" : "value"}`,
    });
  };
}

export function seconds(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) === 0) throw new ZkfleetError("usage", `${name} takes a whole number of seconds, got "${value}"`, { where: name });
    return Number(value);
  };
}


/** The credentials a command was given (--auth, --auth-file, ZKFLEET_AUTH), checked before anything is contacted. */
export async function credentials(o: AuthFlags, env: NodeJS.ProcessEnv): Promise<ClusterOptions["auth"]> {
  const { credentialsFrom } = await import("../data/auth.js");
  return credentialsFrom(o, env);
}

export async function clusterOptions(o: ClusterFlags, env: NodeJS.ProcessEnv): Promise<ClusterOptions> {
  return { sessionTimeoutMs: o.sessionTimeout * 1000, auth: await credentials(o, env), fleet: o.acceptNewHostKeys ? { acceptNewHostKeys: true } : {} };
}

/** Credentials for every command that reads or writes a tree: --auth shows in `ps` for the whole run, the file and the variable do not. */
export function authOptions(c: Command, whose = "the session"): Command {
  return c
    .option("--auth <scheme:credential>", `authenticate ${whose}, e.g. digest:user:password (repeatable; visible in ps: prefer --auth-file or $ZKFLEET_AUTH)`, collect)
    .option("--auth-file <file>", `authenticate ${whose} with this file's credentials, one scheme:credential per line ($ZKFLEET_AUTH may hold them too)`);
}


/** The target's jute.maxbuffer, when the operator knows better than what can be read. */
export function juteMaxBufferOption(c: Command): Command {
  return c.option("--jute-maxbuffer <bytes>", "the target servers' jute.maxbuffer (default: read from their command lines through -i, else ZooKeeper's 1048575)",
    (value: string) => {
      if (!/^\d+$/.test(value) || Number(value) < 1024 || Number(value) > 2 ** 31 - 1) {
        throw new ZkfleetError("usage", `--jute-maxbuffer takes a number of bytes from 1024 to ${2 ** 31 - 1}, got "${value}"`, { where: "--jute-maxbuffer" });
      }
      return Number(value);
    });
}

/** The options apply, runs resume, runs rollback and restore share (as commander gives them). */
export interface ApplyFlags {
  inventory: string;
  check?: boolean;
  diff?: boolean;
  limit?: string[];
  yes?: boolean;
  json?: boolean;
  parallel?: number;
  acceptNewHostKeys?: boolean;
  journal: string;
  gateTimeout: number;
  settleTimeout: number;
  breakLock?: boolean;
  newEnsemble?: boolean;
  window?: string;
  deadline?: string;
  /** apply --stage: only push an upgrade's release (not on resume or rollback). */
  stage?: boolean;
  /** commander's --no-canary: false when given. */
  canary?: boolean;
  canaryVia: CanaryViaOption;
}

/** The options of every command that acts on an ensemble (apply, runs resume, runs rollback, restore). */
export function actingOptions(cmd: Command, env: NodeJS.ProcessEnv): Command {
  return cmd
    .option("--yes", "do not ask before changing anything")
    .option("--json", "machine-readable output")
    .option("--parallel <n>", "hosts worked on at once", intArg("--parallel"), 16)
    .option("--accept-new-host-keys", "trust and record keys of hosts not yet in known_hosts")
    .option("--journal <dir>", "where run journals are written", defaultJournalDir(env))
    .option("--gate-timeout <seconds>", "how long a gate waits for a healthy ensemble before it refuses to stop a server", intArg("--gate-timeout"), 30)
    .option("--settle-timeout <seconds>", "how long a check waits for a restarted server to serve and catch up", intArg("--settle-timeout"), 120)
    .option("--no-canary", "do not run canary clients while servers restart")
    .addOption(new Option("--canary-via <path>", "how the canary reaches the client ports: direct from here, through the SSH connections, " +
      "or auto (direct when every serving server answers from here within 1 s, else ssh)").choices(CANARY_VIA).default("auto"))
    .option("--window <HH:MM-HH:MM>", "the maintenance window: start nothing that cannot finish in it, stop at a safe point before it closes")
    .option("--deadline <time>", "like --window, with only an end (04:00, or an ISO time)");
}
