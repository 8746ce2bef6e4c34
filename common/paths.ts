// Where zkfleet's own files live. Resolved from this module, never from the
// working directory, so the CLI behaves the same wherever it is run from;
// the walk up works both from the sources and from dist/.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "zkfleet") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("zkfleet package root not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The version in zkfleet's own package.json. */
export function packageVersion(): string {
  return String(JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")).version);
}

/** True when zkfleet runs from an installed package (npm install -g), not from a checkout. */
export function isInstalledPackage(root = packageRoot()): boolean {
  return root.split(sep).includes("node_modules");
}

/**
 * The artifact cache of ZooKeeper distributions: $ZKFLEET_ARTIFACTS, else
 * <package>/artifacts in a checkout, else ~/.zkfleet/artifacts. An installed
 * package's directory is replaced by every upgrade (and is often not the
 * user's to write), which would throw away distributions that take minutes to
 * build, so an installed zkfleet keeps them beside its journal instead.
 */
export function defaultArtifactsDir(env: NodeJS.ProcessEnv): string {
  if (env.ZKFLEET_ARTIFACTS !== undefined) return env.ZKFLEET_ARTIFACTS;
  const root = packageRoot();
  return isInstalledPackage(root) ? join(env.HOME ?? homedir(), ".zkfleet", "artifacts") : join(root, "artifacts");
}
