import { describe, expect, it } from "vitest";
import { logsAfterSnapshot, newestSnapshot, parseDataFileName } from "../../common/backup-files.js";

const f = (name: string) => ({ name, order: parseDataFileName(name)!.zxid });

describe("which files a physical backup takes", () => {
  it("reads zxids from names and ignores anything else", () => {
    expect(parseDataFileName("snapshot.1a00000002")).toEqual({ kind: "snapshot", zxid: 0x1a00000002n });
    expect(parseDataFileName("log.100000001")).toEqual({ kind: "log", zxid: 0x100000001n });
    expect(parseDataFileName("snapshot.100000001.gz")).toBeNull();
    expect(parseDataFileName("acceptedEpoch")).toBeNull();
  });

  it("takes the log that starts at or before the snapshot and every later one", () => {
    const logs = ["log.300000001", "log.100000001", "log.200000010", "log.200000001"].map(f);
    // Snapshot inside log.200000010's range: that log may hold later transactions.
    expect(logsAfterSnapshot(logs, 0x200000050n).map((l) => l.name)).toEqual(["log.200000010", "log.300000001"]);
    // A log that starts exactly at the snapshot's zxid.
    expect(logsAfterSnapshot(logs, 0x200000010n).map((l) => l.name)).toEqual(["log.200000010", "log.300000001"]);
    // A snapshot older than every log: all of them (the first log still replays from its start).
    expect(logsAfterSnapshot(logs, 0x50n).map((l) => l.name)).toEqual(["log.100000001", "log.200000001", "log.200000010", "log.300000001"]);
    // Newer than every log: only the last.
    expect(logsAfterSnapshot(logs, 0x400000000n).map((l) => l.name)).toEqual(["log.300000001"]);
  });

  it("passes over snapshots still being written", () => {
    const snaps = ["snapshot.100000005", "snapshot.300000002", "snapshot.200000001"].map(f);
    expect(newestSnapshot(snaps, () => true)?.name).toBe("snapshot.300000002");
    expect(newestSnapshot(snaps, (s) => s.name !== "snapshot.300000002")?.name).toBe("snapshot.200000001");
    expect(newestSnapshot(snaps, () => false)).toBeUndefined();
  });
});
