// The lab: N simulated hosts on one machine, each with its own loopback
// address, its own real sshd on port 22, its own hostname, pid namespace and
// filesystem view (overlay on /etc, /var/lib, /var/log; private /opt, /root,
// /run, /tmp). A private /root matters: the machine's own shell start-up
// files would otherwise run in every SSH command of every host. Nothing is mounted in the machine's own namespace, so tearing a host
// down is killing its namespace's init and nothing else.
import { execFile } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify as toYaml } from "yaml";
import { defaultArtifactsDir } from "../common/paths.js";
import { SSHD, bootHost, killHost, nsInit, powerOffHost, prepareHostDirs, removeHostCgroups, sshBanner, sshdPids, zooKeeperPids } from "./host.js";
import {
  DEFAULT_LAB_DIR, DEFAULT_SUBNET, FIRST_HOST_OCTET, type LabHost, hostPlan, validateLabDir, validateSubnet,
} from "./plan.js";
import { type PreinstallPlan, adoptCommand, preinstallEnsemble, validatePreinstall } from "./preinstall.js";
import { isSameProcess, processState, processesInNamespaceOf, waitUntil } from "./proc.js";
import { type LabState, labError, readLabState, requireLab, statePath, writeLabState } from "./state.js";

export { type FaultAction, labFault } from "./faults.js";
export { DEFAULT_LAB_DIR, DEFAULT_SUBNET, MAX_HOSTS, type LabHost, hostPlan, validateLabDir, validateSubnet } from "./plan.js";
export { type LabPreinstalled, type LabState, readLabState } from "./state.js";
export { PREINSTALL_CONFIG, PREINSTALL_HOME, adoptCommand, handWrittenZooCfg, labSshArgs, validatePreinstall } from "./preinstall.js";

const run = promisify(execFile);

export interface LabUpOptions {
  hosts: number;
  dir?: string;
  subnet?: string;
  /** ZooKeeper version written into the lab inventory. */
  version?: string;
  /** Artifact cache the inventory points at, and where --preinstall takes its tarball from. */
  dists?: string;
  /**
   * Install this ZooKeeper version by hand on every host and start the
   * ensemble, without zkfleet, for rehearsing its adoption. No inventory is
   * written then.
   */
  preinstall?: string;
  /** Hosts on which no node is found over SSH, to rehearse hosts with nothing but SSH and Java. */
  noNode?: boolean;
  /** Hosts whose pid 1 is systemd, to run service: systemd for real. */
  systemd?: boolean;
  onProgress?: (line: string) => void;
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

async function preflight(systemd: boolean): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw labError("the lab needs root: it creates mount and pid namespaces and binds port 22", undefined,
      "run zkfleet lab as root (sudo)");
  }
  for (const bin of [SSHD, "/usr/bin/unshare", "/usr/bin/ssh-keygen"]) {
    if (!existsSync(bin)) {
      throw labError(`${bin} is missing`, bin, "run scripts/setup.sh, or apt-get install openssh-server util-linux");
    }
  }
  // The hosts' systemd runs in v1 (legacy) mode, each in a subtree of the machine's name=systemd hierarchy.
  const v1 = "/sys/fs/cgroup/systemd";
  if (systemd && (!existsSync("/lib/systemd/systemd") || !existsSync(v1))) {
    throw labError(`lab up --systemd needs /lib/systemd/systemd and cgroup v1's name=systemd hierarchy at ${v1}`,
      v1, "install Debian's systemd package; on a machine with only cgroup v2, systemd hosts are not supported yet");
  }
}

async function keygen(path: string, comment: string): Promise<string> {
  await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return readFileSync(path + ".pub", "utf8").trim();
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
export function validateLabUp(opts: LabUpOptions): {
  dir: string; subnet: string; hosts: LabHost[]; dists: string; preinstall?: PreinstallPlan;
} {
  const dir = validateLabDir(opts.dir ?? DEFAULT_LAB_DIR);
  const subnet = validateSubnet(opts.subnet ?? DEFAULT_SUBNET);
  const hosts = hostPlan(opts.hosts, subnet, dir).map((h) => ({ ...h, ...(opts.noNode ? { noNode: true } : {}), ...(opts.systemd ? { systemd: true } : {}) }));
  const dists = opts.dists ?? defaultArtifactsDir(process.env);
  return { dir, subnet, hosts, dists, ...(opts.preinstall === undefined ? {} : { preinstall: validatePreinstall(opts.preinstall, dists) }) };
}

export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const progress = opts.onProgress ?? (() => {});
  const { dir, subnet, hosts, dists, preinstall } = validateLabUp(opts);
  await preflight(opts.systemd ?? false);
  if (preinstall && !existsSync("/usr/bin/ssh")) {
    throw labError("/usr/bin/ssh is missing: --preinstall works through the OpenSSH client, as a person would", "/usr/bin/ssh",
      "apt-get install openssh-client");
  }

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
    writeSshConfig(state);
    if (preinstall) {
      state.preinstalled = await preinstallEnsemble(state, { plan: preinstall, onProgress: progress });
      progress(`next: ${adoptCommand(state)}`);
    } else {
      writeInventory(state, opts.version ?? "3.8.0", dists);
    }
    writeLabState(state);
    return state;
  } catch (err) {
    // Nothing half-made: stop whatever booted and remove the directory we created.
    for (const h of hosts) if (h.init) killHost(h.init);
    await waitUntil(() => hosts.every((h) => !h.init || !isSameProcess(h.init)), 10_000);
    for (const h of hosts) removeHostCgroups(h);
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

export interface HostStatus {
  name: string;
  address: string;
  power: "on" | "off";
  sshd: "listening" | "cut" | "down";
  processes: number;
  zookeeper: { pid: number; nsPid?: number; state: "running" | "frozen" }[];
}

export async function labStatus(dirOpt?: string): Promise<{ dir: string; hosts: HostStatus[] }> {
  const state = requireLab(dirOpt);
  const hosts = await Promise.all(state.hosts.map(async (h): Promise<HostStatus> => {
    const on = !!h.init && isSameProcess(h.init);
    const init = on && h.init ? nsInit(h.init) : undefined;
    const members = init === undefined ? [] : processesInNamespaceOf(init);
    // The listener: the host's init, or a child of systemd on a systemd host.
    const sshdStopped = init !== undefined && sshdPids(h).some((pid) => processState(pid) === "T");
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
