// The subset of ~/.ssh/config that decides where and as whom zkfleet connects,
// so a host reachable with plain `ssh name` is reachable by zkfleet the same way.
// Supported: Host (patterns, `*`, `?`, `!negation`), Match all, HostName, User,
// Port, IdentityFile, ProxyJump, UserKnownHostsFile, ConnectTimeout,
// StrictHostKeyChecking accept-new. Other keywords (Include, Match with
// criteria, ...) are ignored: a Match block with criteria never applies.
//
// Precedence (highest first), one field at a time:
//   1. explicit values in the inventory (and CLI flags the caller folded in),
//   2. ~/.ssh/config, first obtained value wins as in OpenSSH
//      (IdentityFile accumulates across matching blocks, as in OpenSSH),
//   3. OpenSSH's defaults: port 22, local user name, ~/.ssh/id_{rsa,ecdsa,ed25519},
//      ~/.ssh/known_hosts; zkfleet's: 10 s connect timeout, strict host keys, no become.

import { readFile } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import { ZkfleetError } from "../../common/errors.js";
import { matchPatternList } from "./known-hosts.js";
import type { SshTarget } from "./ssh.js";

export interface SshConfigOption {
  /** Lower-cased keyword. */
  keyword: string;
  args: string[];
  line: number;
}

export interface SshConfigBlock {
  /** Host patterns; empty for a block that can never apply (Match with criteria). */
  patterns: string[];
  options: SshConfigOption[];
}

/** Settings ~/.ssh/config gives one host alias, validated. */
export interface SshConfigHost {
  hostname?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  proxyJump?: string;
  userKnownHostsFile?: string;
  connectTimeoutMs?: number;
  acceptNewHostKeys?: boolean;
}

/** What an inventory may say about reaching a host; every field optional. */
export interface InventorySsh {
  address?: string;
  port?: number;
  user?: string;
  identityFiles?: string[];
  knownHostsFile?: string;
  acceptNewHostKeys?: boolean;
  become?: boolean;
  /** OpenSSH syntax: `[user@]host[:port]`, comma-separated hops, or "none". */
  proxyJump?: string;
  connectTimeoutMs?: number;
  agentSocket?: string;
}

/** The controller's side: passed in so resolution stays pure and testable. */
export interface SshEnvironment {
  homeDir: string;
  localUser: string;
  agentSocket?: string;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_IDENTITIES = ["~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ed25519"];
/** A jump chain longer than this is a loop in the config (e.g. `Host *` with a ProxyJump). */
const MAX_JUMPS = 8;

export function defaultSshEnvironment(): SshEnvironment {
  const agentSocket = process.env.SSH_AUTH_SOCK;
  return { homeDir: homedir(), localUser: userInfo().username, ...(agentSocket ? { agentSocket } : {}) };
}

/** ~/.ssh/config's text, or undefined when there is none. */
export async function readUserSshConfig(env: SshEnvironment): Promise<string | undefined> {
  try {
    return await readFile(join(env.homeDir, ".ssh", "config"), "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ZkfleetError("ssh", `cannot read ${join(env.homeDir, ".ssh", "config")}`, { cause });
  }
}

export function parseSshConfig(text: string, file = "~/.ssh/config"): SshConfigBlock[] {
  const blocks: SshConfigBlock[] = [{ patterns: ["*"], options: [] }];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const match = /^([^\s=]+)\s*(?:=\s*)?(.*)$/.exec(trimmed);
    if (!match) return;
    const keyword = (match[1] ?? "").toLowerCase();
    const args = splitArgs(match[2] ?? "", `${file}:${line}`);
    if (keyword === "host") blocks.push({ patterns: args.map((a) => a.toLowerCase()), options: [] });
    else if (keyword === "match") blocks.push({ patterns: args.length === 1 && args[0]?.toLowerCase() === "all" ? ["*"] : [], options: [] });
    else blocks[blocks.length - 1]?.options.push({ keyword, args, line });
  });
  return blocks;
}

/** Whitespace-separated words; double quotes group words, as in ssh_config. */
function splitArgs(text: string, where: string): string[] {
  if ((text.match(/"/g)?.length ?? 0) % 2 === 1) {
    throw new ZkfleetError("inventory", "unbalanced double quote in ssh config", { where, hint: "close the quote" });
  }
  return [...text.matchAll(/"([^"]*)"|([^\s"]+)/g)].map((m) => m[1] ?? m[2] ?? "");
}

export function lookupSshConfig(blocks: readonly SshConfigBlock[], alias: string, file = "~/.ssh/config"): SshConfigHost {
  const found: SshConfigHost = { identityFiles: [] };
  const first = new Map<string, SshConfigOption>();
  for (const block of blocks) {
    if (!matchPatternList(block.patterns, alias.toLowerCase())) continue;
    for (const option of block.options) {
      if (option.keyword === "identityfile") found.identityFiles.push(...option.args.slice(0, 1));
      else if (!first.has(option.keyword)) first.set(option.keyword, option);
    }
  }
  const value = (keyword: string) => first.get(keyword)?.args[0];
  const where = (keyword: string) => `${file}:${first.get(keyword)?.line}`;
  const assign = <K extends keyof SshConfigHost>(key: K, v: SshConfigHost[K] | undefined) => {
    if (v !== undefined) found[key] = v;
  };
  assign("hostname", value("hostname"));
  assign("user", value("user"));
  assign("proxyJump", value("proxyjump"));
  assign("userKnownHostsFile", value("userknownhostsfile"));
  const port = value("port");
  if (port !== undefined) found.port = parsePort(port, where("port"));
  const timeout = value("connecttimeout");
  if (timeout !== undefined) {
    if (!/^\d+$/.test(timeout) || Number(timeout) === 0) {
      throw new ZkfleetError("inventory", `ConnectTimeout "${timeout}" is not a positive number of seconds`, { where: where("connecttimeout") });
    }
    found.connectTimeoutMs = Number(timeout) * 1000;
  }
  // Only accept-new maps: zkfleet never connects to a host whose key changed, whatever "no" would mean to ssh.
  const strict = value("stricthostkeychecking")?.toLowerCase();
  if (strict === "accept-new") found.acceptNewHostKeys = true;
  else if (strict === "yes") found.acceptNewHostKeys = false;
  return found;
}

function parsePort(text: string | number, where: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ZkfleetError("inventory", `port "${text}" is not a TCP port (1-65535)`, { where });
  }
  return port;
}

/**
 * The SshTarget for an inventory host: see the precedence at the top of this
 * file. `host` is both the inventory name and the alias matched against Host.
 */
export function resolveSshTarget(
  host: string,
  inventorySsh: InventorySsh = {},
  sshConfigText?: string,
  env: SshEnvironment = defaultSshEnvironment(),
): SshTarget {
  const blocks = sshConfigText === undefined ? [] : parseSshConfig(sshConfigText);
  return resolveWith(blocks, host, inventorySsh, env, 0);
}

function resolveWith(
  blocks: readonly SshConfigBlock[],
  host: string,
  inv: InventorySsh,
  env: SshEnvironment,
  depth: number,
): SshTarget {
  if (depth > MAX_JUMPS) {
    throw new ZkfleetError("inventory", `ProxyJump chain for ${host} is longer than ${MAX_JUMPS} hops`, {
      where: host,
      hint: "a ProxyJump under `Host *` also applies to the jump host itself; exclude it with `Host * !jumphost`",
    });
  }
  const cfg = lookupSshConfig(blocks, host);
  const hostname = inv.address ?? (cfg.hostname === undefined ? host : expandTokens(cfg.hostname, { "%": "%", h: host }));
  const user = inv.user ?? cfg.user ?? env.localUser;
  const port = inv.port === undefined ? (cfg.port ?? 22) : parsePort(inv.port, `${host}: ssh.port`);
  const tokens = { "%": "%", d: env.homeDir, h: hostname, u: env.localUser, r: user, p: String(port), n: host };
  const path = (p: string) => expandTokens(expandTilde(p, env.homeDir), tokens);
  const identityFiles = inv.identityFiles ?? (cfg.identityFiles.length > 0 ? cfg.identityFiles : DEFAULT_IDENTITIES);
  const agentSocket = inv.agentSocket ?? env.agentSocket;
  const jump = inv.proxyJump ?? cfg.proxyJump;
  const target: SshTarget = {
    host,
    hostname,
    port,
    user,
    identityFiles: identityFiles.map(path),
    knownHostsFile: path(inv.knownHostsFile ?? cfg.userKnownHostsFile ?? "~/.ssh/known_hosts"),
    acceptNewHostKeys: inv.acceptNewHostKeys ?? cfg.acceptNewHostKeys ?? false,
    become: inv.become ?? false,
    connectTimeoutMs: inv.connectTimeoutMs ?? cfg.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...(agentSocket ? { agentSocket } : {}),
  };
  if (jump !== undefined && jump.toLowerCase() !== "none") {
    target.proxyJump = resolveJump(blocks, host, jump, inv, env, depth);
  }
  return target;
}

/**
 * `-J a,b` means: reach b through a, then the target through b. So the last hop
 * is this target's jump, and the hops before it become that hop's own chain,
 * overriding whatever ProxyJump the config gives it (as ssh does).
 */
function resolveJump(
  blocks: readonly SshConfigBlock[],
  host: string,
  chain: string,
  inv: InventorySsh,
  env: SshEnvironment,
  depth: number,
): SshTarget {
  const hops = chain.split(",").map((h) => h.trim());
  const hop = parseJumpHop(hops.pop() ?? "", host);
  const inherited: InventorySsh = {
    ...(hop.user ? { user: hop.user } : {}),
    ...(hop.port ? { port: hop.port } : {}),
    ...(hops.length > 0 ? { proxyJump: hops.join(",") } : {}),
    ...pick(inv, ["knownHostsFile", "acceptNewHostKeys", "connectTimeoutMs", "agentSocket"]),
  };
  return resolveWith(blocks, hop.host, inherited, env, depth + 1);
}

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

/** `[user@]host[:port]`, `ssh://[user@]host[:port]`, IPv6 as `[addr]:port`. */
export function parseJumpHop(spec: string, forHost: string): { host: string; user?: string; port?: number } {
  const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:@/]+)(?::([^:]+))?\/?$/.exec(spec);
  if (!m || !m[2]) {
    throw new ZkfleetError("inventory", `ProxyJump "${spec}" is not [user@]host[:port]`, { where: `${forHost}: proxyJump` });
  }
  const host = m[2].replace(/^\[(.*)\]$/, "$1");
  return {
    host,
    ...(m[1] ? { user: m[1] } : {}),
    ...(m[3] ? { port: parsePort(m[3], `${forHost}: proxyJump`) } : {}),
  };
}

function expandTilde(path: string, homeDir: string): string {
  return path === "~" || path.startsWith("~/") ? homeDir + path.slice(1) : path;
}

/** %-tokens of ssh_config(5) TOKENS; an unknown token is left as written. */
function expandTokens(text: string, tokens: Record<string, string>): string {
  return text.replace(/%(.)/g, (whole, t: string) => tokens[t] ?? whole);
}
