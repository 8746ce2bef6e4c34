// Debian's side of a build: the mirror, a private apt configuration per
// suite, the Java library closure apt resolves, and reading .deb files and
// the root they are unpacked into.
import { lstat, mkdir, readFile, readlink, writeFile } from "node:fs/promises";
import { basename, join, posix } from "node:path";
import { ZkfleetError } from "../common/errors.js";
import type { VersionFacts } from "../common/versions.js";
import { run } from "./run.js";

export type DebianSuite = VersionFacts["debianSuite"];

const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const FALLBACK_MIRROR = "http://deb.debian.org/debian";

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

export async function debianMirror(): Promise<string> {
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
export function aptOptions(dir: string): string[] {
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

export async function prepareApt(dir: string, mirror: string, suite: DebianSuite): Promise<void> {
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

export interface DebInfo {
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

export async function readDeb(file: string): Promise<DebInfo> {
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

/** Follows symlinks inside an unpacked root: absolute link targets are read as paths in the root, not on the host. */
export async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
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
