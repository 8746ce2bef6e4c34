// Credentials for ZooKeeper sessions (`addAuth`), from three places: --auth
// on the command line (which `ps` shows to every user for the whole run),
// --auth-file FILE and the ZKFLEET_AUTH environment variable (which it does
// not). Each holds scheme:credential, one per line, e.g. digest:user:password.
// A credential is never echoed: errors name the file and line, and anything
// shown says the scheme and, for digest, the user.
import { readFileSync } from "node:fs";
import { ZkfleetError } from "../../common/errors.js";
import { compareVersions } from "../agent-client/runtime-platform.js";
import { digestOf } from "../inventory/super-user.js";
import type { Acl } from "../zk/protocol.js";

export interface Credential {
  scheme: string;
  credential: string;
}

export const AUTH_ENV = "ZKFLEET_AUTH";

export interface AuthSources {
  /** --auth values, in order. */
  auth?: string[];
  /** --auth-file. */
  authFile?: string;
}

/** "digest:alice:***": what may be shown of a credential. */
export function maskCredential(c: Credential): string {
  const user = c.scheme === "digest" && c.credential.includes(":") ? `${c.credential.slice(0, c.credential.indexOf(":"))}:` : "";
  return `${c.scheme}:${user}***`;
}

function parseOne(text: string, where: string, hint: string): Credential {
  const at = text.indexOf(":");
  if (at <= 0 || !/^[A-Za-z0-9._-]+$/.test(text.slice(0, at))) {
    throw new ZkfleetError("usage", `${where}: not SCHEME:CREDENTIAL (the value is not shown: it may hold a password)`, { where, hint });
  }
  return { scheme: text.slice(0, at), credential: text.slice(at + 1) };
}

/** The lines of a file or variable: blank lines and # comments skipped. */
function parseLines(text: string, where: (line: number) => string, hint: string): Credential[] {
  return text.split("\n").flatMap((raw, i) => {
    const line = raw.replace(/\r$/, "");
    return line.trim() === "" || line.trimStart().startsWith("#") ? [] : [parseOne(line, where(i + 1), hint)];
  });
}

const HINT = "give one scheme:credential per line, e.g. digest:user:password";

/** Every credential the command was given, from argv, the file and the environment, each once. */
export function credentialsFrom(o: AuthSources, env: NodeJS.ProcessEnv): Credential[] {
  const found: Credential[] = (o.auth ?? []).map((a, i) => parseOne(a, `--auth (the ${ordinal(i + 1)})`, "give --auth SCHEME:CREDENTIAL, e.g. digest:user:password"));
  if (o.authFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.authFile, "utf8");
    } catch (err) {
      throw new ZkfleetError("usage", `--auth-file: cannot read ${o.authFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        where: o.authFile, hint: `give a readable file with ${HINT}`,
      });
    }
    const fromFile = parseLines(text, (n) => `${o.authFile}:${n}`, HINT);
    if (fromFile.length === 0) throw new ZkfleetError("usage", `--auth-file ${o.authFile} holds no credential`, { where: o.authFile, hint: HINT });
    found.push(...fromFile);
  }
  const fromEnv = env[AUTH_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== "") found.push(...parseLines(fromEnv, (n) => `${AUTH_ENV} (line ${n})`, HINT));
  return found.filter((c, i) => found.findIndex((d) => d.scheme === c.scheme && d.credential === c.credential) === i);
}

const ordinal = (n: number) => `${n}${n === 1 ? "st" : n === 2 ? "nd" : n === 3 ? "rd" : "th"}`;

const READ = 1;
const ADMIN = 16;

/**
 * Whether a session with these credentials can read a node with this ACL
 * whole: its data (READ) and, since 3.4.14/3.5.5, a digest ACL's real ids
 * (ADMIN; CVE-2019-0201). Told from the ACL alone, so only for digest
 * credentials; where it cannot be told (other credential schemes, an ip or
 * other entry granting the right), it answers true and leaves the reading
 * to say.
 */
export function readableWhole(acl: readonly Acl[], creds: readonly Credential[], superDigest: string | undefined, hidesDigestIds: boolean): boolean {
  if (creds.some((c) => c.scheme !== "digest")) return true;
  const ids = new Set(creds.map((c) => digestIdOf(c)));
  if (superDigest !== undefined && ids.has(superDigest)) return true;
  const grants = (perm: number) => acl.some((a) => (a.perms & perm) !== 0 &&
    ((a.scheme === "world" && a.id === "anyone") || (a.scheme === "digest" && ids.has(a.id)) || (a.scheme !== "world" && a.scheme !== "digest")));
  return grants(READ) && (!hidesDigestIds || !acl.some((a) => a.scheme === "digest") || grants(ADMIN));
}

/** Servers that show a digest ACL's ids only to a session with ADMIN on the node (CVE-2019-0201: 3.4.14+, 3.5.5+). */
export function hidesDigestIds(version: string): boolean {
  return compareVersions(version, "3.5.5") >= 0 || (compareVersions(version, "3.4.14") >= 0 && compareVersions(version, "3.5.0") < 0);
}

/** The id a digest credential user:password authenticates as: user:base64(sha1(user:password)). */
function digestIdOf(c: Credential): string {
  const at = c.credential.indexOf(":");
  return at < 0 ? c.credential : digestOf(c.credential.slice(0, at), c.credential.slice(at + 1));
}
