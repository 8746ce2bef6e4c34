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
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ZkfleetError } from "../common/errors.js";
import { KNOWN_ZOOKEEPER_VERSIONS, versionFacts } from "../common/versions.js";
import { buildDist } from "./build.js";
import { isCached, recipeFingerprint, tarballName } from "./cache.js";
import { type DebianSuite, debianMirror } from "./debian.js";

export { tarballName } from "./cache.js";
export { type DebianSuite, javaLibraryClosure, pickDebianMirror, upstreamVersion } from "./debian.js";
export {
  type JarReport, MAX_CLASS_FILE_MAJOR, assertLoadableOnJava17, inspectJar, parseManifest, stripClassPath,
} from "./jars.js";

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
