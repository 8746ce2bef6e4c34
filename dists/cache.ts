// The artifact cache: a tarball per version with a sidecar recording its
// sha256 and the recipe that built it. The recipe fingerprint covers our own
// files in dists/files and RECIPE_REVISION, so a change to either rebuilds.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { packageRoot } from "../common/paths.js";
import { run } from "./run.js";

/**
 * Bump when the builder's output changes for the same Debian packages, so that
 * cached tarballs made by an older builder are rebuilt. The static files in
 * files/ are part of the recipe already (hashed by content).
 */
const RECIPE_REVISION = "1";

// Resolved from the package root so the sources and the compiled dist/ find the same files.
export const DIST_FILES_DIR = join(packageRoot(), "dists", "files") + "/";

export function tarballName(version: string): string {
  return `apache-zookeeper-${version}-bin.tar.gz`;
}

interface Sidecar {
  sha256: string;
  recipe: string;
  debianVersion: string;
}

function sidecarPath(tarball: string): string {
  return `${tarball}.meta.json`;
}

export async function isCached(tarball: string, recipe: string): Promise<boolean> {
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

export async function recipeFingerprint(): Promise<string> {
  const hash = createHash("sha256").update(`zkfleet-dist ${RECIPE_REVISION}\n`);
  for (const name of (await readdir(DIST_FILES_DIR)).sort()) {
    hash.update(`${name}\n`).update(await readFile(join(DIST_FILES_DIR, name)));
  }
  return hash.digest("hex");
}

async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** tar to a temporary name, then rename, so a reader never sees half a tarball; the sidecar follows. */
export async function pack(stageDir: string, distName: string, tarball: string, sidecar: Omit<Sidecar, "sha256">): Promise<void> {
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
