// write_file: make a file hold exactly `content` at `mode`, keeping a backup of
// whatever it held before, and show the change as a unified diff.

import { chmod, readFile } from "node:fs/promises";
import { join } from "node:path";
import { unifiedDiff } from "../../common/diff.js";
import { freshStampDir, lstatIfExists, privateDir, writeAtomic } from "../fs-util.js";
import { done, failed, type OpOutcome } from "../outcome.js";
import type { OpArgs } from "../../common/protocol.js";

const octal = (mode: number) => `0${mode.toString(8).padStart(3, "0")}`;

async function current(path: string): Promise<{ content: Buffer; mode: number } | null | "not-a-file"> {
  const st = await lstatIfExists(path);
  if (st === null) return null;
  if (!st.isFile()) return "not-a-file";
  return { content: await readFile(path), mode: st.mode & 0o7777 };
}

export async function writeFileOp(args: OpArgs<"write_file">): Promise<OpOutcome<"write_file">> {
  const { path, content, mode } = args;
  const before = await current(path);
  if (before === "not-a-file") {
    return failed(
      "refused",
      `${path} exists but is not a regular file (a directory, device or symbolic link)`,
      "Point write_file at the real file path, or remove the entry by hand if it is left over.",
    );
  }
  const oldText = before === null ? null : before.content.toString("utf8");
  const contentChanged = oldText !== content;
  const modeChanged = before !== null && before.mode !== mode;
  const data = { path, mode, backup: null };
  if (!contentChanged && !modeChanged) return done(false, `${path} is up to date`, data);

  let diff = contentChanged ? unifiedDiff(path, oldText, content) : "";
  if (modeChanged) diff += `mode ${octal(before.mode)} -> ${octal(mode)}\n`;
  const what = before === null ? "create" : contentChanged ? "update" : "change the mode of";

  if (!contentChanged) {
    await chmod(path, mode);
    return done(true, `changed the mode of ${path} to ${octal(mode)}`, data, diff);
  }
  let backup: string | null = null;
  if (before !== null) {
    const backups = join(args.state_dir, "backups");
    await privateDir(args.state_dir);
    await privateDir(backups);
    backup = join(await freshStampDir(backups, undefined, 0o700), path);
    await writeAtomic(backup, before.content, before.mode);
  }
  await writeAtomic(path, content, mode);
  const message = `${before === null ? "created" : "updated"} ${path}`;
  return done(true, backup ? `${message} (previous content in ${backup})` : message, { ...data, backup }, diff);
}
