// A real OpenSSH server for tests: its own host keys, config, authorized_keys
// and loopback address, started as `sshd -D -e` and stopped by the pid we got
// from spawn. Optional extra (non-root) users live only in a private mount
// namespace: sshd runs under an overlay on /etc, so the machine's real
// /etc/passwd never changes.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
const SSHD = "/usr/sbin/sshd";

export type KeyType = "ed25519" | "rsa" | "ecdsa";

export interface KeyPair {
  privatePath: string;
  publicPath: string;
  /** The public key line, as it goes into authorized_keys. */
  publicLine: string;
}

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  // Non-root test users must traverse it to reach authorized_keys.
  await chmod(dir, 0o755);
  return dir;
}

export async function makeKey(dir: string, name: string, type: KeyType = "ed25519", passphrase = ""): Promise<KeyPair> {
  const privatePath = join(dir, name);
  await rm(privatePath, { force: true });
  await rm(`${privatePath}.pub`, { force: true });
  const bits = type === "rsa" ? ["-b", "2048"] : [];
  await execFileP("ssh-keygen", ["-q", "-t", type, ...bits, "-N", passphrase, "-C", name, "-f", privatePath]);
  const publicLine = (await readFile(`${privatePath}.pub`, "utf8")).trim();
  return { privatePath, publicPath: `${privatePath}.pub`, publicLine };
}

/** A user that exists only inside the sshd's namespace. */
export interface NamespaceUser {
  name: string;
  uid: number;
  /** A sudoers line to install, e.g. "zk ALL=(ALL) NOPASSWD: ALL". */
  sudoers?: string;
}

export interface SshdOptions {
  /** Loopback address to listen on (tests own one /24 each). */
  address: string;
  hostKeyTypes?: KeyType[];
  authorizedKeys: string[];
  logLevel?: "INFO" | "VERBOSE" | "DEBUG";
  users?: NamespaceUser[];
}

export interface Sshd {
  address: string;
  port: number;
  dir: string;
  hostKeys: KeyPair[];
  /** Everything sshd wrote to stderr so far. */
  log(): string;
  /** New host keys, same address and port: what a reinstalled host looks like. */
  regenerateHostKeys(): Promise<void>;
  stop(): Promise<void>;
}

/** A port nobody listens on right now, on this address. */
export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, address, () => {
      const addr = server.address();
      server.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function canConnect(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Namespace setup: overlay /etc, add the users, then become sshd (same pid). */
const NAMESPACE_SCRIPT = `set -e
d="$1"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/etc-upper,workdir=$d/etc-work" /etc
cat "$d/passwd.add" >> /etc/passwd
cat "$d/group.add" >> /etc/group
cat "$d/shadow.add" >> /etc/shadow
if [ -s "$d/sudoers.add" ]; then
  mkdir -p /etc/sudoers.d
  install -m 0440 "$d/sudoers.add" /etc/sudoers.d/zkfleet-test
fi
exec ${SSHD} -D -e -f "$d/sshd_config"
`;

export async function startSshd(options: SshdOptions): Promise<Sshd> {
  await mkdir("/run/sshd", { recursive: true }); // sshd's privilege-separation directory
  const dir = await makeTempDir("zkfleet-sshd");
  const port = await freePort(options.address);
  const types = options.hostKeyTypes ?? ["ed25519"];
  const hostKeys: KeyPair[] = [];
  const makeHostKeys = async () => {
    hostKeys.length = 0;
    for (const t of types) hostKeys.push(await makeKey(dir, `host_${t}`, t));
  };
  await makeHostKeys();
  await writeFile(join(dir, "authorized_keys"), options.authorizedKeys.join("\n") + "\n", { mode: 0o644 });
  await writeFile(join(dir, "sshd_config"), sshdConfig(options, port, dir, hostKeys));
  const users = options.users ?? [];
  if (users.length > 0) await prepareNamespace(dir, users);

  let child: ChildProcess | undefined;
  let log = "";
  const start = async () => {
    child = users.length > 0
      ? spawn("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", NAMESPACE_SCRIPT, "sh", dir], { stdio: ["ignore", "ignore", "pipe"] })
      : spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (c: Buffer) => (log += c.toString()));
    const exited = new Promise<void>((resolve) => child?.once("exit", () => resolve()));
    let alive = true;
    void exited.then(() => (alive = false));
    for (let i = 0; i < 200 && alive; i++) {
      if (await canConnect(options.address, port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await stopChild();
    throw new Error(`sshd on ${options.address}:${port} did not come up:\n${log}`);
  };
  const stopChild = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    address: options.address,
    port,
    dir,
    hostKeys,
    log: () => log,
    regenerateHostKeys: async () => {
      await stopChild();
      await makeHostKeys();
      await start();
    },
    stop: async () => {
      await stopChild();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function sshdConfig(options: SshdOptions, port: number, dir: string, hostKeys: KeyPair[]): string {
  return [
    `ListenAddress ${options.address}:${port}`,
    ...hostKeys.map((k) => `HostKey ${k.privatePath}`),
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "AllowTcpForwarding yes",
    `LogLevel ${options.logLevel ?? "INFO"}`,
    "Subsystem sftp internal-sftp",
    "",
  ].join("\n");
}

async function prepareNamespace(dir: string, users: NamespaceUser[]): Promise<void> {
  await mkdir(join(dir, "etc-upper"));
  await mkdir(join(dir, "etc-work"));
  const lines = (f: (u: NamespaceUser) => string) => users.map(f).join("\n") + "\n";
  for (const u of users) {
    await mkdir(join(dir, `home-${u.name}`), { mode: 0o755 });
    await chown(join(dir, `home-${u.name}`), u.uid, u.uid);
  }
  await writeFile(join(dir, "passwd.add"), lines((u) => `${u.name}:x:${u.uid}:${u.uid}::${join(dir, `home-${u.name}`)}:/bin/sh`));
  await writeFile(join(dir, "group.add"), lines((u) => `${u.name}:x:${u.uid}:`));
  // "*": no password, but not locked ("!"), which sshd would refuse even for keys.
  await writeFile(join(dir, "shadow.add"), lines((u) => `${u.name}:*:19000:0:99999:7:::`));
  const sudoers = users.flatMap((u) => (u.sudoers ? [`${u.sudoers}\n`] : [])).join("");
  await writeFile(join(dir, "sudoers.add"), sudoers, { mode: 0o440 });
}

/** Polls until check() holds or limitMs passes; returns the last answer (a bounded wait, not a timing assertion). */
export async function waitFor(check: () => boolean | Promise<boolean>, limitMs = 5000): Promise<boolean> {
  for (let waited = 0; waited < limitMs; waited += 50) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}
