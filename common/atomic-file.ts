// Replacing a file so that readers, and a machine that crashes, see the old
// content or the new one, never a mix: a temp file in the same directory
// (one file system, so the rename is atomic), fsync, rename, then fsync of
// the directory so the rename itself survives a crash. Shared by the agent
// (every file it writes) and the controller (local writes, sync checkpoints).
import { constants as fsConstants } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { posix } from "node:path";

/**
 * A name beside `path` that no other writer picks and no glob shows: `.<base>.zkfleet-<pid>-<random>`.
 * Not from node:crypto, which an agent would load for this alone (2-3 ms of its start): every user
 * creates the name exclusively (O_EXCL, a symlink, COPYFILE_EXCL), so a name taken fails a write, never clobbers a file.
 */
export function tempSibling(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.zkfleet-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

/** Puts a file's content, or a directory's entries (a rename or a create in it), on the disk. */
export async function syncToDisk(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replace `path` with `content` at exactly `mode` (the umask does not apply); its directory must exist. */
export async function writeFileAtomic(path: string, content: string | Buffer, mode: number): Promise<void> {
  const temp = tempSibling(path);
  try {
    const handle = await open(temp, "wx", mode);
    try {
      await handle.writeFile(content);
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncToDisk(posix.dirname(path));
}
