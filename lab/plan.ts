// What a lab is made of, decided before anything is touched: the lab
// directory, the loopback subnet and the hosts (names, addresses, myids and
// state directories). Every check here is a usage error.
import { join, resolve } from "node:path";
import { ZkfleetError } from "../common/errors.js";
import type { ProcRef } from "./proc.js";

export const DEFAULT_LAB_DIR = "/var/tmp/zkfleet-lab";
export const DEFAULT_SUBNET = "127.77.0";
export const MAX_HOSTS = 60;
export const FIRST_HOST_OCTET = 11;

export interface LabHost {
  name: string;
  address: string;
  myid: number;
  /** Per-host state directory (upper layers, keys, console log). */
  dir: string;
  /** The `unshare` process holding the host's namespaces; absent while powered off. */
  init?: ProcRef;
  /** No node is found on any PATH of the host (`lab up --no-node`): a host with nothing but SSH and Java. */
  noNode?: boolean;
  /** systemd is the host's pid 1 and runs its sshd (`lab up --systemd`), so that service: systemd runs for real. */
  systemd?: boolean;
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
