// The sync checkpoint on disk: round trip, what a match means, and the
// refusals (another source/target pair, not JSON, a bad entry) that must
// come before a sync touches anything.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { Checkpoint } from "../../controller/data/checkpoint.js";
import type { Stat } from "../../controller/zk/protocol.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stat = (mzxid: number, cversion = 0, aversion = 0): Stat => ({
  czxid: 1, mzxid, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion, aversion, dataLength: 0, numChildren: 0, ephemeralOwner: "0",
});

describe("sync checkpoint", () => {
  it("starts fresh without a file, and saves and loads what it recorded", async () => {
    const file = join(dir, "a.ckpt");
    const cp = await Checkpoint.load(file, "zk:a:2181", "zk:b:2181");
    expect(cp.size).toBe(0);
    cp.record("/x", stat(5, 2, 1));
    cp.record("/x/y", stat(6));
    cp.initialDone = true;
    await cp.save(file);
    expect(readdirSync(dir)).toEqual(["a.ckpt"]);
    const again = await Checkpoint.load(file, "zk:a:2181", "zk:b:2181");
    expect(again.initialDone).toBe(true);
    expect(again.matches("/x", stat(5, 2, 1))).toBe(true);
    // Any of data, children (counter) or ACL moved: not the node that was copied.
    for (const moved of [stat(7, 2, 1), stat(5, 3, 1), stat(5, 2, 2)]) expect(again.matches("/x", moved)).toBe(false);
    expect(again.matches("/z", stat(5))).toBe(false);
    again.forget("/x");
    expect([again.has("/x"), again.has("/x/y"), again.size]).toEqual([false, false, 0]);
  });

  it("keeps only the paths a full pass saw", () => {
    const cp = Checkpoint.fresh("zk:a:2181", "zk:b:2181");
    for (const p of ["/a", "/b", "/c"]) cp.record(p, stat(1));
    expect(cp.keepOnly(new Set(["/a", "/c"]))).toBe(1);
    expect([cp.has("/a"), cp.has("/b"), cp.has("/c")]).toEqual([true, false, true]);
  });

  it("refuses another pair's checkpoint, and one that is not JSON or has a bad entry, naming the file", async () => {
    const file = join(dir, "b.ckpt");
    await Checkpoint.fresh("zk:a:2181", "zk:b:2181").save(file);
    const other = await Checkpoint.load(file, "zk:c:2181", "zk:b:2181").catch((e: unknown) => e);
    expect(other).toBeInstanceOf(ZkfleetError);
    expect((other as ZkfleetError).message).toContain("is the checkpoint of a sync from zk:a:2181 to zk:b:2181, not from zk:c:2181 to zk:b:2181");

    writeFileSync(file, "{\"format\":");
    const truncated = await Checkpoint.load(file, "zk:a:2181", "zk:b:2181").catch((e: unknown) => e);
    expect((truncated as ZkfleetError).message).toMatch(/not a usable sync checkpoint: not JSON/);
    expect((truncated as ZkfleetError).where).toBe(file);

    writeFileSync(file, JSON.stringify({ format: "zkfleet-sync-checkpoint", version: 1, source: "zk:a:2181", target: "zk:b:2181", initialDone: false, saved: "", nodes: { "/x": [1, 2] } }));
    const bad = await Checkpoint.load(file, "zk:a:2181", "zk:b:2181").catch((e: unknown) => e);
    expect((bad as ZkfleetError).message).toMatch(/not a usable sync checkpoint: nodes\.\/x: /);
  });
});
