// backup_source, read_chunk and restore_data through the real bundle over
// the LocalConnection, on real files in a temp directory (no ZooKeeper: the
// lab tests do that). A snapshot counts as complete by its tail, as
// ZooKeeper decides; restore_data touches nothing until every file checks.

import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { inflateRawSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentCall } from "../../controller/agent-client/client.js";
import { call, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("backup-ops");
});
afterAll(async () => {
  await h?.cleanup();
});

const COMPLETE = Buffer.concat([Buffer.from("snapshot body..."), Buffer.from([0, 0, 0, 1, 0x2f])]);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("backup_source and read_chunk", () => {
  it("picks the newest complete snapshot and the logs from the one holding it on", async () => {
    const v2 = join(h.dir, "src", "version-2");
    await mkdir(v2, { recursive: true });
    await writeFile(join(v2, "snapshot.100000005"), COMPLETE);
    await writeFile(join(v2, "snapshot.100000009"), Buffer.from("half written")); // no tail yet
    for (const l of ["log.100000001", "log.100000004", "log.100000008"]) await writeFile(join(v2, l), Buffer.alloc(1000));
    await writeFile(join(v2, "acceptedEpoch"), "1");
    const r = await agentCall(h.conn, h.agent, "backup_source", { data_dir: join(h.dir, "src") });
    expect(r.changed).toBe(false);
    expect(r.data.snapshot).toMatchObject({ name: "snapshot.100000005", zxid: "0x100000005", size: COMPLETE.length });
    expect(r.data.logs.map((l) => l.name)).toEqual(["log.100000004", "log.100000008"]);
    expect(r.data.incomplete_snapshots).toEqual(["snapshot.100000009"]);
  });

  it("refuses a directory with logs and no complete snapshot", async () => {
    const v2 = join(h.dir, "logs-only", "version-2");
    await mkdir(v2, { recursive: true });
    await writeFile(join(v2, "log.100000001"), Buffer.alloc(100));
    const r = await call(h, { op: "backup_source", args: { data_dir: join(h.dir, "logs-only") } });
    expect(r).toMatchObject({ error: { code: "not_found" } });
  });

  it("reads a piece, deflated, with the sha256 of its raw bytes; only data files", async () => {
    const path = join(h.dir, "src", "version-2", "snapshot.100000005");
    const r = await agentCall(h.conn, h.agent, "read_chunk", { path, offset: 3, length: 1000 });
    const bytes = inflateRawSync(Buffer.from(r.data.deflated, "base64"));
    expect(bytes.equals(COMPLETE.subarray(3))).toBe(true);
    expect(r.data).toMatchObject({ offset: 3, bytes: COMPLETE.length - 3, sha256: sha(COMPLETE.subarray(3)) });
    // Sent raw: the controller's own check would stop it first.
    const raw = await h.conn.run([h.agent.node, h.agent.remotePath], { stdin: JSON.stringify({ op: "read_chunk", args: { path: "/etc/shadow", offset: 0, length: 10 } }) + "\n" });
    const answer = JSON.parse(raw.stdout.trim().split("\n")[1]!) as { result: { error?: { code: string; message: string } } };
    expect(answer.result.error?.code).toBe("invalid_request");
    expect(answer.result.error?.message).toContain("must be a snapshot.<zxid> or log.<zxid> in a version-2 directory");
  });
});

describe("restore_data", () => {
  const data = () => join(h.dir, "dst");
  const marker = () => join(h.dir, "state", "restore-x.json");
  const staged = async (name: string, content: Buffer) => {
    const path = join(h.dir, "staging", name);
    await mkdir(join(h.dir, "staging"), { recursive: true });
    await writeFile(path, content);
    return { name, staged: path, size: content.length, sha256: sha(content) };
  };

  it("touches nothing when a pushed file does not match its sha256", async () => {
    await mkdir(join(data(), "version-2"), { recursive: true });
    await writeFile(join(data(), "version-2", "log.1"), "old");
    const good = await staged("snapshot.100000005", COMPLETE);
    const bad = { ...(await staged("log.100000004", Buffer.alloc(50))), sha256: "0".repeat(64) };
    const r = await call(h, { op: "restore_data", args: { data_dir: data(), files: [good, bad], marker: { path: marker(), content: "{}" } } });
    expect(r).toMatchObject({ error: { code: "refused" } });
    expect("error" in r && r.error.message).toContain("log.100000004");
    expect(await readdir(join(data(), "version-2"))).toEqual(["log.1"]);
    await expect(readFile(marker())).rejects.toThrow();
  });

  it("moves the old state aside, writes the files and the marker, and removes what was pushed", async () => {
    const files = [await staged("snapshot.100000005", COMPLETE), await staged("log.100000004", Buffer.alloc(50, 7))];
    const r = await agentCall(h.conn, h.agent, "restore_data", { data_dir: data(), files, marker: { path: marker(), content: '{"run":"r1"}\n' } });
    expect(r.changed).toBe(true);
    expect(r.data.moved.map((m) => m.from)).toEqual([join(data(), "version-2")]);
    expect((await readdir(join(data(), "version-2"))).sort()).toEqual(["log.100000004", "snapshot.100000005"]);
    expect((await readFile(join(data(), "version-2", "snapshot.100000005"))).equals(COMPLETE)).toBe(true);
    expect(await readFile(r.data.moved[0]!.to + "/log.1", "utf8")).toBe("old");
    expect(await readFile(marker(), "utf8")).toBe('{"run":"r1"}\n');
    expect(await readdir(join(h.dir, "staging"))).toEqual([]);
  });
});
