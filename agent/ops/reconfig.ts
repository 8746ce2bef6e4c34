// reconfig: change membership through ZooKeeper's dynamic reconfiguration
// (3.5.3+) with the release's own zkCli.sh, so the client speaking to the
// ensemble is always the version it runs. The credential goes to zkCli on
// stdin, never in argv, where every user of the host could read it in ps.
//
// The configuration is read first, for two reasons found in the lab.
// ZooKeeper commits a reconfig that changes nothing (removing an absent id,
// re-adding an identical line) as a new config version, so a blind retry
// would keep bumping it, and a conditional one (-v) that already committed
// would be refused as "changed meanwhile". And a reconfig whose answer was
// lost (a timeout, a dropped session) may or may not have committed. Reading
// first makes the op idempotent: what is already in place is not sent again,
// and the change is sent conditional on the version read.

import { join } from "node:path";
import { exists } from "../fs-util.js";
import { done, failed, type Failed, type OpOutcome } from "../outcome.js";
import type { OpArgs } from "../../common/protocol.js";
import { currentHome } from "../releases.js";
import { runCommand, tail, type CommandResult } from "../run-command.js";

type ReconfigArgs = OpArgs<"reconfig">;
type Change = Pick<ReconfigArgs, "add" | "remove">;

const MASK = "*****";

/** The text with every occurrence of the secret masked; the secret is not a pattern. */
export function scrub(text: string, secret: string | undefined): string {
  return secret === undefined || secret === "" ? text : text.split(secret).join(MASK);
}

/** A config version as ZooKeeper prints it: hex, lower case, no 0x, no leading zeros. */
export function normalVersion(version: string): string {
  return BigInt(`0x${version.replace(/^0x/i, "")}`).toString(16);
}

/** zkCli's `reconfig` line; `-v` takes hex without 0x (Long.parseLong(v, 16)). */
export function reconfigLine(change: Change, fromVersion: string | undefined): string {
  const words = ["reconfig"];
  if (fromVersion !== undefined) words.push("-v", normalVersion(fromVersion));
  if (change.add.length > 0) words.push("-add", change.add.join(","));
  if (change.remove.length > 0) words.push("-remove", change.remove.join(","));
  return words.join(" ");
}

/**
 * What zkCli reads on stdin. addauth comes first: the client sends its auth
 * packet ahead of any later request on the session, so the reconfig is
 * checked against it. `quit` ends the session at once instead of at EOF.
 */
export function reconfigInput(change: Change, fromVersion: string | undefined, auth: ReconfigArgs["auth"]): string {
  const lines = [];
  if (auth) lines.push(`addauth digest ${auth.user}:${auth.password}`);
  lines.push(reconfigLine(change, fromVersion), "quit");
  return `${lines.join("\n")}\n`;
}

/** Reading /zookeeper/config needs no credential: it is world-readable. */
export const CONFIG_INPUT = "config\nquit\n";

/** The command run; the password is never part of it, whatever the request holds. */
export function zkCliArgv(home: string, server: string): string[] {
  return [join(home, "bin", "zkCli.sh"), "-server", server];
}

export interface EnsembleConfig {
  version: string;
  servers: string[];
}

/**
 * The server lines and version=<hex> printed at the start of a line. zkCli's
 * log lines start with a timestamp, so their "zookeeper.version=..." never
 * matches; the first version line ends the block.
 */
function configBlock(lines: readonly string[]): EnsembleConfig | undefined {
  const servers: string[] = [];
  for (const line of lines) {
    if (/^server\.\d+=\S+$/.test(line)) servers.push(line);
    else if (/^version=[0-9a-fA-F]+$/.test(line)) return { version: normalVersion(line.slice("version=".length)), servers };
  }
  return undefined;
}

/** The configuration zkCli's `config` printed, when it printed one. */
export function parseConfigOutput(text: string): EnsembleConfig | undefined {
  const config = configBlock(text.split(/\r?\n/).map((line) => line.trimEnd()));
  return config !== undefined && config.servers.length > 0 ? config : undefined;
}

export type ReconfigVerdict =
  | ({ kind: "committed" } & EnsembleConfig)
  | { kind: "not_authorized" | "no_quorum" | "bad_version" | "disabled" | "in_progress" | "bad_arguments" | "unreachable" | "unknown" };

/**
 * How a zkCli reconfig ended. Success prints "Committed new configuration:",
 * the server lines and version=<hex> on stdout; a failure prints the
 * KeeperException as zkCli's CliWrapperException words it on stderr.
 */
export function parseReconfigOutput(text: string): ReconfigVerdict {
  const lines = text.split(/\r?\n/).map((line) => line.trimEnd());
  const start = lines.indexOf("Committed new configuration:");
  const committed = start < 0 ? undefined : configBlock(lines.slice(start + 1));
  if (committed !== undefined) return { kind: "committed", ...committed };
  if (/Insufficient permission|NoAuth\b/.test(text)) return { kind: "not_authorized" };
  // 3.9.3 says "last committed config"; older releases spelt it "commmitted", so only the start is matched.
  if (/No quorum of new config is connected|NewConfigNoQuorum/.test(text)) return { kind: "no_quorum" };
  if (/version No is not valid|BadVersion/.test(text)) return { kind: "bad_version" };
  if (/Reconfig is disabled|ReconfigDisabled/i.test(text)) return { kind: "disabled" };
  if (/Another reconfiguration is in progress|ReconfigInProgress/.test(text)) return { kind: "in_progress" };
  if (/Arguments are not valid|BadArguments/.test(text)) return { kind: "bad_arguments" };
  if (/ConnectionLoss|SessionExpired|Connection refused|UnknownHostException/.test(text)) return { kind: "unreachable" };
  return { kind: "unknown" };
}

/** ZooKeeper prints every server line with its role; a spec without one means a participant. */
function withRole(spec: string): string {
  return spec.replace(/^(server\.\d+=[^;]*?:\d+:\d+)(;|$)/, "$1:participant$2");
}

/**
 * The id of a line ZooKeeper printed. Deliberately looser than the spec
 * regex requests are held to: a present server read as absent would be
 * skipped as "already removed".
 */
const serverId = (line: string) => Number(/^server\.(\d+)=/.exec(line)?.[1]);

/** What of the change is not in place yet: lines not present as written, ids still present. */
export function pendingChange(current: EnsembleConfig, change: Change): Change {
  const present = new Set(current.servers.map(withRole));
  const ids = new Set(current.servers.map(serverId));
  return {
    add: change.add.filter((spec) => !present.has(withRole(spec))),
    remove: change.remove.filter((id) => ids.has(id)),
  };
}

export function describeChange(change: Change): string {
  const parts = [];
  if (change.add.length > 0) parts.push(`add ${change.add.join(", ")}`);
  if (change.remove.length > 0) parts.push(`remove server ${change.remove.join(", ")}`);
  return parts.join(" and ");
}

/** zkCli's own lines and its warnings, without the INFO log of the client starting and stopping. */
export function cliOutput(text: string): string {
  const kept = text.split(/\r?\n/).filter((line) => line.trim() !== "" && !/^\d{4}-\d\d-\d\d [\d:,]+ \[myid:[^\]]*\] - INFO /.test(line));
  return tail(kept.join("\n"), 4000);
}

/** The lines that say why, not the client's start-up chatter. */
function reason(output: string): string {
  const lines = output.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const telling = lines.filter((line) =>
    /Insufficient|No quorum|version No|[Rr]econfig|KeeperErrorCode|Arguments are|Command not found|[A-Za-z]+Exception:|refused/.test(line)
    && !/^\d{4}-\d\d-\d\d .* INFO /.test(line));
  return tail((telling.length > 0 ? [...new Set(telling)] : lines.slice(-3)).join("; "), 600);
}

const RETRY_IS_SAFE =
  "Retrying is safe: the configuration is read first, and a change already in place is not sent again.";

function howItEnded(result: CommandResult, timeoutS: number): string {
  if (result.timedOut) return `timed out after ${timeoutS} s`;
  if (result.spawnError) return `could not be started: ${result.spawnError}`;
  return `exited with ${result.code ?? result.signal}`;
}

function reconfigFailure(args: ReconfigArgs, change: Change, version: string, verdict: ReconfigVerdict, result: CommandResult, output: string): Failed {
  const what = `${args.server} refused to ${describeChange(change)}`;
  const why = reason(output);
  switch (verdict.kind) {
    case "not_authorized":
      return failed("refused", `${what}: not authorized (${why})`, args.auth
        ? "The super password sent does not match the servers' superDigest: check zookeeper.super_password_file, and that every server was restarted since it changed (apply rolls the digest out)."
        : "Only the super user may reconfig (3.5.3+): set zookeeper.super_password_file in the inventory, apply it, and pass its auth.");
    case "no_quorum":
      return failed("refused", `${what}: no quorum of the new configuration is connected and synced with the leader (${why})`,
        "Start the joining server first (its dynamic file naming the current ensemble and itself) and wait until the leader counts it synced, then retry.");
    case "bad_version":
      return failed("refused", `${what}: the configuration changed meanwhile (it is no longer version ${version})`,
        "Another change committed since the configuration was read: read it again (conf) and plan from what it is now.");
    case "disabled":
      return failed("refused", `${what}: reconfig is disabled on this ensemble (${why})`,
        "Set zookeeper.reconfig: true (reconfigEnabled=true) and roll it out with apply first.");
    case "in_progress":
      return failed("refused", `${what}: another reconfiguration is in progress`, `Wait until it commits, then retry. ${RETRY_IS_SAFE}`);
    case "bad_arguments":
      return failed("refused", `${what}: ${why}`,
        "ZooKeeper found the change invalid (an address already used by another server, a line it cannot parse): compare the specs with conf.");
    case "unreachable":
      return failed("command_failed", `could not ${describeChange(change)} through ${args.server}: the connection was lost (${why}); the change may or may not have committed`,
        `Check that ZooKeeper serves on ${args.server}. ${RETRY_IS_SAFE}`);
    default:
      return failed(result.timedOut ? "timeout" : "command_failed",
        `zkCli.sh -server ${args.server} (${describeChange(change)}) ${howItEnded(result, args.timeout_s)} without a committed configuration: ${why}`,
        `${result.timedOut ? "The ensemble may have lost its quorum. " : ""}The change may or may not have committed. ${RETRY_IS_SAFE}`);
  }
}

function readFailure(args: ReconfigArgs, result: CommandResult, output: string): Failed {
  const why = reason(output);
  const how = howItEnded(result, args.timeout_s);
  const hint = `Check that ZooKeeper serves on ${args.server} and that the ensemble has quorum; nothing was changed.`;
  return failed(result.timedOut ? "timeout" : "command_failed", `cannot read the configuration from ${args.server}: zkCli.sh ${how}: ${why}`, hint);
}

/**
 * Everything the op says, masked: zkCli may echo its input (with JLine it
 * does), and a short password may occur in any text. The parsed servers and
 * version come from the raw output and are left alone.
 */
export function masked(outcome: OpOutcome<"reconfig">, secret: string | undefined): OpOutcome<"reconfig"> {
  if (!outcome.ok) {
    const { code, message, hint } = outcome.error;
    return failed(code, scrub(message, secret), hint === undefined ? undefined : scrub(hint, secret));
  }
  return done(outcome.changed, scrub(outcome.message, secret), { ...outcome.data, output: scrub(outcome.data.output, secret) });
}

export async function reconfigOp(args: ReconfigArgs): Promise<OpOutcome<"reconfig">> {
  return masked(await reconfigUnmasked(args), args.auth?.password);
}

async function reconfigUnmasked(args: ReconfigArgs): Promise<OpOutcome<"reconfig">> {
  const home = await currentHome(args.install_dir, args.preinstalled);
  const argv = zkCliArgv(home, args.server);
  const script = argv[0]!;
  if (!(await exists(script))) return failed("not_found", `${script} does not exist`, "Install the release (install_dist with set_current) first.");
  const env: NodeJS.ProcessEnv = { ...process.env, ...args.env };
  if (args.java_home) env.JAVA_HOME = args.java_home;
  const deadline = Date.now() + args.timeout_s * 1000;
  const zkCli = async (input: string) => {
    const result = await runCommand(argv, { env, input, timeoutMs: Math.max(1000, deadline - Date.now()), killGroupOnTimeout: true });
    return { result, text: `${result.stdout}\n${result.stderr}` };
  };

  const read = await zkCli(CONFIG_INPUT);
  const current = parseConfigOutput(read.text);
  if (current === undefined) return readFailure(args, read.result, read.text);
  const pending = pendingChange(current, args);
  if (pending.add.length === 0 && pending.remove.length === 0) {
    return done(false, `already in place at configuration version ${current.version}: ${describeChange(args)}`, {
      version: current.version,
      servers: current.servers,
      output: cliOutput(read.text),
    });
  }
  if (args.from_version !== undefined && normalVersion(args.from_version) !== current.version) {
    return failed("refused", `${args.server} has configuration version ${current.version}, not ${normalVersion(args.from_version)}: the configuration changed meanwhile`,
      "Another change committed since from_version was read: read the configuration again (conf) and plan from what it is now.");
  }
  const input = reconfigInput(pending, current.version, args.auth);
  const sent = await zkCli(input);
  const verdict = parseReconfigOutput(sent.text);
  if (verdict.kind !== "committed") return reconfigFailure(args, pending, current.version, verdict, sent.result, sent.text);
  return done(true, `${describeChange(pending)}: committed configuration version ${verdict.version} (was ${current.version})`, {
    version: verdict.version,
    servers: verdict.servers,
    output: cliOutput(sent.text),
  });
}
