// OpenSSH known_hosts, read the way ssh reads it, so zkfleet trusts exactly the
// keys an operator's own `ssh` would trust and refuses the same ones. The file
// format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): optional @marker, host
// patterns (comma-separated, `!` negation, `*`/`?` wildcards, `[host]:port` for
// non-22 ports, or one hashed `|1|salt|hmac` name), key type, base64 key.

import { createHash, createHmac } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import { quoteArg } from "./quote.js";

export interface KnownHostEntry {
  file: string;
  /** 1-based line number, for messages and `ssh-keygen -R`. */
  line: number;
  marker?: "revoked" | "cert-authority";
  hosts: HostSpec;
  /** Key type as the server names it inside the key blob, e.g. "ssh-ed25519". */
  keyType: string;
  key: Buffer;
}

type HostSpec = { hashed: { salt: Buffer; hmac: Buffer } } | { patterns: string[] };

export type HostKeyVerdict =
  | { kind: "known" }
  | { kind: "unknown"; otherTypes: string[] }
  | { kind: "changed"; entry: KnownHostEntry }
  | { kind: "revoked"; entry: KnownHostEntry };

/** Lines ssh would skip (comments, garbage, unknown markers) are skipped here too. */
export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0]?.startsWith("#")) return;
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const name = fields.shift();
      if (name !== "@revoked" && name !== "@cert-authority") return;
      marker = name === "@revoked" ? "revoked" : "cert-authority";
    }
    const [hostField, , keyBase64] = fields;
    if (!hostField || !keyBase64) return;
    const hosts = parseHostField(hostField);
    const key = Buffer.from(keyBase64, "base64");
    const keyType = keyTypeOf(key);
    if (!hosts || !keyType) return;
    entries.push({ file, line: index + 1, hosts, keyType, key, ...(marker ? { marker } : {}) });
  });
  return entries;
}

function parseHostField(field: string): HostSpec | undefined {
  if (!field.startsWith("|")) return { patterns: field.toLowerCase().split(",") };
  const [, magic, salt, hmac] = field.split("|");
  if (magic !== "1" || !salt || !hmac) return undefined;
  return { hashed: { salt: Buffer.from(salt, "base64"), hmac: Buffer.from(hmac, "base64") } };
}

/** The type name a public key blob starts with (SSH wire format: uint32 length, name). */
export function keyTypeOf(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const length = key.readUInt32BE(0);
  if (length === 0 || length > 64 || key.length < 4 + length) return undefined;
  return key.subarray(4, 4 + length).toString("latin1");
}

/** The name ssh looks up: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostName(hostname: string, port: number): string {
  const host = hostname.toLowerCase();
  return port === 22 ? host : `[${host}]:${port}`;
}

/** SHA256 fingerprint exactly as `ssh` and `ssh-keygen -l` print it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if ("hashed" in entry.hosts) {
    const { salt, hmac } = entry.hosts.hashed;
    return createHmac("sha1", salt).update(name).digest().equals(hmac);
  }
  return matchPatternList(entry.hosts.patterns, name);
}

/**
 * An OpenSSH pattern list (known_hosts hosts, ssh_config Host): some pattern
 * matches and no `!pattern` does — a matching negation vetoes the whole list.
 */
export function matchPatternList(patterns: readonly string[], name: string): boolean {
  let positive = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    positive = true;
  }
  return positive;
}

/** OpenSSH glob: `*` any run of characters, `?` exactly one, everything else literal. */
export function wildcardMatch(pattern: string, text: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === "*" ? ".*" : c === "?" ? "." : `\\${c}`));
  return new RegExp(`^${regex}$`, "s").test(text);
}

/**
 * What ssh would decide about `key` presented for `name`: a revoked key loses
 * even against a matching entry; a different key of the same type is a change.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const relevant = entries.filter((e) => e.marker !== "cert-authority" && entryMatches(e, name));
  const revoked = relevant.find((e) => e.marker === "revoked" && e.key.equals(key));
  if (revoked) return { kind: "revoked", entry: revoked };
  const plain = relevant.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.key.equals(key))) return { kind: "known" };
  const sameType = plain.find((e) => e.keyType === keyTypeOf(key));
  if (sameType) return { kind: "changed", entry: sameType };
  return { kind: "unknown", otherTypes: [...new Set(plain.map((e) => e.keyType))] };
}

/** Key types already trusted for `name`, so the handshake can ask for those first as ssh does. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => e.marker === undefined && entryMatches(e, name)).map((e) => e.keyType))];
}

/** Entries of a known_hosts file; a missing file simply knows no host. */
export async function loadKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, "utf8"), file);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new ZkfleetError("ssh", `cannot read known_hosts file ${file}`, {
      where: file,
      hint: "check the file's permissions, or point knownHostsFile at a readable file",
      cause,
    });
  }
}

/**
 * Appends a plain (unhashed) entry: readable by an operator auditing what was
 * accepted, and `ssh-keygen -R` removes it like any other. One write call per
 * line keeps parallel appends from interleaving.
 */
export async function appendKnownHost(file: string, name: string, key: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = "";
  try {
    const existing = await readFile(file, "utf8");
    if (existing.length > 0 && !existing.endsWith("\n")) prefix = "\n";
  } catch {
    // absent: appendFile creates it
  }
  await appendFile(file, `${prefix}${name} ${keyTypeOf(key)} ${key.toString("base64")}\n`, { mode: 0o600 });
}

/** The command that removes a stale entry, quoted for sh: every report of a changed key ends with it. */
export function keygenRemove(file: string, name: string): string {
  return `ssh-keygen -f ${quoteArg(file)} -R ${quoteArg(name)}`;
}

/** The keygenRemove commands in a text, once each: a report about several hosts gives each host's own on its fix line. */
export function keygenRemovesIn(text: string): string[] {
  const quoted = String.raw`'(?:[^']|'\\'')*'`;
  return [...new Set(text.match(new RegExp(String.raw`ssh-keygen -f ${quoted} -R ${quoted}`, "g")) ?? [])];
}

export interface HostKeyContext {
  /** Inventory name of the host. */
  host: string;
  hostname: string;
  port: number;
  knownHostsFile: string;
}

/** A host refused for its key (changed, revoked, unknown): never a host that is merely down. */
export class HostKeyRefusal extends ZkfleetError {}

/** The refusal for a verdict that is not "known", worded for the operator. */
export function hostKeyError(ctx: HostKeyContext, verdict: HostKeyVerdict, key: Buffer): HostKeyRefusal {
  const name = knownHostName(ctx.hostname, ctx.port);
  const presented = `${keyTypeOf(key)} ${fingerprint(key)}`;
  if (verdict.kind === "changed" || verdict.kind === "revoked") {
    const { entry } = verdict;
    const where = `${entry.file}:${entry.line}`;
    if (verdict.kind === "revoked") {
      return new HostKeyRefusal("ssh", `host ${ctx.host} (${name}) presented a REVOKED host key ${presented}; refusing to connect`, {
        where,
        hint: "the key is marked @revoked in known_hosts: do not trust this server until its key is replaced",
      });
    }
    return new HostKeyRefusal(
      "ssh",
      `HOST KEY FOR ${ctx.host} (${name}) HAS CHANGED — possible man-in-the-middle attack. ` +
        `${where} has ${entry.keyType} ${fingerprint(entry.key)}, the server presented ${presented}`,
      {
        where,
        hint:
          `if the change is expected (host reinstalled, key rotated), confirm the new fingerprint out of band, ` +
          `remove the stale entry with: ${keygenRemove(entry.file, name)} and connect again with --accept-new-host-keys`,
      },
    );
  }
  const others = verdict.kind === "unknown" && verdict.otherTypes.length > 0
    ? ` (known_hosts has only ${verdict.otherTypes.join(", ")} for it, which the server no longer offers)`
    : "";
  return new HostKeyRefusal("ssh", `host key of ${ctx.host} (${name}) is not known: ${presented}${others}`, {
    where: ctx.knownHostsFile,
    hint:
      `check the fingerprint out of band, then rerun with --accept-new-host-keys, ` +
      `or add it with: ssh-keyscan -p ${ctx.port} ${quoteArg(ctx.hostname)} >> ${quoteArg(ctx.knownHostsFile)}`,
  });
}
