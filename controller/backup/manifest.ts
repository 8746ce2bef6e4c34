// A backup directory: the physical files (files/snapshot.*, files/log.*),
// the logical export (export.jsonl) and manifest.json, which names every
// file with its size and sha256. A backup is written into DIR.partial-<pid>
// and renamed to DIR only once whole, so a directory with a manifest is a
// backup that finished; restore still checks every byte before it acts.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { ZkfleetError } from "../../common/errors.js";
import { type FileNode, checkExportFile } from "../data/read-file.js";
import { sha256File } from "../../common/sha256-file.js";

export const MANIFEST = "manifest.json";
export const EXPORT_FILE = "export.jsonl";
export const FILES_DIR = "files";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const Zxid = z.string().regex(/^0x[0-9a-f]+$/);
const FileEntry = z.strictObject({
  name: z.string().regex(/^(snapshot|log)\.[0-9a-f]{1,16}$/),
  kind: z.enum(["snapshot", "log"]),
  /** From the name: the snapshot's zxid, a log's first. */
  zxid: Zxid,
  size: z.number().int().nonnegative(),
  sha256: Sha256,
  /** Logs: whole records copied, and the last one's zxid. */
  records: z.number().int().nonnegative().optional(),
  last_zxid: Zxid.nullable().optional(),
  /** Logs: where a record torn by the copy began (zeroed from there on). */
  cut_at: z.number().int().nonnegative().nullable().optional(),
});
export type FileEntry = z.infer<typeof FileEntry>;

export const Manifest = z.strictObject({
  format: z.literal("zkfleet-backup"),
  version: z.literal(1),
  ensemble: z.string(),
  /** The inventory's ZooKeeper version, and what the source server said it runs. */
  zookeeper_version: z.string(),
  server_version: z.string().nullable(),
  source: z.strictObject({ host: z.string(), mode: z.string(), zxid: Zxid.nullable(), leader_zxid: Zxid.nullable() }),
  snapshot: FileEntry,
  logs: z.array(FileEntry),
  /** Logs after a torn one: left out, since replaying them would skip the transactions cut. */
  dropped_logs: z.array(z.string()),
  /** The last transaction the physical files hold: the restored tree is the tree at this zxid. */
  last_zxid: Zxid,
  export: z.strictObject({ file: z.literal(EXPORT_FILE), size: z.number().int().nonnegative(), sha256: Sha256, nodes: z.number().int().nonnegative(), digest: z.string() }),
  started: z.string(),
  finished: z.string(),
});
export type Manifest = z.infer<typeof Manifest>;

function corrupt(dir: string, file: string, what: string): ZkfleetError {
  return new ZkfleetError("usage", `backup ${dir}: ${file} ${what}; nothing was touched`, {
    where: join(dir, file),
    hint: "this backup cannot be restored as it is: restore another backup, or take a new one with `zkfleet backup`",
  });
}

/** The manifest, after every file it names was found whole (size, sha256) and the export read through to its end line. */
export async function verifyBackup(dir: string, inspect?: (n: FileNode) => void): Promise<{ manifest: Manifest; id: string }> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), "utf8");
  } catch (cause) {
    throw new ZkfleetError("usage", `${dir} holds no ${MANIFEST}: it is not a finished backup; nothing was touched`, {
      where: join(dir, MANIFEST), hint: "give the directory `zkfleet backup -o` wrote (a DIR.partial-* one is a backup that never finished)", cause,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw corrupt(dir, MANIFEST, "is not JSON");
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) throw corrupt(dir, MANIFEST, `does not describe a backup: ${z.prettifyError(parsed.error)}`);
  const manifest = parsed.data;
  const files = [
    ...[manifest.snapshot, ...manifest.logs].map((f) => ({ rel: join(FILES_DIR, f.name), size: f.size, sha256: f.sha256 })),
    { rel: EXPORT_FILE, size: manifest.export.size, sha256: manifest.export.sha256 },
  ];
  for (const f of files) {
    const st = await stat(join(dir, f.rel)).catch(() => undefined);
    if (!st?.isFile()) throw corrupt(dir, f.rel, "is missing");
    if (st.size !== f.size) throw corrupt(dir, f.rel, `has ${st.size} bytes, the manifest says ${f.size} (truncated or replaced)`);
    const sum = await sha256File(join(dir, f.rel));
    if (sum !== f.sha256) throw corrupt(dir, f.rel, `has sha256 ${sum}, the manifest says ${f.sha256} (its content changed)`);
  }
  const summary = await checkExportFile(join(dir, EXPORT_FILE), inspect);
  if (summary.end?.digest !== manifest.export.digest) throw corrupt(dir, EXPORT_FILE, `ends with digest ${summary.end?.digest ?? "none"}, the manifest says ${manifest.export.digest}`);
  return { manifest, id: createHash("sha256").update(text).digest("hex") };
}
