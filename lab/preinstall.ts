// `lab up --preinstall VERSION`: a ZooKeeper ensemble installed by hand, the
// way the manual install from the Apache tarball does it, so that taking over an ensemble zkfleet
// did not build can be rehearsed. Every step is what a sysadmin would type,
// sent through the real OpenSSH client and the lab's ssh_config: the hosts
// see the same sessions, the same PATH and the same files a person would
// leave, and nothing of zkfleet's (no /opt/zkfleet, no marked block in
// /etc/hosts, no /etc/zookeeper).
import { spawn } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { ZkfleetError } from "../common/errors.js";
import { type WordReply, parseSrvr, sendWord } from "../common/four-letter.js";
import { KNOWN_ZOOKEEPER_VERSIONS, type ZookeeperVersion, versionFacts } from "../common/versions.js";
import { tarballName } from "../dists/cache.js";
import type { LabHost } from "./plan.js";
import { type LabPreinstalled, type LabState, labError } from "./state.js";

export const PREINSTALL_HOME = "/opt/zookeeper";
export const PREINSTALL_CONFIG = `${PREINSTALL_HOME}/conf/zoo.cfg`;
const CLIENT_PORT = 2181;
const SSH = "/usr/bin/ssh";

export interface PreinstallPlan {
  version: ZookeeperVersion;
  tarball: string;
}

/** Checks `--preinstall` before anything is booted: a known version whose tarball is in the cache. */
export function validatePreinstall(version: string, dists: string): PreinstallPlan {
  const known = KNOWN_ZOOKEEPER_VERSIONS.find((v) => v === version);
  if (!known) {
    throw new ZkfleetError("usage", `--preinstall ${version}: zkfleet knows no ZooKeeper ${version}`, {
      where: "--preinstall",
      hint: `choose one of ${KNOWN_ZOOKEEPER_VERSIONS.join(", ")}`,
    });
  }
  const tarball = join(dists, tarballName(known));
  if (!existsSync(tarball)) {
    throw new ZkfleetError("usage", `--preinstall ${known}: the distribution ${tarball} does not exist`, {
      where: tarball,
      hint: `build it first with \`zkfleet lab dists --version ${known}\` (or point $ZKFLEET_ARTIFACTS at a cache that has it)`,
    });
  }
  return { version: known, tarball };
}

/**
 * zoo.cfg as a person writes it after the manual install: commented, in the
 * order one thinks of the settings, the peers by host name on ports 4000:5000.
 */
export function handWrittenZooCfg(hosts: readonly LabHost[], host: LabHost, version: ZookeeperVersion): string {
  const facts = versionFacts(version);
  const lines = [
    "# ZooKeeper ensemble, set up by hand (see the runbook).",
    "# The basic time unit in milliseconds: heartbeats, session timeouts.",
    "tickTime=2000",
    "# Ticks a follower may take to connect and sync to the leader at start-up.",
    "initLimit=10",
    "# Ticks a follower may lag behind the leader before it is dropped.",
    "syncLimit=5",
    "# Snapshots, and the myid file of this server.",
    `dataDir=${PREINSTALL_HOME}/data`,
    "# Transaction logs.",
    `dataLogDir=${PREINSTALL_HOME}/logs`,
    "# The port clients connect to.",
    `clientPort=${CLIENT_PORT}`,
    "# Listen on this host's own address only: the other servers' ports are on the same machine.",
    `clientPortAddress=${host.address}`,
  ];
  if (facts.supports4lwWhitelist) {
    lines.push("# Monitoring asks srvr, mntr, ruok...: allow the four-letter words.", "4lw.commands.whitelist=*");
  }
  if (facts.hasAdminServer) {
    lines.push("# No AdminServer: it would want port 8080 on every address.", "admin.enableServer=false");
  }
  lines.push(
    "# server.A=B:C:D  A: the myid in dataDir/myid; B: the host (see /etc/hosts);",
    "# C: the port followers connect to the leader on; D: the leader election port.",
    ...hosts.map((h) => `server.${h.myid}=${h.name}:4000:5000`),
  );
  return lines.join("\n") + "\n";
}

/** The lines appended to /etc/hosts: no marker, as a person types them. */
export function handWrittenHostsLines(hosts: readonly LabHost[]): string {
  return hosts.map((h) => `${h.address} ${h.name}\n`).join("");
}

/** The command that adopts the preinstalled ensemble into an inventory. */
export function adoptCommand(state: LabState): string {
  return ["zkfleet adopt --ensemble lab", `--identity-file ${state.identityFile}`, `--known-hosts ${state.knownHosts}`,
    `-o ${state.inventory}`, ...state.hosts.map((h) => h.address)].join(" ");
}

export function labSshArgs(state: LabState, host: string): string[] {
  return ["-F", join(state.dir, "ssh_config"), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", host];
}

interface SessionResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** One `ssh HOST 'script'` session, optionally with a file on its stdin. */
function sshSession(state: LabState, host: LabHost, script: string, timeoutMs: number, stdinFile?: string): Promise<SessionResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(SSH, [...labSshArgs(state, host.name), script], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // ssh may exit (a failed tar) before it has read the whole file: that is reported by the exit code.
    child.stdin.on("error", () => {});
    if (stdinFile) {
      createReadStream(stdinFile).on("error", (err) => {
        child.kill("SIGKILL");
        reject(err);
      }).pipe(child.stdin);
    } else {
      child.stdin.end();
    }
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

async function step(state: LabState, host: LabHost, what: string, script: string, timeoutMs: number, stdinFile?: string): Promise<string> {
  const r = await sshSession(state, host, script, timeoutMs, stdinFile);
  if (r.code === 0 && !r.timedOut) return r.stdout;
  const said = `${r.stdout}${r.stderr}`.trim().split("\n").slice(-8).join("\n");
  throw labError(
    `preinstall on ${host.name} (${host.address}): ${what} ${r.timedOut ? `did not finish within ${timeoutMs / 1000} s` : `failed (exit ${r.code})`}` +
      (said ? `:\n${said}` : ""),
    host.name, `try it by hand: ssh -F ${join(state.dir, "ssh_config")} ${host.name}`);
}

// Quoted heredocs: the shell expands nothing inside, so the text lands as written.
function configureScript(hosts: readonly LabHost[], host: LabHost, version: ZookeeperVersion): string {
  return [
    "set -e",
    `mkdir -p ${PREINSTALL_HOME}/data ${PREINSTALL_HOME}/logs`,
    `cat > ${PREINSTALL_CONFIG} <<'EOF'`,
    handWrittenZooCfg(hosts, host, version) + "EOF",
    `echo ${host.myid} > ${PREINSTALL_HOME}/data/myid`,
    "cat >> /etc/hosts <<'EOF'",
    handWrittenHostsLines(hosts) + "EOF",
  ].join("\n");
}

function describeReply(reply: WordReply): string {
  if (reply.kind === "refused") return "nothing listens (not started, or it died)";
  if (reply.kind === "no_answer") return `no answer (${reply.detail})`;
  return `mode ${parseSrvr(reply.text).mode ?? "none: not serving (no quorum yet)"}`;
}

/** Waits until every server serves: one leader and the rest following (standalone for one host). */
async function waitForEnsemble(state: LabState, timeoutMs: number): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const replies = await Promise.all(state.hosts.map((h) => sendWord(h.address, CLIENT_PORT, "srvr", 1000)));
    const modes = new Map(state.hosts.map((h, i) => {
      const r = replies[i]!;
      return [h.name, r.kind === "answer" ? parseSrvr(r.text).mode ?? "" : ""];
    }));
    const values = [...modes.values()];
    const formed = state.hosts.length === 1
      ? values[0] === "standalone"
      : values.filter((m) => m === "leader").length === 1 && values.filter((m) => m === "follower").length === values.length - 1;
    if (formed) return modes;
    if (Date.now() >= deadline) {
      const behind = state.hosts.filter((h) => !["leader", "follower", "standalone"].includes(modes.get(h.name) ?? ""));
      const report = state.hosts.map((h, i) => `${h.name} ${h.address}:${CLIENT_PORT}: ${describeReply(replies[i]!)}`).join("; ");
      throw labError(
        `the preinstalled ZooKeeper did not form an ensemble within ${timeoutMs / 1000} s ` +
          `(${behind.length > 0 ? `waiting for ${behind.map((h) => h.name).join(", ")}` : "not one leader"}): ${report}`,
        (behind.length > 0 ? behind : state.hosts).map((h) => h.name).join(", "),
        `read the server log: ssh -F ${join(state.dir, "ssh_config")} ${(behind[0] ?? state.hosts[0]!).name} 'tail -n 40 ${PREINSTALL_HOME}/logs/*.out'`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Runs one job per host and waits for all of them, then throws the first
 * failure: no ssh session of ours is left running when the caller tears the
 * lab down.
 */
async function onEveryHost(hosts: readonly LabHost[], job: (h: LabHost) => Promise<void>): Promise<void> {
  const results = await Promise.allSettled(hosts.map(job));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

export interface PreinstallOptions {
  plan: PreinstallPlan;
  onProgress: (line: string) => void;
  /** How long the servers may take to elect a leader once started. */
  formTimeoutMs?: number;
}

/** Installs, configures and starts ZooKeeper by hand on every booted host of the lab; waits for the ensemble. */
export async function preinstallEnsemble(state: LabState, opts: PreinstallOptions): Promise<LabPreinstalled> {
  const { version, tarball } = opts.plan;
  const progress = opts.onProgress;
  progress(`preinstall: ZooKeeper ${version} by hand into ${PREINSTALL_HOME} on ${state.hosts.length} hosts (no zkfleet)`);
  // Every host is configured before any server starts, so that no server starts without its peers' names in /etc/hosts.
  await onEveryHost(state.hosts, async (h) => {
    // zkfleet-dist.json records how zkfleet assembled the tarball from Debian packages; Apache's
    // tarball has no such file, and a host installed from it must not tell zkfleet what it runs.
    await step(state, h, `unpacking ${tarball}`,
      `mkdir -p ${PREINSTALL_HOME} && tar -xzf - -C ${PREINSTALL_HOME} --strip-components=1 --exclude='*/zkfleet-dist.json'`,
      120_000, tarball);
    await step(state, h, "writing zoo.cfg, myid and /etc/hosts", configureScript(state.hosts, h, version), 30_000);
    progress(`  ${h.name} unpacked and configured (myid ${h.myid})`);
  });
  await onEveryHost(state.hosts, async (h) => {
    const out = await step(state, h, "bin/zkServer.sh start", `cd ${PREINSTALL_HOME} && bin/zkServer.sh start`, 30_000);
    if (!/STARTED/.test(out)) {
      throw labError(`preinstall on ${h.name}: bin/zkServer.sh start did not say STARTED: ${out.trim()}`, h.name,
        `read ${PREINSTALL_HOME}/logs/*.out on ${h.name}`);
    }
  });
  const modes = await waitForEnsemble(state, opts.formTimeoutMs ?? 60_000);
  const byMode = (m: string) => state.hosts.filter((h) => modes.get(h.name) === m).map((h) => h.name).join(", ");
  progress(state.hosts.length === 1
    ? `  ZooKeeper ${version} serves standalone on ${state.hosts[0]!.name}`
    : `  ZooKeeper ${version} serves: ${byMode("leader")} leads, ${byMode("follower")} follow`);
  return { version, home: PREINSTALL_HOME, config: PREINSTALL_CONFIG };
}
