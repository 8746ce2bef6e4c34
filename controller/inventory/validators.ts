// Small predicates shared by the schema and the linter. Each one also exists to
// keep a value from carrying something dangerous into a file or a command line
// on a host, so they are strict on purpose.
import { BlockList, isIPv4, isIPv6 } from "node:net";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * RFC 1123 host name: dot-separated labels of letters, digits and hyphens.
 * Besides being what /etc/hosts and zoo.cfg accept, the alphabet leaves no
 * room for a shell metacharacter. All-numeric names are refused so that a
 * mistyped IPv4 address (10.0.0.300) is not taken for a name.
 */
export function isHostname(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.split(".");
  if (!labels.every((label) => LABEL.test(label))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1] ?? "");
}

export type AddressKind = "ipv4" | "ipv6" | "hostname";

export function addressKind(value: string): AddressKind | undefined {
  if (isIPv4(value)) return "ipv4";
  // Every IPv6 address has a colon; node's isIPv6 runs a very large regular expression (compiled at its first
  // use, about 3 ms of every apply's start, since host names are asked about here too).
  if (value.includes(":") && isIPv6(value)) return "ipv6";
  if (isHostname(value)) return "hostname";
  return undefined;
}

/**
 * Addresses that parse but name no single host: connecting to the
 * unspecified address reaches this machine itself, and the others are
 * groups of hosts or not routable. Each is a plausible slip (0.0.0.0 for a
 * bind-all habit, 255.255.255.255 for a netmask, 224.x for 192.x, :: for ::1).
 * The IPv4 rules also hold for IPv4-mapped IPv6 (::ffff:0.0.0.0).
 */
const NOT_A_HOST: readonly { why: string; add: (list: BlockList) => void }[] = [
  { why: "the unspecified address (any address: a connection to it reaches this machine)", add: (l) => { l.addAddress("0.0.0.0", "ipv4"); l.addAddress("::", "ipv6"); } },
  { why: "in 0.0.0.0/8, which means 'this network', not a host", add: (l) => l.addSubnet("0.0.0.0", 8, "ipv4") },
  { why: "the broadcast address", add: (l) => l.addAddress("255.255.255.255", "ipv4") },
  { why: "a multicast address (224.0.0.0/4)", add: (l) => l.addSubnet("224.0.0.0", 4, "ipv4") },
  { why: "in the reserved 240.0.0.0/4, which hosts are not given", add: (l) => l.addSubnet("240.0.0.0", 4, "ipv4") },
  { why: "a multicast address (ff00::/8)", add: (l) => l.addSubnet("ff00::", 8, "ipv6") },
];

let notAHost: { why: string; list: BlockList }[] | undefined;

/** Why an IP address cannot be a host's, or undefined when it can (host names are not resolved here). */
export function hostAddressProblem(value: string): string | undefined {
  const family = isIPv4(value) ? "ipv4" : value.includes(":") && isIPv6(value) ? "ipv6" : undefined;
  if (family === undefined) return undefined;
  notAHost ??= NOT_A_HOST.map(({ why, add }) => {
    const list = new BlockList();
    add(list);
    return { why, list };
  });
  return notAHost.find(({ list }) => list.check(value, family))?.why;
}

/** Characters allowed in a path on a host: enough for real layouts, nothing a shell or zoo.cfg treats specially. */
const SAFE_REMOTE_PATH = /^\/[A-Za-z0-9._/@%+=:,-]*$/;

/** Why a path on a host is unacceptable, or undefined when it is fine. */
export function remotePathProblem(value: string): string | undefined {
  if (!value.startsWith("/")) return "must be an absolute path (start with /)";
  if (/[\r\n]/.test(value)) return "must not contain a newline";
  if (value.split("/").includes("..")) return "must not contain a '..' segment";
  if (!SAFE_REMOTE_PATH.test(value)) {
    return "may only contain letters, digits and . _ / @ % + = : , - (no spaces or shell metacharacters)";
  }
  return undefined;
}

/** `/a//b/` → `/a/b`; keeps `/` as is. Comparisons between directories rely on this. */
export function normalizeRemotePath(value: string): string {
  const collapsed = value.replace(/\/+/g, "/");
  return collapsed.length > 1 ? collapsed.replace(/\/$/, "") : collapsed;
}

/** True when `inner` is `outer` or lies below it (both normalized, absolute). */
export function isSameOrInside(inner: string, outer: string): boolean {
  if (outer === "/") return true;
  return inner === outer || inner.startsWith(`${outer}/`);
}

export interface LocalPathContext {
  /** Directory of the inventory file: relative local paths are taken from here. */
  baseDir: string;
  /** Expansion of `~`. */
  homeDir?: string;
}

/**
 * A path on the controller: `~` and `~/x` expand to the home directory, a
 * relative path is taken from the inventory file's directory so that the
 * inventory means the same thing whatever the current directory is.
 */
export function resolveLocalPath(value: string, ctx: LocalPathContext): string {
  const home = ctx.homeDir ?? homedir();
  if (value === "~") return home;
  if (value.startsWith("~/")) return resolve(home, value.slice(2));
  return isAbsolute(value) ? resolve(value) : resolve(ctx.baseDir, value);
}

/** Levenshtein distance, small inputs only (inventory keys). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate closest to a typo, if it is close enough to be a plausible intent. */
export function closestMatch(typo: string, candidates: readonly string[]): string | undefined {
  const lower = typo.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  if (best === undefined) return undefined;
  const tolerance = Math.max(2, Math.floor(typo.length / 3));
  return best.distance <= tolerance ? best.candidate : undefined;
}
