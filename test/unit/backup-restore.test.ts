// The pure parts of backup and restore: the transaction-log check that cuts
// a torn copy, the choice of the server to copy from, the restore stage in
// apply's plan, the version rule, and which differences from the export a
// write after the copy explains.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { adler32, checkTxnLog } from "../../controller/backup/txn-log.js";
import { chooseBackupSource } from "../../controller/backup/backup.js";
import { versionRefusal } from "../../controller/backup/restore.js";
import { explainDifference } from "../../controller/backup/verify.js";
import { planRestore, type RestoreSpec } from "../../controller/plan/restore.js";
import type { Plan, Step } from "../../controller/plan/steps.js";
import type { Stat } from "../../controller/zk/protocol.js";
import { observedHost } from "../helpers/observed.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-txnlog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A log as FileTxnLog writes it: header, records (checksum, length, TxnHeader..., 'B'), preallocated zeros. */
function txnLog(zxids: bigint[], pad = 4096): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x5a4b4c47, 0);
  head.writeInt32BE(2, 4);
  const records = zxids.map((z) => {
    const body = Buffer.alloc(40);
    body.writeBigInt64BE(0x1234n, 0); // clientId
    body.writeInt32BE(7, 8); // cxid
    body.writeBigInt64BE(z, 12); // zxid
    body.writeInt32BE(1, 36); // type: create
    const frame = Buffer.alloc(12);
    frame.writeBigUInt64BE(BigInt(adler32(body)), 0);
    frame.writeInt32BE(body.length, 8);
    return Buffer.concat([frame, body, Buffer.from("B")]);
  });
  return Buffer.concat([head, ...records, Buffer.alloc(pad)]);
}

describe("a transaction log copied while it was written", () => {
  it("computes Adler-32 as java.util.zip does", () => {
    // Reference values from zlib (python3 -c "import zlib; print(hex(zlib.adler32(...)))"), the same algorithm as Java's Adler32.
    expect(adler32(Buffer.from("Wikipedia"))).toBe(0x11e60398);
    expect(adler32(Buffer.alloc(100_000, 0xff))).toBe(0x149a302c);
  });

  it("reads every whole record and the last zxid", async () => {
    const path = join(dir, "whole");
    writeFileSync(path, txnLog([0x100000001n, 0x100000002n, 0x100000003n]));
    expect(await checkTxnLog(path, true)).toMatchObject({ records: 3, firstZxid: 0x100000001n, lastZxid: 0x100000003n, cutAt: null, empty: false });
  });

  it("cuts at a torn record and zeroes everything after it, so ZooKeeper reads up to it", async () => {
    const path = join(dir, "torn");
    const log = txnLog([0x100000001n, 0x100000002n, 0x100000003n]);
    const second = 16 + 53;
    log[second + 12 + 20]! ^= 0xff; // inside the second record's body: its checksum no longer matches
    writeFileSync(path, log);
    const check = await checkTxnLog(path, true);
    expect(check).toMatchObject({ records: 1, lastZxid: 0x100000001n, cutAt: second });
    const after = readFileSync(path);
    expect(after.length).toBe(log.length);
    expect(after.subarray(0, second).equals(log.subarray(0, second))).toBe(true);
    expect(after.subarray(second).every((b) => b === 0)).toBe(true);
    expect(await checkTxnLog(path, false)).toMatchObject({ records: 1, cutAt: null });
  });

  it("cuts a record whose end-of-record byte is missing, and one running past the end of the file", async () => {
    const noEor = txnLog([0x5n, 0x6n]);
    noEor[16 + 53 + 52] = 0;
    writeFileSync(join(dir, "eor"), noEor);
    expect(await checkTxnLog(join(dir, "eor"), false)).toMatchObject({ records: 1, cutAt: 16 + 53 });
    writeFileSync(join(dir, "short"), txnLog([0x5n, 0x6n], 0).subarray(0, 16 + 53 + 30));
    expect(await checkTxnLog(join(dir, "short"), false)).toMatchObject({ records: 1, cutAt: 16 + 53 });
  });

  it("says a file without a header holds nothing", async () => {
    writeFileSync(join(dir, "empty"), Buffer.alloc(10));
    expect(await checkTxnLog(join(dir, "empty"), false)).toMatchObject({ empty: true, records: 0 });
  });
});

describe("the server a backup is copied from", () => {
  const leader = { host: "zk1", mode: "leader", zxid: 0x100n };
  it("is a follower or observer that reached the leader's zxid, an observer first, never the leader", () => {
    const again = [{ ...leader, zxid: 0x105n }, { host: "zk2", mode: "follower", zxid: 0x101n }, { host: "zk3", mode: "follower", zxid: 0x99n }];
    const hosts = (r: ReturnType<typeof chooseBackupSource>) => ("sources" in r ? r.sources.map((s) => s.host) : r.why);
    expect(hosts(chooseBackupSource([leader], again))).toEqual(["zk2"]);
    expect(chooseBackupSource([leader], again)).toMatchObject({ leaderZxid: 0x100n });
    const more = [...again, { host: "zk4", mode: "observer", zxid: 0x100n }, { host: "zk5", mode: "follower", zxid: 0x104n }];
    expect(hosts(chooseBackupSource([leader], more))).toEqual(["zk4", "zk5", "zk2"]);
  });
  it("is refused when no follower caught up, or no leader answers", () => {
    expect(chooseBackupSource([leader], [leader, { host: "zk2", mode: "follower", zxid: 0x9fn }])).toHaveProperty("why");
    expect(chooseBackupSource([{ host: "zk1" }, { host: "zk2", mode: "follower", zxid: 1n }], [])).toHaveProperty("why");
  });
  it("is the server itself when it serves alone", () => {
    expect(chooseBackupSource([{ host: "zk1", mode: "standalone", zxid: 5n }], [])).toMatchObject({ sources: [{ host: "zk1" }] });
  });
});

describe("restore as a plan", () => {
  const marker = "/opt/zkfleet/state/restore-dst.json";
  const spec: RestoreSpec = {
    backup: "/backups/b1", backupId: "id1", lockRun: "run1", markerPath: marker,
    files: [{ name: "snapshot.100000000", size: 10, sha256: "a".repeat(64) }],
    hosts: Object.fromEntries(["zk4", "zk5", "zk6"].map((h) => [h, { stagingDir: "/opt/zkfleet/restore/id1", args: { data_dir: "/var/lib/zookeeper" } }])),
  };
  const start = (host: string): Step => ({ kind: "start", host, args: { install_dir: "/opt/zookeeper", config_dir: "/etc/zookeeper/conf", data_dir: "/var/lib/zookeeper" }, reason: "down" });
  const plan = (steps: Step[][]): Plan => ({
    target: { name: "dst", members: ["zk4", "zk5", "zk6"].map((host, i) => ({ host, address: `10.0.0.${i}`, myid: i + 1, role: "participant", probe: { address: `10.0.0.${i}`, port: 2181 } })) } as unknown as Plan["target"],
    stages: steps.map((s, i) => ({ title: `stage ${i}`, concurrent: false, steps: s })), unchanged: [], refusals: [],
  });
  const stopped = ["zk4", "zk5", "zk6"].map((host) => observedHost({ host, files: { [marker]: null } }));

  it("puts the backup into every member in a stage before the first start", () => {
    const p = planRestore(plan([[start("zk4"), start("zk5"), start("zk6")]]), stopped, spec);
    expect(p.stages.map((s) => s.title)).toEqual(["put the backup into every member's data directory", "stage 0"]);
    expect(p.stages[0]!.concurrent).toBe(true);
    expect(p.stages[0]!.steps.map((s) => `${s.kind}:${s.host}`)).toEqual(["restore_data:zk4", "restore_data:zk5", "restore_data:zk6"]);
    const step = p.stages[0]!.steps[0]!;
    expect(step.kind === "restore_data" && JSON.parse(step.args.marker.content)).toEqual({ backup: "id1", run: "run1", from: "/backups/b1" });
  });

  it("refuses while any member runs, naming each", () => {
    const observed = stopped.map((o) => (o.host === "zk5" ? observedHost({ host: "zk5", running: true, mode: "follower", current: "3.8.0", files: { [marker]: null } }) : o));
    const p = planRestore(plan([[start("zk4"), start("zk6")]]), observed, spec);
    expect(p.stages).toEqual([]);
    expect(p.refusals.map((r) => `${r.code}:${r.host}`)).toEqual(["restore_target_running:zk5"]);
  });

  it("resumed, leaves the members this run restored (running or not) and restores the rest", () => {
    const mine = JSON.stringify({ backup: "id1", run: "run1", from: "/backups/b1" });
    const other = JSON.stringify({ backup: "id1", run: "run0", from: "/backups/b1" });
    const observed = [
      observedHost({ host: "zk4", running: true, mode: "follower", current: "3.8.0", files: { [marker]: mine } }),
      observedHost({ host: "zk5", files: { [marker]: mine } }),
      observedHost({ host: "zk6", files: { [marker]: other } }),
    ];
    const p = planRestore(plan([[start("zk5"), start("zk6")]]), observed, spec);
    expect(p.refusals).toEqual([]);
    expect(p.stages[0]!.steps.map((s) => `${s.kind}:${s.host}`)).toEqual(["restore_data:zk6"]);
  });
});

describe("versions and verification", () => {
  it("restores into the same version or a newer one, never an older one", () => {
    expect(versionRefusal("3.8.0", "3.8.0")).toBeUndefined();
    expect(versionRefusal("3.4.13", "3.9.3")).toBeUndefined();
    expect(versionRefusal("3.9.3", "3.8.0")).toMatch(/older/);
  });

  it("accepts a difference only where the export shows a change after the copy", () => {
    const stat = (z: Partial<Stat>): Stat => ({ czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, ephemeralOwner: "0", dataLength: 0, numChildren: 0, ...z } as Stat);
    const stats = new Map<string, Stat>([["/", stat({ pzxid: 5 })], ["/hot", stat({ pzxid: 0x20 })], ["/hot/new", stat({ czxid: 0x15 })], ["/a", stat({ mzxid: 0x15 })], ["/b", stat({ mzxid: 0x5 })]]);
    const explain = (path: string, kind: "missing" | "extra" | "data" | "acl" | "counter") => explainDifference({ path, kind }, (p) => stats.get(p), 0x10n);
    expect(explain("/hot/new", "missing")).toMatch(/created after the copy/);
    expect(explain("/hot/gone", "extra")).toMatch(/deleted after the copy/);
    expect(explain("/hot", "counter")).toMatch(/children changed/);
    expect(explain("/a", "data")).toMatch(/modified after the copy/);
    expect(explain("/b", "data")).toBeUndefined();
    expect(explain("/b", "acl")).toBeUndefined();
    expect(explain("/gone", "extra")).toBeUndefined();
  });
});
