// Which files of a ZooKeeper data directory make a physical backup: the
// newest complete snapshot and every transaction log that may hold a
// transaction after it. Shared by the agent (which picks them) and the unit
// tests; pure.
//
// A log is named after the zxid of its first transaction and holds every
// transaction until the next log starts. So the log that starts at or just
// before the snapshot's zxid can still hold later transactions, and every
// log after it does: the same choice ZooKeeper makes when it restores
// (FileTxnLog.getLogFiles).

/** A data file with the zxid its name carries, as a number. */
export interface NamedFile {
  order: bigint;
}

const NAME = /^(snapshot|log)\.([0-9a-fA-F]{1,16})$/;

/** snapshot.1a00000002 → { kind: "snapshot", zxid: 0x1a00000002n }; null for anything else (snapshot.X.gz, temp files). */
export function parseDataFileName(name: string): { kind: "snapshot" | "log"; zxid: bigint } | null {
  const m = NAME.exec(name);
  return m ? { kind: m[1] as "snapshot" | "log", zxid: BigInt(`0x${m[2]}`) } : null;
}

/** The logs a restore from a snapshot at `snapshotZxid` replays, oldest first. */
export function logsAfterSnapshot<T extends NamedFile>(logs: readonly T[], snapshotZxid: bigint): T[] {
  const sorted = [...logs].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  let first = 0;
  sorted.forEach((log, i) => {
    if (log.order <= snapshotZxid) first = i;
  });
  return sorted.slice(first);
}

/** The newest of the snapshots that `complete` accepts, or undefined. */
export function newestSnapshot<T extends NamedFile>(snapshots: readonly T[], complete: (s: T) => boolean): T | undefined {
  return [...snapshots].sort((a, b) => (a.order > b.order ? -1 : a.order < b.order ? 1 : 0)).find(complete);
}

/**
 * A snapshot ends with its checksum and the string "/" as jute writes it
 * (length 1, then '/'): ZooKeeper's own test of a complete snapshot
 * (Util.isValidSnapshot). One still being written does not end so yet.
 */
export const SNAPSHOT_TAIL = Buffer.from([0, 0, 0, 1, 0x2f]);

export const hex = (zxid: bigint) => `0x${zxid.toString(16)}`;
