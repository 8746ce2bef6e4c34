// The ZooKeeper super user: since 3.5.3 only it (or a client with rights on
// /zookeeper/config) may reconfig. Its password lives in a file on the
// controller (zookeeper.super_password_file); the servers are given only its
// digest, and the password travels only inside an agent request's stdin.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { ZkfleetError } from "../../common/errors.js";
import { DigestAuth } from "../../common/protocol.js";
import type { Finding } from "./findings.js";
import type { Inventory, ZookeeperSpec } from "./schema.js";

/** DigestAuthenticationProvider grants super rights to exactly this digest user. */
export const SUPER_USER = "super";

/** The -D property ZooKeeper reads the super digest from (a JVM system property, not a zoo.cfg key). */
export const SUPER_DIGEST_PROPERTY = "zookeeper.DigestAuthenticationProvider.superDigest";

const fileHint = (file: string) =>
  `put the super user's password on the first line of ${file} (chmod 600), or remove zookeeper.super_password_file`;

/** The password: the file's first line, trimmed. Typed errors name the file, never its content. */
export function readSuperPassword(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? (cause as Error).message})`;
    throw new ZkfleetError("inventory", `zookeeper.super_password_file ${file} ${why}`, { where: file, hint: fileHint(file), cause });
  }
  const password = (text.split(/\r?\n/, 1)[0] ?? "").trim();
  if (password === "") {
    throw new ZkfleetError("inventory", `zookeeper.super_password_file ${file} is empty (its first line is the password)`, {
      where: file,
      hint: fileHint(file),
    });
  }
  const checked = DigestAuth.shape.password.safeParse(password);
  if (!checked.success) {
    const problem = checked.error.issues[0]?.message ?? "is not usable";
    throw new ZkfleetError("inventory", `the password in zookeeper.super_password_file ${file} ${problem}`, {
      where: file,
      hint: "zkCli reads `addauth digest super:PASSWORD` as whitespace-separated words; choose a password without spaces or quotes",
    });
  }
  return password;
}

/** ZooKeeper's digest form, user:base64(sha1("user:password")), as DigestAuthenticationProvider.generateDigest makes it. */
export function digestOf(user: string, password: string): string {
  return `${user}:${createHash("sha1").update(`${user}:${password}`, "utf8").digest("base64")}`;
}

/** The superDigest the servers get, when the inventory asks for one; undefined otherwise. */
export function superDigestFor(zk: ZookeeperSpec): string | undefined {
  return zk.super_password_file === undefined ? undefined : digestOf(SUPER_USER, readSuperPassword(zk.super_password_file));
}

/** The `auth` of a reconfig request for this inventory's ensemble; undefined without super_password_file. */
export function superAuth(inv: Inventory): DigestAuth | undefined {
  const file = inv.zookeeper.super_password_file;
  return file === undefined ? undefined : { user: SUPER_USER, password: readSuperPassword(file) };
}

/**
 * What `check` says about the file, at its line: an error when it cannot give
 * a password (missing, unreadable, empty, unusable), as apply would find out
 * later; a warning when users other than its owner may read or change it.
 */
export function superPasswordFindings(inv: Inventory): Finding[] {
  const file = inv.zookeeper.super_password_file;
  if (file === undefined) return [];
  const path = ["zookeeper", "super_password_file"];
  try {
    readSuperPassword(file);
  } catch (cause) {
    if (!(cause instanceof ZkfleetError)) throw cause;
    return [{ severity: "error", code: "super-password-file", path, message: `${cause.message}: ${cause.hint}` }];
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) === 0) return [];
  const message = `${file} has mode 0${mode.toString(8)}: users other than its owner may read or change the super user's password; chmod 600 ${file}`;
  return [{ severity: "warning", code: "super-password-file-mode", path, message }];
}
