// The jars a distribution ships: manifest inspection, the Class-Path walk
// from zookeeper.jar that picks them, the Java 17 loadability check, and
// writing them into lib/ without Debian's absolute Class-Path.
import { readFile, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { unzipSync, zipSync } from "fflate";
import { ZkfleetError } from "../common/errors.js";
import { resolveInRoot } from "./debian.js";

/**
 * Java 17 (class file 61) is what the lab's hosts run. Trixie compiles with
 * JDK 21 by default, so a trixie jar could need class file 65, which Java 17
 * refuses at class-load time, long after start-up looked fine. Every shipped
 * jar is checked; the build refuses rather than produce such a distribution.
 * (Today every trixie jar we ship targets Java 8, so no library needs taking
 * from an older suite.)
 */
export const MAX_CLASS_FILE_MAJOR = 61;

const ROOT_JAR = "/usr/share/java/zookeeper.jar";
/** Debian's 3.8+ manifests do not name a logging backend; Debian's build logs through these. */
const EXTRA_JARS = ["/usr/share/java/log4j-1.2.jar", "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-log4j12.jar"];
/**
 * Class-Path entries that may be absent. zookeeper.jar (3.8+) names jline.jar,
 * but libzookeeper-java depends on no jline package; jline only adds line
 * editing to an interactive zkCli, which runs without it.
 */
const OPTIONAL_JARS = new Set(["jline.jar"]);

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

export interface ShippedJar {
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

export async function collectJars(root: string, version: string): Promise<JarClosure> {
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
        hint: "the Debian packaging changed; find the package that ships it (apt-file search) and extend the closure in dists/build.ts",
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
export async function writeLibJar(jar: ShippedJar, libDir: string): Promise<void> {
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
