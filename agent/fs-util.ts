// File-system helpers shared by the operations. Writes are atomic (temp file
// in the same directory, fsync, rename) so a crash never leaves a half-written
// zoo.cfg or myid behind, and nothing here ever deletes user data.

import { chmod, lstat, mkdir, readFile, readdir, readlink, rename, rm, stat, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ZkfleetError } from "../common/errors.js";
export { sha256File as sha256Of } from "../common/sha256-file.js";
import { syncToDisk, tempSibling, writeFileAtomic } from "../common/atomic-file.js";
export { syncToDisk, tempSibling } from "../common/atomic-file.js";

/** A sortable, file-name-safe timestamp: 2025-01-31T12-00-00-123Z. */
export function timestamp(now: Date = new Date()): string {
  return now.toISOString().replace(/[:.]/g, "-");
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** The value, or null when the path (or a directory on the way) does not exist. */
async function unlessMissing<T>(io: Promise<T>): Promise<T | null> {
  try {
    return await io;
  } catch (err) {
    if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return null;
    throw err;
  }
}

export const lstatIfExists = (path: string) => unlessMissing(lstat(path));

export async function exists(path: string): Promise<boolean> {
  return (await lstatIfExists(path)) !== null;
}

export const readIfExists = (path: string): Promise<Buffer | null> => unlessMissing(readFile(path));

export const statIfExists = (path: string) => unlessMissing(stat(path));

export const readlinkIfExists = (path: string): Promise<string | null> => unlessMissing(readlink(path));

/** Directory entries, sorted, or [] when the directory does not exist. */
export async function listDir(path: string): Promise<string[]> {
  return ((await unlessMissing(readdir(path))) ?? []).sort();
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await statIfExists(path))?.isDirectory() ?? false;
}

/** Replace `path` with `content` at `mode` so readers see the old or the new file, never a mix; its directory is made. */
export async function writeAtomic(path: string, content: string | Buffer, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, content, mode);
}

/** Point `link` at `target`, replacing any previous link in one rename. */
export async function symlinkAtomic(target: string, link: string): Promise<void> {
  const temp = tempSibling(link);
  await symlink(target, temp);
  try {
    await rename(temp, link);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncToDisk(dirname(link));
}

/**
 * A directory only its owner may enter (agent.dir's state: the lock, backups
 * of config files that may hold a secret), made when missing and tightened
 * when an older zkfleet left it 0755.
 */
export async function privateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o700);
}

/**
 * Create a fresh directory `<parent>/<stamp>` (suffixing -1, -2... when two
 * calls land in the same millisecond) so moves and backups never overwrite
 * an earlier one.
 */
export async function freshStampDir(parent: string, stamp: string = timestamp(), mode = 0o777): Promise<string> {
  await mkdir(parent, { recursive: true });
  for (let n = 0; n < 1000; n++) {
    const dir = join(parent, n === 0 ? stamp : `${stamp}-${n}`);
    try {
      await mkdir(dir, { mode });
      return dir;
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
    }
  }
  throw new ZkfleetError("agent", `could not create a fresh directory under ${parent}`, { where: parent });
}
