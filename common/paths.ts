// Where zkfleet's own files live. Resolved from this module, never from the
// working directory, so the CLI behaves the same wherever it is run from;
// the walk up works both from the sources and from dist/.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
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

/** The artifact cache of ZooKeeper distributions: $ZKFLEET_ARTIFACTS or <package>/artifacts. */
export function defaultArtifactsDir(env: NodeJS.ProcessEnv): string {
  return env.ZKFLEET_ARTIFACTS ?? join(packageRoot(), "artifacts");
}
