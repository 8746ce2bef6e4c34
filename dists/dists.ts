// Builds Apache-layout ZooKeeper binary distributions (the tarballs a
// sysadmin would download from Apache) out of Debian packages, because Debian's
// archive is the only source of ZooKeeper this project can reach. The lab and
// the tests upgrade between these tarballs exactly as a fleet would.
//
// A build: a private apt configuration per Debian suite (the machine's apt
// state is never touched), download zookeeper and every lib*-java package it
// needs, unpack them into a scratch root, and assemble
//   apache-zookeeper-<v>-bin/{bin,conf,lib}/ + zkfleet-dist.json
// from Debian's launch scripts, our zkEnv.sh and configuration, and the jars
// that zookeeper.jar's manifest Class-Path reaches. The tarball and a sidecar
// recording its sha256 are cached; a later call reuses them without a network.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import {
  chmod, copyFile, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, writeFile,
} from "node:fs/promises";
import { basename, dirname, join, posix } from "node:path";
import { packageRoot } from "../common/paths.js";
import { unzipSync, zipSync } from "fflate";
import { ZkfleetError } from "../common/errors.js";
import { KNOWN_ZOOKEEPER_VERSIONS, type VersionFacts, versionFacts } from "../common/versions.js";

export type DebianSuite = VersionFacts["debianSuite"];

/** The ZooKeeper versions we can build, and the Debian suite that carries each (from the one version table). */
export const KNOWN_VERSIONS: Readonly<Record<string, DebianSuite>> = Object.fromEntries(
  KNOWN_ZOOKEEPER_VERSIONS.map((v) => [v, versionFacts(v).debianSuite]),
);

export interface EnsureDistsOptions {
  /** Where tarballs, their sidecars and the private apt state live. */
  cacheDir: string;
  /** Defaults to every known version. */
  versions?: string[];
  onProgress?: (line: string) => void;
  /** Debian mirror to build from; default: the one this machine's apt uses. */
  mirror?: string;
}

/**
 * Java 17 (class file 61) is what the lab's hosts run. Trixie compiles with
 * JDK 21 by default, so a trixie jar could need class file 65, which Java 17
 * refuses at class-load time, long after start-up looked fine. Every shipped
 * jar is checked; the build refuses rather than produce such a distribution.
 * (Today every trixie jar we ship targets Java 8, so no library needs taking
 * from an older suite.)
 */
export const MAX_CLASS_FILE_MAJOR = 61;

/**
 * Bump when the builder's output changes for the same Debian packages, so that
 * cached tarballs made by an older builder are rebuilt. The static files in
 * files/ are part of the recipe already (hashed by content).
 */
const RECIPE_REVISION = "1";

// Resolved from the package root so the sources and the compiled dist/ find the same files.
const DIST_FILES_DIR = join(packageRoot(), "dists", "files") + "/";
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const FALLBACK_MIRROR = "http://deb.debian.org/debian";
const DEBIAN_BIN = "/usr/share/zookeeper/bin";
const ROOT_JAR = "/usr/share/java/zookeeper.jar";
/** Debian's 3.8+ manifests do not name a logging backend; Debian's build logs through these. */
const EXTRA_JARS = ["/usr/share/java/log4j-1.2.jar", "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-log4j12.jar"];
/**
 * Class-Path entries that may be absent. zookeeper.jar (3.8+) names jline.jar,
 * but libzookeeper-java depends on no jline package; jline only adds line
 * editing to an interactive zkCli, which runs without it.
 */
const OPTIONAL_JARS = new Set(["jline.jar"]);

export function tarballName(version: string): string {
  return `apache-zookeeper-${version}-bin.tar.gz`;
}

export async function ensureDists(opts: EnsureDistsOptions): Promise<Map<string, string>> {
  const versions = opts.versions ?? Object.keys(KNOWN_VERSIONS);
  const progress = opts.onProgress ?? (() => {});
  for (const v of versions) suiteFor(v);
  await mkdir(opts.cacheDir, { recursive: true });
  const recipe = await recipeFingerprint();
  const out = new Map<string, string>();
  for (const version of versions) {
    const tarball = join(opts.cacheDir, tarballName(version));
    if (await isCached(tarball, recipe)) {
      progress(`${version}: cached ${tarball}`);
    } else {
      const started = Date.now();
      const mirror = opts.mirror ?? (await debianMirror());
      await buildDist({ version, suite: suiteFor(version), cacheDir: opts.cacheDir, mirror, tarball, recipe, progress });
      progress(`${version}: built ${tarball} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    out.set(version, tarball);
  }
  return out;
}

function suiteFor(version: string): DebianSuite {
  const suite = KNOWN_VERSIONS[version];
  if (!suite) {
    throw new ZkfleetError("usage", `no distribution is known for ZooKeeper ${version}`, {
      where: version,
      hint: `choose one of ${Object.keys(KNOWN_VERSIONS).join(", ")}`,
    });
  }
  return suite;
}

// ---------------------------------------------------------------- cache ---

interface Sidecar {
  sha256: string;
  recipe: string;
  debianVersion: string;
}

function sidecarPath(tarball: string): string {
  return `${tarball}.meta.json`;
}

async function isCached(tarball: string, recipe: string): Promise<boolean> {
  let sidecar: Partial<Sidecar>;
  try {
    sidecar = JSON.parse(await readFile(sidecarPath(tarball), "utf8")) as Partial<Sidecar>;
  } catch {
    return false;
  }
  if (sidecar.recipe !== recipe) return false;
  try {
    return (await sha256File(tarball)) === sidecar.sha256;
  } catch {
    return false;
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function recipeFingerprint(): Promise<string> {
  const hash = createHash("sha256").update(`zkfleet-dist ${RECIPE_REVISION}\n`);
  for (const name of (await readdir(DIST_FILES_DIR)).sort()) {
    hash.update(`${name}\n`).update(await readFile(join(DIST_FILES_DIR, name)));
  }
  return hash.digest("hex");
}

// ------------------------------------------------------------ processes ---

interface RunOptions {
  what: string;
  cwd?: string;
  /** For the error: what the command was working on; default cwd. */
  where?: string;
  timeoutMs?: number;
  hint?: string;
}

function run(cmd: string, args: string[], o: RunOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: o.cwd, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: "C" } },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        const tail = stderr.trim().split("\n").slice(-6).join("\n");
        reject(
          new ZkfleetError("artifact", missing ? `${cmd} is not installed` : `${o.what} failed${tail ? `:\n${tail}` : ""}`, {
            where: o.where ?? o.cwd,
            hint: missing ? `building distributions needs Debian's ${cmd}` : o.hint,
            cause: err,
          }),
        );
      },
    );
  });
}

// ------------------------------------------------------------ apt setup ---

/**
 * The Debian mirror this machine already uses, from apt's sources in deb822
 * (`.sources`) or one-line (`.list`) form: the first http(s) URI serving a
 * plain release (not -security/-updates/-backports).
 */
export function pickDebianMirror(text: string, format: "deb822" | "one-line"): string | undefined {
  const plain = (suites: string[]) => suites.some((s) => !s.includes("-") && !s.includes("/"));
  const http = (uri: string) => /^https?:\/\//.test(uri);
  const lines = text.split("\n").map((l) => l.replace(/#.*/, "").trim());
  if (format === "one-line") {
    for (const line of lines) {
      const words = line.replace(/\[[^\]]*\]/, " ").split(/\s+/).filter(Boolean);
      if (words[0] === "deb" && words[1] && http(words[1]) && plain(words.slice(2, 3))) return words[1];
    }
    return undefined;
  }
  for (const stanza of lines.join("\n").split(/\n\s*\n/)) {
    const field = (name: string) =>
      stanza.match(new RegExp(`^${name}:\\s*(.*)$`, "mi"))?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    const uri = field("URIs").find(http);
    if (uri && field("Types").includes("deb") && plain(field("Suites"))) return uri;
  }
  return undefined;
}

async function debianMirror(): Promise<string> {
  const sources: Array<[string, "deb822" | "one-line"]> = [
    ["/etc/apt/sources.list.d/debian.sources", "deb822"],
    ["/etc/apt/sources.list", "one-line"],
  ];
  for (const [path, format] of sources) {
    const text = await readFile(path, "utf8").catch(() => "");
    const uri = pickDebianMirror(text, format);
    if (uri) return uri.replace(/\/+$/, "");
  }
  return FALLBACK_MIRROR;
}

/** apt-get/apt-cache options for a private state under `dir`: the machine's lists, cache and dpkg status are left alone. */
function aptOptions(dir: string): string[] {
  const opt = (kv: string) => ["-o", kv];
  return [
    ...opt(`Dir::Etc::SourceList=${join(dir, "sources.list")}`),
    ...opt("Dir::Etc::SourceParts=/nonexistent"),
    // The machine's pins must not choose our versions.
    ...opt(`Dir::Etc::Preferences=${join(dir, "preferences")}`),
    ...opt(`Dir::Etc::PreferencesParts=${join(dir, "preferences.d")}`),
    ...opt(`Dir::State::Lists=${join(dir, "lists")}`),
    ...opt(`Dir::Cache=${join(dir, "cache")}`),
    ...opt("Dir::State::Status=/dev/null"),
    ...opt("Debug::NoLocking=1"),
  ];
}

async function prepareApt(dir: string, mirror: string, suite: DebianSuite): Promise<void> {
  for (const sub of ["lists/partial", "cache/archives/partial", "preferences.d"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  if (!(await lstat(KEYRING).catch(() => undefined))) {
    throw new ZkfleetError("artifact", `Debian's archive keyring ${KEYRING} is missing`, {
      where: KEYRING,
      hint: "install it: apt-get install debian-archive-keyring",
    });
  }
  await writeFile(join(dir, "sources.list"), `deb [signed-by=${KEYRING}] ${mirror} ${suite} main\n`);
}

/**
 * The lib*-java packages libzookeeper-java needs, transitively. The closure is
 * far larger than what ends up in lib/ (tomcat, eclipse-jdt...), but only apt
 * knows which package ships which jar; the Class-Path walk picks the jars.
 */
export function javaLibraryClosure(aptCacheDependsOutput: string): string[] {
  const names = new Set<string>();
  for (const line of aptCacheDependsOutput.split("\n")) {
    if (/^lib\S*-java$/.test(line.trim()) && !/^\s/.test(line)) names.add(line.trim());
  }
  return [...names].sort();
}

// ---------------------------------------------------------------- jars ---

export interface JarReport {
  /** Manifest Class-Path entries, as written. */
  classPath: string[];
  /** Highest class file major version among classes Java 17 would load. */
  maxMajor: number;
  /** A class that needs a newer Java than MAX_CLASS_FILE_MAJOR, if any. */
  tooNew?: { entry: string; major: number };
  signed: boolean;
}

/** Main-section attributes of a JAR manifest (continuation lines joined). */
export function parseManifest(text: string): Map<string, string> {
  const attrs = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    if (line.startsWith(" ") && last) {
      attrs.set(last, attrs.get(last) + line.slice(1));
    } else {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      last = line.slice(0, colon).toLowerCase();
      attrs.set(last, line.slice(colon + 1).trim());
    }
  }
  return attrs;
}

/** The manifest without its main-section Class-Path attribute, byte for byte otherwise. */
export function stripClassPath(text: string): string {
  const lines = text.split(/(?<=\n)/);
  const kept: string[] = [];
  let inMain = true;
  let skipping = false;
  for (const line of lines) {
    if (inMain && /^\r?\n$/.test(line)) inMain = false;
    if (inMain && skipping && line.startsWith(" ")) continue;
    skipping = inMain && /^class-path:/i.test(line);
    if (!skipping) kept.push(line);
  }
  return kept.join("");
}

/**
 * Multi-release jars keep classes for newer Javas under META-INF/versions/<n>/;
 * Java 17 ignores n > 17, so those may be newer. module-info is never loaded
 * from the class path.
 */
function loadedOnJava17(entry: string): boolean {
  if (!entry.endsWith(".class") || entry.endsWith("module-info.class")) return false;
  const mr = entry.match(/^META-INF\/versions\/(\d+)\//);
  return !mr || Number(mr[1]) <= MAX_CLASS_FILE_MAJOR - 44;
}

export function inspectJar(files: Record<string, Uint8Array>): JarReport {
  const manifest = files["META-INF/MANIFEST.MF"];
  const attrs = manifest ? parseManifest(Buffer.from(manifest).toString("utf8")) : new Map<string, string>();
  const report: JarReport = {
    classPath: (attrs.get("class-path") ?? "").split(/\s+/).filter(Boolean),
    maxMajor: 0,
    signed: Object.keys(files).some((n) => /^META-INF\/[^/]+\.(SF|RSA|DSA|EC)$/i.test(n)),
  };
  for (const [entry, bytes] of Object.entries(files)) {
    if (!loadedOnJava17(entry) || bytes.length < 8) continue;
    if (bytes[0] !== 0xca || bytes[1] !== 0xfe || bytes[2] !== 0xba || bytes[3] !== 0xbe) continue;
    const major = (bytes[6]! << 8) | bytes[7]!;
    report.maxMajor = Math.max(report.maxMajor, major);
    if (major > MAX_CLASS_FILE_MAJOR && !report.tooNew) report.tooNew = { entry, major };
  }
  return report;
}

export function assertLoadableOnJava17(jarPath: string, report: JarReport): void {
  const { tooNew } = report;
  if (!tooNew) return;
  throw new ZkfleetError(
    "artifact",
    `${jarPath} contains ${tooNew.entry} for Java ${tooNew.major - 44} (class file ${tooNew.major}); the lab runs Java 17 (class file ${MAX_CLASS_FILE_MAJOR})`,
    { where: jarPath, hint: "take this library from an older Debian suite, or run a newer JDK" },
  );
}

/** Follows symlinks inside an unpacked root: absolute link targets are read as paths in the root, not on the host. */
async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    const st = await lstat(join(root, current)).catch(() => undefined);
    if (!st) return undefined;
    if (!st.isSymbolicLink()) return st.isFile() ? current : undefined;
    const target = await readlink(join(root, current));
    current = posix.resolve(posix.dirname(current), target);
  }
  return undefined;
}

interface ShippedJar {
  /** Name in lib/. */
  name: string;
  /** The path that named it (root jar, extra or Class-Path entry). */
  via: string;
  /** Real file in the unpacked root. */
  real: string;
  report: JarReport;
  bytes: Uint8Array;
  files: Record<string, Uint8Array>;
}

interface JarClosure {
  jars: ShippedJar[];
  skipped: Array<{ path: string; reason: string }>;
}

/** The ZooKeeper jars get Apache's versioned names; zkEnv.sh finds them by those. */
function libName(realPath: string, version: string): string {
  const name = posix.basename(realPath);
  const zk = name.match(/^(zookeeper(?:-jute)?)(?:-[0-9][0-9.]*)?\.jar$/);
  return zk ? `${zk[1]}-${version}.jar` : name;
}

async function collectJars(root: string, version: string): Promise<JarClosure> {
  const closure: JarClosure = { jars: [], skipped: [] };
  const seen = new Set<string>();
  const queue = [ROOT_JAR, ...EXTRA_JARS];
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    const real = await resolveInRoot(root, path);
    if (!real) {
      if (OPTIONAL_JARS.has(posix.basename(path))) {
        closure.skipped.push({ path, reason: "optional (interactive zkCli line editing); no package in the closure ships it" });
        continue;
      }
      throw new ZkfleetError("artifact", `${path} is needed by the ZooKeeper ${version} class path but no downloaded package ships it`, {
        where: path,
        hint: "the Debian packaging changed; find the package that ships it (apt-file search) and extend the closure in dists/dists.ts",
      });
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const bytes = await readFile(join(root, real));
    const files = unzipSync(bytes);
    const report = inspectJar(files);
    closure.jars.push({ name: libName(real, version), via: path, real, report, bytes, files });
    for (const entry of report.classPath) {
      const target = decodeURIComponent(entry.replace(/^file:/, ""));
      queue.push(posix.resolve(posix.dirname(path), target));
    }
  }
  return closure;
}

/**
 * Writes a jar into lib/, refusing classes Java 17 cannot load. Class-Path is
 * removed: Debian's entries are absolute /usr/share/java paths, which would
 * make the distribution load whatever the host has installed there ahead of
 * its own lib/ (the JVM searches a jar's Class-Path right after the jar).
 */
async function writeLibJar(jar: ShippedJar, libDir: string): Promise<void> {
  const { report } = jar;
  assertLoadableOnJava17(jar.real, report);
  const dest = join(libDir, jar.name);
  if (report.classPath.length === 0) {
    await writeFile(dest, jar.bytes);
    return;
  }
  if (report.signed) {
    throw new ZkfleetError("artifact", `${jar.real} is signed and names a Class-Path, which cannot be removed without breaking the signature`, {
      where: jar.real,
      hint: "ship it unchanged and put lib/ ahead of it on the class path",
    });
  }
  const manifest = Buffer.from(jar.files["META-INF/MANIFEST.MF"]!).toString("utf8");
  // The manifest goes first, as java.util.jar.JarInputStream expects.
  const ordered: Record<string, Uint8Array> = { "META-INF/MANIFEST.MF": Buffer.from(stripClassPath(manifest), "utf8") };
  for (const [name, bytes] of Object.entries(jar.files)) {
    if (name !== "META-INF/MANIFEST.MF") ordered[name] = bytes;
  }
  await writeFile(dest, zipSync(ordered, { level: 6 }));
}


// ---------------------------------------------------------------- debs ---

interface DebInfo {
  file: string;
  package: string;
  version: string;
  /** Paths it ships, absolute as installed (/usr/share/java/x.jar). */
  paths: Set<string>;
}

/** "1:4.1.48-7+deb12u2" → "4.1.48": no epoch, no Debian revision. */
export function upstreamVersion(debianVersion: string): string {
  return debianVersion.replace(/^\d+:/, "").replace(/-[^-]*$/, "");
}

async function readDeb(file: string): Promise<DebInfo> {
  const what = `reading ${basename(file)}`;
  const fields = await run("dpkg-deb", ["-f", file, "Package", "Version"], { what });
  const field = (name: string) => fields.match(new RegExp(`^${name}:\\s*(\\S+)`, "m"))?.[1] ?? "";
  const paths = new Set<string>();
  // "-rw-r--r-- root/root 53147 2022-11-27 14:01 ./usr/share/java/x.jar[ -> target]"
  for (const line of (await run("dpkg-deb", ["-c", file], { what })).split("\n")) {
    const path = line.match(/^\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+\.(\/.*?)(?: -> .*)?$/)?.[1];
    if (path) paths.add(path);
  }
  return { file: basename(file), package: field("Package"), version: field("Version"), paths };
}

// ------------------------------------------------------------- assembly ---

/** Our own files and where they go in the distribution. */
const OWN_FILES: Record<string, string> = {
  "zkEnv.sh": "bin",
  "log4j.properties": "conf",
  "zoo_sample.cfg": "conf",
};
const DEBIAN_SCRIPTS = ["zkServer.sh", "zkCli.sh", "zkCleanup.sh"];

interface Assembly {
  version: string;
  suite: DebianSuite;
  mirror: string;
  recipe: string;
  root: string;
  distDir: string;
  debs: DebInfo[];
  zookeeperDeb: DebInfo;
}

async function assemble(a: Assembly): Promise<void> {
  for (const sub of ["bin", "conf", "lib"]) await mkdir(join(a.distDir, sub), { recursive: true });
  const owner = (path: string) => a.debs.find((d) => d.paths.has(path));

  const scripts = [];
  for (const script of DEBIAN_SCRIPTS) {
    const from = `${DEBIAN_BIN}/${script}`;
    const real = await resolveInRoot(a.root, from);
    if (!real) {
      throw new ZkfleetError("artifact", `${a.zookeeperDeb.file} has no ${from}`, {
        where: a.zookeeperDeb.file,
        hint: "the Debian packaging changed; adapt DEBIAN_SCRIPTS in dists/dists.ts",
      });
    }
    const dest = join(a.distDir, "bin", script);
    await copyFile(join(a.root, real), dest);
    await chmod(dest, 0o755);
    scripts.push({ file: `bin/${script}`, from, package: owner(real)?.package });
  }
  for (const [name, sub] of Object.entries(OWN_FILES)) {
    const dest = join(a.distDir, sub, name);
    await copyFile(join(DIST_FILES_DIR, name), dest);
    await chmod(dest, sub === "bin" ? 0o755 : 0o644);
  }

  const closure = await collectJars(a.root, a.version);
  const byName = new Map<string, ShippedJar>();
  for (const jar of closure.jars) {
    const clash = byName.get(jar.name);
    if (clash) {
      throw new ZkfleetError("artifact", `two different jars would both be lib/${jar.name}: ${clash.real} and ${jar.real}`, {
        where: jar.real,
        hint: "rename one of them in libName() in dists/dists.ts",
      });
    }
    byName.set(jar.name, jar);
    await writeLibJar(jar, join(a.distDir, "lib"));
  }

  const provenance = {
    zookeeperVersion: a.version,
    debianVersion: a.zookeeperDeb.version,
    suite: a.suite,
    mirror: a.mirror,
    builtBy: "zkfleet dists/dists.ts",
    recipe: a.recipe,
    maxClassFileMajor: Math.max(...closure.jars.map((j) => j.report.maxMajor)),
    classFileMajorLimit: MAX_CLASS_FILE_MAJOR,
    scripts,
    ownFiles: Object.entries(OWN_FILES).map(([name, sub]) => `${sub}/${name}`),
    jars: closure.jars.map((j) => ({
      file: `lib/${j.name}`,
      from: j.via,
      real: j.real,
      package: owner(j.real)?.package,
      packageVersion: owner(j.real)?.version,
      classFileMajor: j.report.maxMajor,
      classPathRemoved: j.report.classPath.length > 0,
    })),
    skipped: closure.skipped,
    debs: a.debs.map((d) => ({ package: d.package, version: d.version, file: d.file })),
  };
  await writeFile(join(a.distDir, "zkfleet-dist.json"), JSON.stringify(provenance, null, 2) + "\n");
}

async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** tar to a temporary name, then rename, so a reader never sees half a tarball; the sidecar follows. */
async function pack(stageDir: string, distName: string, tarball: string, sidecar: Omit<Sidecar, "sha256">): Promise<void> {
  const tmp = `${tarball}.tmp-${process.pid}`;
  try {
    await run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-czf", tmp, "-C", stageDir, distName], {
      what: `packing ${basename(tarball)}`,
      hint: `check free space in ${dirname(tarball)}`,
    });
    const sha256 = await sha256File(tmp);
    await rename(tmp, tarball);
    await writeFileAtomic(sidecarPath(tarball), JSON.stringify({ sha256, ...sidecar }, null, 2) + "\n");
  } finally {
    await rm(tmp, { force: true });
  }
}

// ---------------------------------------------------------------- build ---

interface BuildRequest {
  version: string;
  suite: DebianSuite;
  cacheDir: string;
  mirror: string;
  tarball: string;
  recipe: string;
  progress: (line: string) => void;
}

async function buildDist(req: BuildRequest): Promise<void> {
  const { version, suite, mirror, progress } = req;
  const aptDir = join(req.cacheDir, "apt", suite);
  await prepareApt(aptDir, mirror, suite);
  const apt = aptOptions(aptDir);
  const where = `${mirror} ${suite}`;
  const netHint = `the Debian mirror ${mirror} must be reachable (by default it is the one in this machine's apt sources); check that \`apt-get update\` works`;

  progress(`${version}: apt-get update for ${suite} from ${mirror}`);
  await run("apt-get", [...apt, "-q", "--error-on=any", "update"], {
    what: `apt-get update for ${suite}`, where, timeoutMs: 600_000, hint: netHint,
  });
  const depends = await run(
    "apt-cache",
    [...apt, "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
      "--no-replaces", "--no-enhances", "libzookeeper-java"],
    { what: `resolving libzookeeper-java in ${suite}`, where, hint: `Debian ${suite} main must carry libzookeeper-java` },
  );
  const packages = ["zookeeper", ...javaLibraryClosure(depends)];

  const work = await mkdtemp(join(req.cacheDir, `.build-${version}-`));
  try {
    const debsDir = join(work, "debs");
    const root = join(work, "root");
    const stage = join(work, "stage");
    await mkdir(debsDir);
    progress(`${version}: downloading ${packages.length} packages`);
    await run("apt-get", [...apt, "-q", "download", ...packages], {
      cwd: debsDir, what: `downloading ${packages.length} packages from ${suite}`, where, timeoutMs: 900_000, hint: netHint,
    });
    const debs: DebInfo[] = [];
    for (const file of (await readdir(debsDir)).filter((n) => n.endsWith(".deb")).sort()) {
      debs.push(await readDeb(join(debsDir, file)));
      await run("dpkg-deb", ["-x", join(debsDir, file), root], { what: `unpacking ${file}` });
    }
    const zookeeperDeb = debs.find((d) => d.package === "zookeeper");
    if (!zookeeperDeb || upstreamVersion(zookeeperDeb.version) !== version) {
      throw new ZkfleetError("artifact", `Debian ${suite} carries zookeeper ${zookeeperDeb?.version ?? "(none)"}, not ${version}`, {
        where,
        hint: "update debianSuite in common/versions.ts to the versions the suites carry",
      });
    }

    progress(`${version}: assembling from ${zookeeperDeb.file}`);
    const distName = `apache-zookeeper-${version}-bin`;
    await assemble({ version, suite, mirror, recipe: req.recipe, root, distDir: join(stage, distName), debs, zookeeperDeb });
    await pack(stage, distName, req.tarball, { recipe: req.recipe, debianVersion: zookeeperDeb.version });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
