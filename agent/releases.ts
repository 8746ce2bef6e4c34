// Layout of an install directory: releases/<version>/ side by side, and a
// `current` symlink naming the one in use, so an upgrade or a rollback is a
// single atomic symlink switch.
//
// An adopted ensemble also has a release zkfleet did not install: the one
// unpacked by hand (the Apache tarball in /opt/zookeeper, the usual manual install). It is used where it lies and
// never copied: until zkfleet first switches `current`, that release is the
// current one, and switching back to it points `current` at its home.

import { basename, dirname, join, resolve } from "node:path";
import { exists, isDirectory, listDir, readlinkIfExists } from "./fs-util.js";

export const releasesDir = (installDir: string) => join(installDir, "releases");
export const currentLink = (installDir: string) => join(installDir, "current");

/** A release found on the host at adoption, outside install_dir. */
export interface Preinstalled {
  version: string;
  home: string;
}

/** Relative for zkfleet's own releases, so the whole install directory can be moved or mounted elsewhere. */
export function currentTarget(version: string, pre?: Preinstalled): string {
  return pre !== undefined && pre.version === version ? pre.home : `releases/${version}`;
}

const isRelease = (home: string) => exists(join(home, "bin", "zkServer.sh"));

/** Release names present; dot-entries are unpack temp dirs and never count. */
export async function installedReleases(installDir: string, pre?: Preinstalled): Promise<string[]> {
  const names: string[] = [];
  for (const name of await listDir(releasesDir(installDir))) {
    if (!name.startsWith(".") && (await isDirectory(join(releasesDir(installDir), name)))) names.push(name);
  }
  if (pre !== undefined && !names.includes(pre.version) && (await isRelease(pre.home))) names.push(pre.version);
  return names;
}

/** The version `current` points at, or its raw target when it points outside releases/. */
export async function currentRelease(installDir: string, pre?: Preinstalled): Promise<string | null> {
  const target = await readlinkIfExists(currentLink(installDir));
  if (target === null) return pre !== undefined && (await isRelease(pre.home)) ? pre.version : null;
  const absolute = resolve(installDir, target);
  if (pre !== undefined && absolute === resolve(pre.home)) return pre.version;
  return dirname(absolute) === releasesDir(installDir) ? basename(absolute) : target;
}

/** The directory whose bin/zkServer.sh starts the server: `current`, or the preinstalled home before zkfleet ever switched. */
export async function currentHome(installDir: string, pre?: Preinstalled): Promise<string> {
  const link = currentLink(installDir);
  if (pre !== undefined && (await readlinkIfExists(link)) === null) return pre.home;
  return link;
}
