// Rendering the files a host needs from an inventory. Templates stay
// logic-light: every decision (which address to print, whether reconfig is
// really on, which settings pass through) is made here in a view object, so
// a user's own template gets the same decisions for free.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import { ZkfleetError } from "../../common/errors.js";
import { addressKind } from "../inventory/validators.js";
import { lineName, presentHosts } from "../model/hosts.js";
import { MANAGED_MARK } from "./mark.js";
import { PRECOMPILED, type PrecompiledTemplate } from "./precompiled.js";
import { SUPER_DIGEST_PROPERTY, superDigestFor } from "../inventory/super-user.js";
import { FOUR_LETTER_WORDS, versionFacts, type VersionFacts } from "../../common/versions.js";
import type { HostSpec, Inventory, ZookeeperSpec } from "../inventory/schema.js";

export { findHostsConflicts, mergeHostsBlock, removeHostsBlock, type HostsConflict } from "./hosts-block.js";

export interface RenderedFile {
  /** Absolute path on the host. */
  path: string;
  content: string;
  mode: number;
}

export interface RenderOptions {
  /** Replaces the built-in templates directory (the inventory's `templates` still wins file by file). */
  templatesDir?: string;
  /** Render a configuration other than the target (a step of a membership change). */
  membership?: Membership;
  /** Templates compiled ahead (default: those the bundle carries; none when run from source). */
  precompiled?: Readonly<Record<string, PrecompiledTemplate>>;
}

export interface ServerView {
  id: number;
  /** What the server line names: the host's name when /etc/hosts is managed, else its address. */
  host: string;
  quorumPort: number;
  electionPort: number;
  role: HostSpec["role"];
  observer: boolean;
  /** Client address for 3.5+ server lines; empty means all interfaces. */
  clientAddress: string;
  clientPort: number;
}

/** Everything a template can use. Absent things are "" or false, never missing, so strict templates work. */
export interface TemplateView {
  header: string;
  ensemble: string;
  version: string;
  facts: VersionFacts;
  zookeeper: ZookeeperSpec;
  host: HostSpec & { observer: boolean };
  servers: ServerView[];
  /** zoo.cfg pass-through settings, sorted by key so output is stable. */
  settings: { key: string; value: string }[];
  clientPortAddress: string;
  adminServerAddress: string;
  fourLetterWords: string;
  dynamicConfigFile: string;
  hostsEntries: { address: string; name: string }[];
  log: { rootLogger: string; rootLoggerProp: string; file: string };
  /** SERVER_JVMFLAGS: the heap, and the super digest when there is one. */
  jvmFlags: string;
  /** super:<digest> the servers grant super rights to (reconfig needs them), or "". Never the password. */
  superDigest: string;
  /** The argument file SERVER_JVMFLAGS names for it (superDigestArgsPath), or "". */
  superDigestArgs: string;
  /** The systemd unit's decisions; paths are escaped for a unit file (% doubled). */
  unit: UnitView;
}

export interface UnitView {
  user: string;
  /** The release whose zkServer.sh ExecStart runs, and why that one (a comment in the unit). */
  home: string;
  homeWhy: string;
  configDir: string;
  /** Directories the server writes, space-separated, made its user's before it starts ("" when it runs as root). */
  ownedDirs: string;
  /** Files only zkfleet and the server may read (0600), space-separated, made the server's user's before it starts ("" as root). */
  ownedFiles: string;
}

/** Where the unit is installed and the name systemctl knows it by: the one place both come from. */
export const SYSTEMD_UNIT = { name: "zookeeper.service", path: "/etc/systemd/system/zookeeper.service" } as const;

const HEADER = `${MANAGED_MARK}, do not edit`;

/** Brackets an IPv6 literal where it is followed by `:port`. */
function hostPortHost(address: string): string {
  return addressKind(address) === "ipv6" ? `[${address}]` : address;
}

export { lineName, presentHosts };

function serverViews(inv: Inventory, members: readonly HostSpec[]): ServerView[] {
  const zk = inv.zookeeper;
  return [...members]
    .sort((a, b) => a.myid - b.myid)
    .map((host) => ({
      id: host.myid,
      host: inv.hosts_file === "managed" ? hostPortHost(lineName(host)) : hostPortHost(host.address),
      quorumPort: zk.quorum_port,
      electionPort: zk.election_port,
      role: host.role,
      observer: host.role === "observer",
      clientAddress: zk.bind_to_address ? hostPortHost(host.address) : "",
      clientPort: zk.client_port,
    }));
}

function logView(zk: ZookeeperSpec): TemplateView["log"] {
  // Under zkServer.sh stdout goes to an .out file that nothing rotates, so the
  // console appender is only switched on where journald takes stdout.
  const appenders = zk.service === "systemd" ? ["ROLLINGFILE", "CONSOLE"] : ["ROLLINGFILE"];
  return {
    rootLogger: ["INFO", ...appenders].join(", "),
    rootLoggerProp: ["INFO", ...appenders].join(","),
    file: posix.join(zk.log_dir, "zookeeper.log"),
  };
}

/** One server as reconfig takes it (3.5+ form, client part included): the line the dynamic file gives it. */
export function serverSpecLine(inv: Inventory, host: HostSpec): string {
  const [v] = serverViews(inv, [host]);
  return `server.${v!.id}=${v!.host}:${v!.quorumPort}:${v!.electionPort}:${v!.role};${v!.clientAddress ? `${v!.clientAddress}:` : ""}${v!.clientPort}`;
}

/** A unit file takes % as the start of a specifier; the inventory's paths allow no other character systemd reads specially. */
const unitPath = (path: string) => path.replace(/%/g, "%%");

function unitView(zk: ZookeeperSpec, superDigest: string): UnitView {
  const user = zk.user ?? "root";
  const secret = [envFilePath(zk), ...(superDigest ? [superDigestArgsPath(zk)] : [])];
  const pre = zk.preinstalled?.version === zk.version ? zk.preinstalled : undefined;
  const owned = [zk.data_dir, ...(zk.data_log_dir ? [zk.data_log_dir] : []), zk.log_dir];
  return {
    user,
    home: unitPath(pre ? pre.home : posix.join(zk.install_dir, "current")),
    homeWhy: pre
      ? "The release found at adoption, used where it lies; an upgrade moves this line to install_dir/current."
      : "Through the current link: an upgrade switches the link and restarts the unit; this file does not change.",
    configDir: unitPath(zk.config_dir),
    ownedDirs: user === "root" ? "" : owned.map(unitPath).join(" "),
    ownedFiles: user === "root" ? "" : secret.map(unitPath).join(" "),
  };
}

/** zkServer.sh's environment (zkEnv.sh sources it; a systemd unit reads it as its EnvironmentFile). */
const envFilePath = (zk: ZookeeperSpec) => posix.join(zk.config_dir, "zookeeper-env.sh");

/**
 * The super digest as a java launcher argument file (`@file` on the command
 * line, expanded by every java launcher since JDK 9): the JVM gets the -D
 * option, while its command line, which ps and /proc/PID/cmdline show to
 * every user, gets only this path. zkServer.sh passes $SERVER_JVMFLAGS to
 * java unquoted, so the path must hold no space or glob character, which
 * remote paths cannot.
 */
export const superDigestArgsPath = (zk: ZookeeperSpec) => posix.join(zk.config_dir, "super-digest.args");

/** Only where reconfig is really on: the digest exists for reconfig, and a server without it needs no secret. */
function superDigestView(zk: ZookeeperSpec): string {
  return dynamicConfigPath(zk) === undefined ? "" : (superDigestFor(zk) ?? "");
}

/** The dynamic config file zkfleet writes, when reconfig is asked for and the version has it. */
export function dynamicConfigPath(zk: ZookeeperSpec): string | undefined {
  // A reconfig request on a version without it is a lint error; render the static form.
  return zk.reconfig && versionFacts(zk.version).supportsReconfig ? posix.join(zk.config_dir, "zoo.cfg.dynamic") : undefined;
}

/**
 * Which servers the rendered files name. Default: the inventory's target.
 * A membership change renders the configurations on its way there, and
 * keeps every name it involves in /etc/hosts until it is done.
 */
export interface Membership {
  servers: readonly HostSpec[];
  names: readonly HostSpec[];
}

/** `superDigest`: computed once per renderer (it reads the password file), else here. */
export function templateView(inv: Inventory, host: HostSpec, membership?: Membership, superDigest: string = superDigestView(inv.zookeeper)): TemplateView {
  const servers = membership?.servers ?? presentHosts(inv);
  const names = membership?.names ?? presentHosts(inv);
  const zk = inv.zookeeper;
  const facts = versionFacts(zk.version);
  const bind = zk.bind_to_address;
  const settings = Object.entries(zk.config)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => ({ key, value }));
  const userWhitelist = zk.config["4lw.commands.whitelist"] !== undefined;
  return {
    header: HEADER,
    ensemble: inv.ensemble,
    version: zk.version,
    facts,
    zookeeper: zk,
    host: { ...host, observer: host.role === "observer" },
    servers: serverViews(inv, servers),
    settings,
    clientPortAddress: bind ? host.address : "",
    adminServerAddress: bind && facts.hasAdminServer ? host.address : "",
    fourLetterWords: facts.supports4lwWhitelist && !userWhitelist ? FOUR_LETTER_WORDS.join(",") : "",
    dynamicConfigFile: dynamicConfigPath(zk) ?? "",
    // A server its line names by address needs no line here.
    hostsEntries: [...names].sort((a, b) => a.myid - b.myid).filter((h) => addressKind(lineName(h)) === "hostname")
      .map((h) => ({ address: h.address, name: lineName(h) })),
    log: logView(zk),
    // Base64 has no character the unquoted $SERVER_JVMFLAGS in zkServer.sh would split or glob on.
    jvmFlags: `-Xms${zk.heap_mb}m -Xmx${zk.heap_mb}m${superDigest ? ` @${superDigestArgsPath(zk)}` : ""}`,
    superDigest,
    superDigestArgs: superDigest ? superDigestArgsPath(zk) : "",
    unit: unitView(zk, superDigest),
  };
}

/** The templates directory shipped with zkfleet, found from this module whether it runs from source or dist/. */
export function builtinTemplatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    const candidate = join(dir, "templates");
    if (existsSync(join(candidate, "zoo.cfg.hbs"))) return candidate;
    dir = dirname(dir);
  }
  throw new ZkfleetError("usage", "cannot find zkfleet's templates directory", {
    hint: "reinstall zkfleet, or pass a templates directory explicitly",
  });
}

/** Only sh's single quotes: nothing inside them is special, a quote itself is closed, escaped and reopened. */
export function shellQuote(value: unknown): string {
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

/** How every template is compiled, at run time or ahead (precompileTemplates). */
const COMPILE_OPTIONS = { noEscape: true, strict: true } as const;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The templates of a directory compiled ahead, as JavaScript source per file
 * name: scripts/bundle-controller.mjs writes the built-in ones into the
 * bundle (precompiled.ts says why).
 */
export function precompileTemplates(dir: string = builtinTemplatesDir()): Record<string, { sha256: string; spec: string }> {
  const out: Record<string, { sha256: string; spec: string }> = {};
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".hbs")).sort()) {
    const text = readFileSync(join(dir, name), "utf8");
    out[name] = { sha256: sha256(text), spec: Handlebars.precompile(text, COMPILE_OPTIONS) as string };
  }
  return out;
}

class TemplateSet {
  private readonly handlebars = Handlebars.create();
  /** Compiling is most of what rendering costs (tens of ms per host): each template once per set. */
  private readonly compiled = new Map<string, { path: string; template: HandlebarsTemplateDelegate }>();

  constructor(
    private readonly dirs: readonly string[],
    private readonly ensemble: string,
    private readonly precompiled: Readonly<Record<string, PrecompiledTemplate>>,
  ) {
    this.handlebars.registerHelper("shq", shellQuote);
    const partial = this.source("_server-lines.hbs");
    this.handlebars.registerPartial("server-lines", this.ahead("_server-lines.hbs", partial.text) ?? partial.text);
  }

  /** The template compiled ahead, when this is the text it was compiled from. */
  private ahead(name: string, text: string): HandlebarsTemplateDelegate | undefined {
    const pre = this.precompiled[name];
    return pre !== undefined && pre.sha256 === sha256(text) ? this.handlebars.template(pre.spec) : undefined;
  }

  private readonly sources = new Map<string, { text: string; path: string }>();

  /** Reads these templates now: rendering after that touches no file. */
  preload(names: readonly string[]): this {
    for (const name of names) this.source(name);
    return this;
  }

  private source(name: string): { text: string; path: string } {
    const known = this.sources.get(name);
    if (known) return known;
    const path = this.dirs.map((dir) => join(dir, name)).find((candidate) => existsSync(candidate));
    if (path === undefined) {
      throw new ZkfleetError("inventory", `template ${name} not found in ${this.dirs.join(" or ")}`, {
        where: this.dirs.join(", "),
        hint: `restore ${name} in the templates directory`,
      });
    }
    const found = { text: readFileSync(path, "utf8"), path };
    this.sources.set(name, found);
    return found;
  }

  render(name: string, view: TemplateView): string {
    let entry = this.compiled.get(name);
    if (entry === undefined) {
      const { text, path } = this.source(name);
      entry = { path, template: this.ahead(name, text) ?? this.handlebars.compile(text, COMPILE_OPTIONS) };
      this.compiled.set(name, entry);
    }
    const { path, template } = entry;
    try {
      return template(view);
    } catch (error) {
      throw new ZkfleetError("inventory", `template ${path} failed for ensemble ${this.ensemble}: ${(error as Error).message}`, {
        where: path,
        hint: "fix the template; the fields it can use are those of TemplateView in controller/render/render.ts",
        cause: error,
      });
    }
  }
}

function templateSet(inv: Inventory, opts: RenderOptions): TemplateSet {
  const dirs = [opts.templatesDir ?? builtinTemplatesDir()];
  if (inv.templates !== undefined) {
    if (!existsSync(inv.templates) || !statSync(inv.templates).isDirectory()) {
      throw new ZkfleetError("inventory", `templates directory ${inv.templates} does not exist`, {
        where: "templates",
        hint: "create it, or remove the templates key to use the built-in templates",
      });
    }
    dirs.unshift(inv.templates);
  }
  return new TemplateSet(dirs, inv.ensemble, opts.precompiled ?? PRECOMPILED);
}

const FILE_MODE = 0o644;
/** Files that hold or point at a secret: zkfleet's agent and the server's user (owner) only. */
const PRIVATE_MODE = 0o600;

/** The files one host needs: zoo.cfg (+ dynamic file), env file and log4j config in config_dir; myid in data_dir; the unit under systemd. */
export function renderHostFiles(inv: Inventory, host: HostSpec, opts: RenderOptions = {}): RenderedFile[] {
  return hostFilesRenderer(inv, opts)(host);
}

/** renderHostFiles for every host of an inventory, the templates compiled once for all of them. */
export function hostFilesRenderer(inv: Inventory, opts: RenderOptions = {}): (host: HostSpec) => RenderedFile[] {
  const templates = templateSet(inv, opts);
  return (host) => hostFiles(inv, host, opts, templates);
}

function hostFiles(inv: Inventory, host: HostSpec, opts: RenderOptions, templates: TemplateSet, superDigest?: string): RenderedFile[] {
  const view = templateView(inv, host, opts.membership, superDigest);
  const zk = inv.zookeeper;
  const inConfig = (name: string, template: string, mode = FILE_MODE): RenderedFile => ({
    path: posix.join(zk.config_dir, name),
    content: templates.render(template, view),
    mode,
  });
  const files = [inConfig("zoo.cfg", "zoo.cfg.hbs")];
  if (view.dynamicConfigFile !== "") files.push(inConfig("zoo.cfg.dynamic", "zoo.cfg.dynamic.hbs"));
  files.push(inConfig("zookeeper-env.sh", "zookeeper-env.sh.hbs", PRIVATE_MODE), inConfig("log4j.properties", "log4j.properties.hbs"));
  if (view.superDigestArgs !== "") {
    files.push({ path: view.superDigestArgs, content: `-D${SUPER_DIGEST_PROPERTY}=${view.superDigest}\n`, mode: PRIVATE_MODE });
  }
  files.push({ path: posix.join(zk.data_dir, "myid"), content: templates.render("myid.hbs", view), mode: FILE_MODE });
  if (zk.service === "systemd") files.push({ path: SYSTEMD_UNIT.path, content: templates.render("zookeeper.service.hbs", view), mode: FILE_MODE });
  return files;
}

/** The /etc/hosts block for the ensemble, markers included; put it in place with mergeHostsBlock. */
export function renderHostsBlock(inv: Inventory, opts: RenderOptions = {}): string {
  const [first] = inv.hosts;
  if (first === undefined) throw new ZkfleetError("inventory", "the inventory has no hosts", { where: "hosts" });
  return templateSet(inv, opts).render("hosts-block.hbs", templateView(inv, first, opts.membership));
}

/** Every template a host's files and the /etc/hosts block may need. */
const TEMPLATES = ["zoo.cfg.hbs", "zoo.cfg.dynamic.hbs", "zookeeper-env.sh.hbs", "log4j.properties.hbs", "myid.hbs", "zookeeper.service.hbs", "hosts-block.hbs"];

/**
 * Rendering for planning: the templates read and the super digest worked out
 * now, so that every call after this one does no I/O and the planner may
 * call it (plan/membership/change.ts MembershipRenderer). A membership change
 * renders the configurations on its way with it.
 */
export function configRenderer(inv: Inventory, opts: RenderOptions = {}): {
  hostFiles: (host: HostSpec, membership?: Membership) => RenderedFile[];
  hostsBlock: (membership?: Membership) => string;
  serverSpecLine: (host: HostSpec) => string;
} {
  // Only the templates this inventory's files use: a user's templates directory need not have the others.
  const needed = TEMPLATES.filter((t) => (t !== "zookeeper.service.hbs" || inv.zookeeper.service === "systemd") &&
    (t !== "zoo.cfg.dynamic.hbs" || dynamicConfigPath(inv.zookeeper) !== undefined) && (t !== "hosts-block.hbs" || inv.hosts_file === "managed"));
  const templates = templateSet(inv, opts).preload(needed);
  const superDigest = superDigestView(inv.zookeeper);
  const [first] = inv.hosts;
  return {
    hostFiles: (host, membership) => hostFiles(inv, host, { ...opts, ...(membership ? { membership } : {}) }, templates, superDigest),
    hostsBlock: (membership) => {
      if (first === undefined) throw new ZkfleetError("inventory", "the inventory has no hosts", { where: "hosts" });
      return templates.render("hosts-block.hbs", templateView(inv, first, membership ?? opts.membership, superDigest));
    },
    serverSpecLine: (host) => serverSpecLine(inv, host),
  };
}

/** zkfleet's record of the membership it applied, on every host: another controller sees it too. */
export const membershipRecordPath = (inv: Inventory) => posix.join(inv.agent.dir, "state", `membership-${inv.ensemble}.json`);
