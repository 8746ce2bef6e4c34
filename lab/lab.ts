// The lab: N simulated hosts on one machine, each with its own loopback
// address, its own real sshd on port 22, its own hostname, pid namespace and
// filesystem view (overlay on /etc, /var/lib, /var/log; private /opt, /root,
// /run, /tmp). A private /root matters: the machine's own shell start-up
// files would otherwise run in every SSH command of every host. Nothing is mounted in the machine's own namespace, so tearing a host
// down is killing its namespace's init and nothing else.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { stringify as toYaml } from "yaml";
import { ZkfleetError } from "../common/errors.js";
import {
  type ProcRef,
  childrenOf,
  cmdline,
  isSameProcess,
  processState,
  processesInNamespaceOf,
  procRef,
  signal,
  waitUntil,
} from "./proc.js";

const run = promisify(execFile);

export const DEFAULT_LAB_DIR = "/var/tmp/zkfleet-lab";
export const DEFAULT_SUBNET = "127.77.0";
export const MAX_HOSTS = 60;
const FIRST_HOST_OCTET = 11;
const SSHD = "/usr/sbin/sshd";

export interface LabHost {
  name: string;
  address: string;
  myid: number;
  /** Per-host state directory (upper layers, keys, console log). */
  dir: string;
  /** The `unshare` process holding the host's namespaces; absent while powered off. */
  init?: ProcRef;
}

export interface LabState {
  format: 1;
  dir: string;
  subnet: string;
  createdAt: string;
  hosts: LabHost[];
  inventory: string;
  identityFile: string;
  knownHosts: string;
}

export interface LabUpOptions {
  hosts: number;
  dir?: string;
  subnet?: string;
  /** ZooKeeper version written into the lab inventory. */
  version?: string;
  /** Artifact cache the inventory points at. */
  dists?: string;
  onProgress?: (line: string) => void;
}

// The boot script is a constant: every variable part arrives as an
// environment variable, so no path is ever spliced into shell text.
const BOOT_SCRIPT = `set -eu
mount -t overlay zkfleet-etc -o "lowerdir=/etc,upperdir=$H/etc.upper,workdir=$H/etc.work" /etc
mount -t overlay zkfleet-varlib -o "lowerdir=/var/lib,upperdir=$H/varlib.upper,workdir=$H/varlib.work" /var/lib
mount -t overlay zkfleet-varlog -o "lowerdir=/var/log,upperdir=$H/varlog.upper,workdir=$H/varlog.work" /var/log
mkdir -p /var/lib/zookeeper /var/log/zookeeper
mount --bind "$H/disk/var-lib-zookeeper" /var/lib/zookeeper
mount --bind "$H/disk/var-log-zookeeper" /var/log/zookeeper
mount --bind "$H/disk/opt" /opt
mount --bind "$H/disk/root" /root
mount -t tmpfs -o mode=0755 zkfleet-run /run
mount -t tmpfs -o mode=1777 zkfleet-tmp /tmp
mkdir -p /run/sshd
hostname "$HOST_NAME"
exec ${SSHD} -D -e -f "$H/sshd_config"
`;

function labError(message: string, where?: string, hint?: string): ZkfleetError {
  return new ZkfleetError("lab", message, { where, hint });
}

/** Bad arguments are usage errors (exit 3): nothing was attempted. */
function argError(message: string, where: string, hint: string): ZkfleetError {
  return new ZkfleetError("usage", message, { where, hint });
}

/** Paths that would be hidden or shadowed inside a lab host's namespace. */
const SHADOWED = ["/etc", "/opt", "/root", "/run", "/tmp", "/var/lib", "/var/log", "/proc", "/sys", "/dev"];

export function validateLabDir(dir: string): string {
  const abs = resolve(dir);
  // overlayfs option strings use ',' and ':' as separators, and '=' is ambiguous.
  if (!/^[A-Za-z0-9._\/-]+$/.test(abs)) {
    throw argError(`lab directory "${abs}" contains characters overlayfs options cannot carry`, abs,
      "use a path made of letters, digits, '.', '_', '-' and '/'");
  }
  for (const p of SHADOWED) {
    if (abs === p || abs.startsWith(p + "/")) {
      throw argError(`lab directory "${abs}" is under ${p}, which every lab host replaces with its own view`, abs,
        `choose a directory outside ${SHADOWED.join(", ")}, e.g. ${DEFAULT_LAB_DIR}`);
    }
  }
  return abs;
}

export function validateSubnet(subnet: string): string {
  const m = /^127\.(\d{1,3})\.(\d{1,3})$/.exec(subnet);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255) {
    throw argError(`subnet "${subnet}" is not a /24 inside 127.0.0.0/8`, "--subnet",
      "give the first three octets of a loopback /24, e.g. 127.77.0");
  }
  if (subnet === "127.0.0") {
    throw argError("subnet 127.0.0 holds 127.0.0.1, which the machine itself uses", "--subnet", "pick another, e.g. 127.77.0");
  }
  return subnet;
}

export function hostPlan(count: number, subnet: string, dir: string): LabHost[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) {
    throw argError(`--hosts must be a whole number from 1 to ${MAX_HOSTS}, got ${count}`, "--hosts",
      "a ZooKeeper ensemble usually has 3 or 5 voters: try --hosts 3");
  }
  return Array.from({ length: count }, (_, i) => ({
    name: `zk${i + 1}`,
    address: `${subnet}.${FIRST_HOST_OCTET + i}`,
    myid: i + 1,
    dir: join(dir, "hosts", `zk${i + 1}`),
  }));
}

function statePath(dir: string): string {
  return join(dir, "lab.json");
}

export function readLabState(dir: string): LabState | undefined {
  const path = statePath(resolve(dir));
  if (!existsSync(path)) return undefined;
  const raw = readFileSync(path, "utf8");
  if (raw.trim() === "") return undefined; // claimed but never written: a crashed `up`
  try {
    return JSON.parse(raw) as LabState;
  } catch {
    throw labError(`lab state ${path} is not valid JSON`, path,
      "if no lab process is running, remove the directory by hand");
  }
}

function writeLabState(state: LabState): void {
  const path = statePath(state.dir);
  writeFileSync(path + ".tmp", JSON.stringify(state, null, 2) + "\n");
  renameSync(path + ".tmp", path);
}

async function portAnswers(address: string, port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host: address, port });
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/** Reads the SSH identification line: proof that sshd is serving, not just bound. */
async function sshBanner(address: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host: address, port: 22 });
    let buf = "";
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.includes("\n")) done(buf.startsWith("SSH-2.0-"));
    });
    sock.once("error", () => done(false));
    sock.once("close", () => done(false));
  });
}

async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw labError("the lab needs root: it creates mount and pid namespaces and binds port 22", undefined,
      "run zkfleet lab as root (sudo)");
  }
  for (const bin of [SSHD, "/usr/bin/unshare", "/usr/bin/ssh-keygen"]) {
    if (!existsSync(bin)) {
      throw labError(`${bin} is missing`, bin, "run scripts/setup.sh, or apt-get install openssh-server util-linux");
    }
  }
}

function sshdConfig(host: LabHost, labDir: string): string {
  return [
    `ListenAddress ${host.address}:22`,
    `HostKey ${join(host.dir, "ssh_host_ed25519_key")}`,
    "PidFile none",
    `AuthorizedKeysFile ${join(labDir, "authorized_keys")}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    // The lab dir is owned by whoever created it; real hosts keep StrictModes.
    "StrictModes no",
    "Subsystem sftp internal-sftp",
    // The controller opens many channels on one connection (status, agent, sftp).
    "MaxSessions 64",
    "MaxStartups 200:30:400",
    "PrintMotd no",
    "LogLevel ERROR",
    "",
  ].join("\n");
}

function baseHostsFile(host: LabHost): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${host.address}\t${host.name}\n`;
}

async function keygen(path: string, comment: string): Promise<string> {
  await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return readFileSync(path + ".pub", "utf8").trim();
}

function prepareHostDirs(host: LabHost, labDir: string): void {
  for (const d of [
    "etc.upper", "etc.work", "varlib.upper", "varlib.work", "varlog.upper", "varlog.work",
    "disk/opt", "disk/var-lib-zookeeper", "disk/var-log-zookeeper", "disk/root",
  ]) {
    mkdirSync(join(host.dir, d), { recursive: true });
  }
  writeFileSync(join(host.dir, "etc.upper", "hosts"), baseHostsFile(host));
  writeFileSync(join(host.dir, "etc.upper", "hostname"), host.name + "\n");
  writeFileSync(join(host.dir, "sshd_config"), sshdConfig(host, labDir));
}

/** Boots one host: its namespaces, mounts and sshd. Returns once sshd answers. */
async function bootHost(host: LabHost): Promise<ProcRef> {
  const console = openSync(join(host.dir, "console.log"), "a");
  const child = spawn(
    "/usr/bin/unshare",
    ["--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private", "--kill-child",
      "--", "/bin/sh", "-c", BOOT_SCRIPT],
    {
      detached: true,
      stdio: ["ignore", console, console],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", H: host.dir, HOST_NAME: host.name },
    },
  );
  closeSync(console);
  child.unref();
  const pid = child.pid;
  const ref = pid === undefined ? undefined : procRef(pid);
  if (!ref) throw labError(`could not start host ${host.name}`, host.name, `see ${join(host.dir, "console.log")}`);
  const ready = await waitUntil(async () => !isSameProcess(ref) || (await sshBanner(host.address, 500)), 10_000, 50);
  if (!ready || !isSameProcess(ref)) {
    killHost(ref);
    const log = readFileSync(join(host.dir, "console.log"), "utf8").trim().split("\n").slice(-5).join("\n");
    throw labError(`host ${host.name} did not come up: sshd on ${host.address}:22 never answered`, host.name,
      `console log ${join(host.dir, "console.log")}:\n${log}`);
  }
  return ref;
}

/** The namespace's init (pid 1 inside): the child that unshare forked. */
function nsInit(ref: ProcRef): number | undefined {
  return isSameProcess(ref) ? childrenOf(ref.pid)[0] : undefined;
}

/** Powers a host off: SIGKILL to its pid-namespace init takes every process of the host with it. */
function killHost(ref: ProcRef): void {
  if (!isSameProcess(ref)) return;
  // Only the init is killed: unshare then reaps it and exits by itself, so no
  // zombie of the host outlives it.
  const init = nsInit(ref);
  signal(init ?? ref.pid, "SIGKILL");
}

async function powerOffHost(host: LabHost): Promise<void> {
  if (!host.init) return;
  const ref = host.init;
  const members = processesInNamespaceOf(nsInit(ref) ?? -1).map((p) => procRef(p)).filter((r): r is ProcRef => !!r);
  killHost(ref);
  const gone = await waitUntil(() => !isSameProcess(ref) && members.every((m) => !isSameProcess(m)), 10_000);
  if (!gone) throw labError(`host ${host.name} did not power off within 10 s`, host.name, "check `zkfleet lab status`");
  host.init = undefined;
}

function writeInventory(state: LabState, version: string, dists: string): void {
  const inventory = {
    ensemble: "lab",
    zookeeper: { version, dists, bind_to_address: true },
    ssh: { user: "root", identity_file: state.identityFile, known_hosts: state.knownHosts },
    hosts: state.hosts.map((h) => ({ name: h.name, address: h.address, myid: h.myid })),
    hosts_file: "managed",
  };
  writeFileSync(state.inventory, `# Written by \`zkfleet lab up\` for the lab in ${state.dir}.\n${toYaml(inventory)}`);
}

function writeSshConfig(state: LabState): void {
  const blocks = state.hosts.map((h) =>
    [`Host ${h.name}`, `  HostName ${h.address}`, "  User root", `  IdentityFile ${state.identityFile}`,
      `  UserKnownHostsFile ${state.knownHosts}`, "  StrictHostKeyChecking yes", "  IdentitiesOnly yes", ""].join("\n"));
  writeFileSync(join(state.dir, "ssh_config"), blocks.join("\n"));
}

/** Checks the arguments of `lab up` without touching anything. */
export function validateLabUp(opts: LabUpOptions): { dir: string; subnet: string; hosts: LabHost[] } {
  const dir = validateLabDir(opts.dir ?? DEFAULT_LAB_DIR);
  const subnet = validateSubnet(opts.subnet ?? DEFAULT_SUBNET);
  return { dir, subnet, hosts: hostPlan(opts.hosts, subnet, dir) };
}

export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const progress = opts.onProgress ?? (() => {});
  const { dir, subnet, hosts } = validateLabUp(opts);
  await preflight();

  const existing = readLabState(dir);
  if (existing || existsSync(statePath(dir))) {
    const live = existing?.hosts.filter((h) => h.init && isSameProcess(h.init)).map((h) => h.name) ?? [];
    throw labError(
      live.length > 0
        ? `a lab is already running in ${dir} (hosts up: ${live.join(", ")})`
        : `${dir} holds a lab that is not running (left over from an earlier run)`,
      dir, `run \`zkfleet lab down --dir ${dir}\` first, or use another --dir`);
  }
  const busy = (await Promise.all(hosts.map(async (h) => ((await portAnswers(h.address, 22)) ? h.address : undefined))))
    .filter(Boolean);
  if (busy.length > 0) {
    throw labError(`something already listens on port 22 of ${busy.join(", ")}`, `--subnet ${subnet}`,
      "another lab may use this subnet: pick another with --subnet 127.N.M, or stop that lab");
  }

  mkdirSync(dir, { recursive: true });
  // Claim the directory atomically: a concurrent `lab up` on the same dir fails here.
  try {
    closeSync(openSync(statePath(dir), "wx"));
  } catch {
    throw labError(`${dir} was claimed by another \`lab up\` just now`, dir, "wait for it, or use another --dir");
  }

  const state: LabState = {
    format: 1,
    dir,
    subnet,
    createdAt: new Date().toISOString(),
    hosts,
    inventory: join(dir, "inventory.yml"),
    identityFile: join(dir, "id_ed25519"),
    knownHosts: join(dir, "known_hosts"),
  };
  try {
    progress(`keys: controller identity and ${hosts.length} host keys`);
    const [identity, ...hostKeys] = await Promise.all([
      keygen(state.identityFile, "zkfleet-lab-controller"),
      ...hosts.map((h) => {
        mkdirSync(h.dir, { recursive: true });
        return keygen(join(h.dir, "ssh_host_ed25519_key"), `zkfleet-lab-${h.name}`);
      }),
    ]);
    writeFileSync(join(dir, "authorized_keys"), identity + "\n", { mode: 0o600 });
    writeFileSync(state.knownHosts,
      hosts.map((h, i) => `${h.address} ${hostKeys[i]!.split(" ").slice(0, 2).join(" ")}\n`).join(""));
    for (const h of hosts) prepareHostDirs(h, dir);
    writeLabState(state);

    progress(`boot: ${hosts.length} hosts on ${subnet}.${FIRST_HOST_OCTET}-${FIRST_HOST_OCTET + hosts.length - 1}`);
    await Promise.all(hosts.map(async (h) => {
      h.init = await bootHost(h);
      writeLabState(state);
      progress(`  ${h.name} ${h.address} up`);
    }));
    writeInventory(state, opts.version ?? "3.8.0", opts.dists ?? resolve("artifacts"));
    writeSshConfig(state);
    writeLabState(state);
    return state;
  } catch (err) {
    // Nothing half-made: stop whatever booted and remove the directory we created.
    for (const h of hosts) if (h.init) killHost(h.init);
    await waitUntil(() => hosts.every((h) => !h.init || !isSameProcess(h.init)), 10_000);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export async function labDown(dirOpt?: string): Promise<{ dir: string; stopped: string[] }> {
  const dir = validateLabDir(dirOpt ?? DEFAULT_LAB_DIR);
  if (!existsSync(statePath(dir))) {
    throw labError(`no lab in ${dir}: nothing to stop`, dir,
      existsSync(dir) ? "the directory exists but holds no lab.json; remove it by hand if it is yours" : "pass --dir if the lab lives elsewhere");
  }
  const state = readLabState(dir);
  const stopped: string[] = [];
  for (const h of state?.hosts ?? []) {
    if (h.init && isSameProcess(h.init)) {
      await powerOffHost(h);
      stopped.push(h.name);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { dir, stopped };
}

function requireLab(dirOpt?: string): LabState {
  const dir = validateLabDir(dirOpt ?? DEFAULT_LAB_DIR);
  const state = readLabState(dir);
  if (!state) throw labError(`no lab in ${dir}`, dir, "start one with `zkfleet lab up --hosts 3`, or pass --dir");
  return state;
}

function requireHost(state: LabState, name: string): LabHost {
  const host = state.hosts.find((h) => h.name === name || h.address === name);
  if (!host) {
    throw labError(`no host "${name}" in the lab at ${state.dir}`, name,
      `hosts are ${state.hosts.map((h) => h.name).join(", ")}`);
  }
  return host;
}

export interface HostStatus {
  name: string;
  address: string;
  power: "on" | "off";
  sshd: "listening" | "cut" | "down";
  processes: number;
  zookeeper: { pid: number; nsPid?: number; state: "running" | "frozen" }[];
}

function isZooKeeper(pid: number): boolean {
  const argv = cmdline(pid);
  return argv.some((a) => a.endsWith("java")) && argv.includes("org.apache.zookeeper.server.quorum.QuorumPeerMain");
}

function zooKeeperPids(host: LabHost): number[] {
  const init = host.init && nsInit(host.init);
  return init === undefined ? [] : processesInNamespaceOf(init).filter(isZooKeeper);
}

function sshdPids(host: LabHost): number[] {
  const init = host.init && nsInit(host.init);
  return init === undefined ? [] : processesInNamespaceOf(init).filter((p) => cmdline(p)[0]?.startsWith("sshd") || cmdline(p)[0] === SSHD);
}

export async function labStatus(dirOpt?: string): Promise<{ dir: string; hosts: HostStatus[] }> {
  const state = requireLab(dirOpt);
  const hosts = await Promise.all(state.hosts.map(async (h): Promise<HostStatus> => {
    const on = !!h.init && isSameProcess(h.init);
    const init = on && h.init ? nsInit(h.init) : undefined;
    const members = init === undefined ? [] : processesInNamespaceOf(init);
    const sshdStopped = init !== undefined && processState(init) === "T";
    return {
      name: h.name,
      address: h.address,
      power: on ? "on" : "off",
      sshd: !on ? "down" : sshdStopped ? "cut" : (await sshBanner(h.address, 1000)) ? "listening" : "down",
      processes: members.length,
      zookeeper: zooKeeperPids(h).map((pid) => ({ pid, state: processState(pid) === "T" ? "frozen" : "running" })),
    };
  }));
  return { dir: state.dir, hosts };
}

export type FaultAction = "power-off" | "power-on" | "freeze" | "thaw" | "cut-ssh" | "restore-ssh";

/**
 * Fault controls for rehearsals and tests. Each acts on one host and only on
 * processes that live in that host's namespace.
 */
export async function labFault(action: FaultAction, hostName: string, dirOpt?: string): Promise<string> {
  const state = requireLab(dirOpt);
  const host = requireHost(state, hostName);
  const on = !!host.init && isSameProcess(host.init);
  if (action !== "power-on" && !on) {
    throw labError(`host ${host.name} is powered off`, host.name, `power it on first: zkfleet lab power-on ${host.name}`);
  }
  switch (action) {
    case "power-off":
      await powerOffHost(host);
      writeLabState(state);
      return `${host.name} powered off`;
    case "power-on":
      if (on) return `${host.name} is already on`;
      host.init = await bootHost(host);
      writeLabState(state);
      return `${host.name} powered on`;
    case "freeze":
    case "thaw": {
      const pids = zooKeeperPids(host);
      if (pids.length === 0) throw labError(`no ZooKeeper runs on ${host.name}`, host.name, "start it first");
      for (const pid of pids) signal(pid, action === "freeze" ? "SIGSTOP" : "SIGCONT");
      return `${host.name}: ZooKeeper ${action === "freeze" ? "frozen (SIGSTOP)" : "thawed (SIGCONT)"} pid ${pids.join(", ")}`;
    }
    case "cut-ssh":
    case "restore-ssh": {
      // Stopping every sshd of the host (listener and sessions) behaves like a
      // firewall dropping port 22: connects hang and open sessions stall,
      // while ZooKeeper keeps serving.
      const pids = sshdPids(host);
      for (const pid of pids) signal(pid, action === "cut-ssh" ? "SIGSTOP" : "SIGCONT");
      return `${host.name}: ssh ${action === "cut-ssh" ? "cut" : "restored"}`;
    }
  }
}

