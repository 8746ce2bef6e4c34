// One simulated host: its state directories, its sshd configuration, booting
// it in its own namespaces, powering it off, and finding its sshd and
// ZooKeeper processes inside its pid namespace.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import type { LabHost } from "./plan.js";
import {
  type ProcRef,
  childrenOf,
  cmdline,
  isSameProcess,
  processesInNamespaceOf,
  procRef,
  signal,
  waitUntil,
} from "./proc.js";
import { labError } from "./state.js";

export const SSHD = "/usr/sbin/sshd";

// The boot script is a constant: every variable part arrives as an
// environment variable, so no path is ever spliced into shell text.
// HIDE_NODE makes a host without node: each directory of a PATH that holds a
// node (or nodejs) gets a read-only overlay whose top layer is a whiteout of
// it (a 0/0 character device), so `command -v node` finds nothing there while
// the machine's own /usr/bin is untouched. A bind mount of an empty file would
// leave a `node` that exists and fails, which is not what such a host looks like.
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
if [ -n "\${HIDE_NODE:-}" ]; then
  hidden=
  n=0
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin /usr/games /usr/local/games; do
    if [ ! -d "$d" ]; then continue; fi
    real=$(readlink -f "$d")
    case " $hidden " in *" $real "*) continue ;; esac
    hidden="$hidden $real"
    w="$H/no-node/$n"
    n=$((n + 1))
    rm -rf "$w"
    mkdir -p "$w"
    found=
    for b in node nodejs; do
      if [ -e "$real/$b" ] || [ -L "$real/$b" ]; then mknod "$w/$b" c 0 0; found=1; fi
    done
    if [ -n "$found" ]; then mount -t overlay zkfleet-no-node -o "lowerdir=$w:$real" "$real"; fi
  done
fi
hostname "$HOST_NAME"
exec ${SSHD} -D -e -f "$H/sshd_config"
`;

// A host whose pid 1 is systemd (`lab up --systemd`) boots with the same
// mounts, then hands over to systemd with a target of its own that starts
// only sshd. It shares the machine's kernel and network, so every unit that
// would act on them (device nodes, modules, sysctl, the clock, fstrim,
// networking, timers) is masked and /sys and /proc/sys are read-only. /usr
// gets an overlay of its own too, so that packages can be unpacked into a host
// (Debian's zookeeperd for adoption) without touching the machine's.
// cgroups: systemd creates its slices at the root of every hierarchy it
// sees, so the host first moves into a cgroup of its own in each one
// (ENTER_CGROUPS) and then gets a cgroup namespace rooted there; it runs in
// v1 (legacy) mode, tracking its processes in its own name=systemd subtree.
const SYSTEMD_BOOT_SCRIPT = BOOT_SCRIPT.replace(/\nexec \S*sshd[^\n]*\n$/, "\n") + `mkdir -p "$H/usr.upper" "$H/usr.work"
mount -t overlay zkfleet-usr -o "lowerdir=/usr,upperdir=$H/usr.upper,workdir=$H/usr.work" /usr
units="$H/etc.upper/systemd/system"
mkdir -p "$units"
for w in /lib/systemd/system/sysinit.target.wants/* /lib/systemd/system/sockets.target.wants/* \\
         /lib/systemd/system/timers.target.wants/* /etc/systemd/system/*.wants/*; do
  u=$(basename "$w")
  case "$u" in systemd-journald.service|systemd-journald.socket|systemd-journald-dev-log.socket|"*") continue ;; esac
  ln -sfn /dev/null "$units/$u"
done
for u in systemd-remount-fs.service systemd-fsck-root.service networking.service systemd-networkd.service \\
         systemd-timesyncd.service systemd-udevd.service systemd-udev-trigger.service getty.target; do
  ln -sfn /dev/null "$units/$u"
done
mount --bind /sys /sys
mount -o remount,bind,ro /sys
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount -t tmpfs -o mode=0755 zkfleet-cgroup /sys/fs/cgroup
mkdir /sys/fs/cgroup/systemd
mount -t cgroup -o none,name=systemd zkfleet-cgroup-systemd /sys/fs/cgroup/systemd
exec /usr/bin/env -i container=zkfleet-lab PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --unit=zkfleet-lab.target \\
  systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=1
`;

/**
 * Moves the shell into a cgroup of the host's own below its current one in
 * every hierarchy (a v1 cpuset needs its cpus and mems set first), lists
 * them in $H/cgroups for removal at power-off, then execs its arguments.
 */
const ENTER_CGROUPS = `set -eu
: > "$H/cgroups"
while IFS=: read -r _ ctl path; do
  case "$ctl" in
    "") mnt=/sys/fs/cgroup/unified ;;
    name=systemd) mnt=/sys/fs/cgroup/systemd ;;
    *) mnt=/sys/fs/cgroup/\${ctl%%,*} ;;
  esac
  [ -d "$mnt" ] || continue
  base="$mnt\${path%/}/zkfleet-lab"
  mkdir -p "$base/$CGNAME"
  if [ -f "$base/cpuset.cpus" ]; then
    for f in cpuset.cpus cpuset.mems; do cat "$base/../$f" > "$base/$f"; cat "$base/$f" > "$base/$CGNAME/$f"; done
  fi
  echo "$base/$CGNAME" >> "$H/cgroups"
  echo $$ > "$base/$CGNAME/cgroup.procs"
done < /proc/self/cgroup
exec "$@"
`;

/** JDK 17 trips over a systemd host's nested cgroup v1 mounts (an NPE in CgroupMetrics when JMX starts); a real host has none. */
const JAVA_OPTIONS_OF_SYSTEMD_HOSTS = "JAVA_TOOL_OPTIONS=-XX:-UseContainerSupport";

/** The target a systemd host boots to: sshd, nothing else. */
function systemdUnits(host: LabHost): Record<string, string> {
  return {
    "zkfleet-lab.target": "[Unit]\nDescription=zkfleet lab host\nWants=zkfleet-lab-sshd.service\nAllowIsolate=yes\n",
    "zkfleet-lab-sshd.service": [
      "[Unit]", "Description=sshd of the lab host", "DefaultDependencies=no", "",
      "[Service]", `ExecStart=${SSHD} -D -e -f ${join(host.dir, "sshd_config")}`, "RuntimeDirectory=sshd", "KillMode=process", "",
    ].join("\n"),
  };
}

/** Reads the SSH identification line: proof that sshd is serving, not just bound. */
export async function sshBanner(address: string, timeoutMs = 1000): Promise<boolean> {
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
    // What systemd gives its units on such a host (JAVA_OPTIONS_OF_SYSTEMD_HOSTS), for a JVM started over SSH.
    ...(host.systemd ? [`SetEnv ${JAVA_OPTIONS_OF_SYSTEMD_HOSTS}`] : []),
    "",
  ].join("\n");
}

function baseHostsFile(host: LabHost): string {
  return `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${host.address}\t${host.name}\n`;
}

export function prepareHostDirs(host: LabHost, labDir: string): void {
  for (const d of [
    "etc.upper", "etc.work", "varlib.upper", "varlib.work", "varlog.upper", "varlog.work",
    "disk/opt", "disk/var-lib-zookeeper", "disk/var-log-zookeeper", "disk/root",
  ]) {
    mkdirSync(join(host.dir, d), { recursive: true });
  }
  writeFileSync(join(host.dir, "etc.upper", "hosts"), baseHostsFile(host));
  writeFileSync(join(host.dir, "etc.upper", "hostname"), host.name + "\n");
  writeFileSync(join(host.dir, "sshd_config"), sshdConfig(host, labDir));
  if (host.systemd) {
    const units = join(host.dir, "etc.upper", "systemd", "system");
    mkdirSync(units, { recursive: true });
    for (const [name, text] of Object.entries(systemdUnits(host))) writeFileSync(join(units, name), text);
    // Nothing of the machine's fstab is the host's to mount.
    writeFileSync(join(host.dir, "etc.upper", "fstab"), "# lab host: nothing to mount\n");
    mkdirSync(join(host.dir, "etc.upper", "systemd", "system.conf.d"), { recursive: true });
    writeFileSync(join(host.dir, "etc.upper", "systemd", "system.conf.d", "zkfleet-lab.conf"),
      `[Manager]\nDefaultEnvironment=${JAVA_OPTIONS_OF_SYSTEMD_HOSTS}\n`);
  }
}

/** A systemd host's cgroups, deepest first, once its processes are gone (rmdir refuses a cgroup that still has any). */
export function removeHostCgroups(host: LabHost): void {
  const list = join(host.dir, "cgroups");
  if (!host.systemd || !existsSync(list)) return;
  const remove = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) remove(join(dir, entry.name));
    rmdirSync(dir);
  };
  for (const dir of readFileSync(list, "utf8").split("\n")) {
    if (dir === "" || !existsSync(dir)) continue;
    remove(dir);
    // zkfleet-lab itself, once no other host uses it.
    if (readdirSync(dirname(dir), { withFileTypes: true }).every((e) => !e.isDirectory())) rmdirSync(dirname(dir));
  }
  rmSync(list);
}

/** Boots one host: its namespaces, mounts and sshd. Returns once sshd answers. */
export async function bootHost(host: LabHost): Promise<ProcRef> {
  const console = openSync(join(host.dir, "console.log"), "a");
  const unshare = ["/usr/bin/unshare", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private", "--kill-child"];
  const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", H: host.dir, HOST_NAME: host.name, ...(host.noNode ? { HIDE_NODE: "1" } : {}) };
  // A systemd host enters its own cgroup first, so that the cgroup namespace unshare makes is rooted there.
  const [program, ...args] = host.systemd
    ? ["/bin/sh", "-c", ENTER_CGROUPS, "sh", ...unshare, "--cgroup", "--", "/bin/sh", "-c", SYSTEMD_BOOT_SCRIPT]
    : [...unshare, "--", "/bin/sh", "-c", BOOT_SCRIPT];
  const child = spawn(program!, args, {
    detached: true,
    stdio: ["ignore", console, console],
    env: { ...env, ...(host.systemd ? { CGNAME: host.dir.replace(/\//g, "_") } : {}) },
  });
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
export function nsInit(ref: ProcRef): number | undefined {
  return isSameProcess(ref) ? childrenOf(ref.pid)[0] : undefined;
}

/** Powers a host off: SIGKILL to its pid-namespace init takes every process of the host with it. */
export function killHost(ref: ProcRef): void {
  if (!isSameProcess(ref)) return;
  // Only the init is killed: unshare then reaps it and exits by itself, so no
  // zombie of the host outlives it.
  const init = nsInit(ref);
  signal(init ?? ref.pid, "SIGKILL");
}

export async function powerOffHost(host: LabHost): Promise<void> {
  if (!host.init) return;
  const ref = host.init;
  const members = processesInNamespaceOf(nsInit(ref) ?? -1).map((p) => procRef(p)).filter((r): r is ProcRef => !!r);
  killHost(ref);
  const gone = await waitUntil(() => !isSameProcess(ref) && members.every((m) => !isSameProcess(m)), 10_000);
  if (!gone) throw labError(`host ${host.name} did not power off within 10 s`, host.name, "check `zkfleet lab status`");
  host.init = undefined;
  removeHostCgroups(host);
}

function isZooKeeper(pid: number): boolean {
  const argv = cmdline(pid);
  return argv.some((a) => a.endsWith("java")) && argv.includes("org.apache.zookeeper.server.quorum.QuorumPeerMain");
}

export function zooKeeperPids(host: LabHost): number[] {
  const init = host.init && nsInit(host.init);
  return init === undefined ? [] : processesInNamespaceOf(init).filter(isZooKeeper);
}

export function sshdPids(host: LabHost): number[] {
  const init = host.init && nsInit(host.init);
  return init === undefined ? [] : processesInNamespaceOf(init).filter((p) => cmdline(p)[0]?.startsWith("sshd") || cmdline(p)[0] === SSHD);
}
