// Layout of an install directory: releases/<version>/ side by side, and a
// `current` symlink naming the one in use, so an upgrade or a rollback is a
// single atomic symlink switch.

import { basename, dirname, join, resolve } from "node:path";
import { isDirectory, listDir, readlinkIfExists } from "./fs-util.js";

export const releasesDir = (installDir: string) => join(installDir, "releases");
export const currentLink = (installDir: string) => join(installDir, "current");
/** Relative, so the whole install directory can be moved or mounted elsewhere. */
export const currentTarget = (version: string) => `releases/${version}`;

/** Release names present; dot-entries are unpack temp dirs and never count. */
export async function installedReleases(installDir: string): Promise<string[]> {
  const names: string[] = [];
  for (const name of await listDir(releasesDir(installDir))) {
    if (!name.startsWith(".") && (await isDirectory(join(releasesDir(installDir), name)))) names.push(name);
  }
  return names;
}

/** The version `current` points at, or its raw target when it points outside releases/. */
export async function currentRelease(installDir: string): Promise<string | null> {
  const target = await readlinkIfExists(currentLink(installDir));
  if (target === null) return null;
  const absolute = resolve(installDir, target);
  return dirname(absolute) === releasesDir(installDir) ? basename(absolute) : target;
}
