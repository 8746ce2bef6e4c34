// A transaction log copied while ZooKeeper appended to it, checked record by
// record and cut at the first one that is not whole. The server writes a
// log in order, but a copy reads it in pieces at other moments, so the last
// transactions can arrive torn: a length and checksum read before the bytes
// they cover were written. ZooKeeper stops replaying a log at a zero length
// (its logs are preallocated with zeros), and fails to start at a checksum
// that does not match, so everything from the first bad record on is zeroed.
//
// Format (FileTxnLog): a header (magic "ZKLG", version, dbid: 16 bytes),
// then per record: checksum (Adler-32 as a long), length (int), that many
// bytes (TxnHeader first: clientId long, cxid int, zxid long, ...), and the
// end-of-record byte 'B'.
import { open } from "node:fs/promises";

const MAGIC = 0x5a4b4c47;
const HEADER = 16;
const EOR = 0x42;

export function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  // 3800 keeps b below 2^32 between reductions (the usual NMAX is 5552 with 32-bit unsigned arithmetic).
  for (let i = 0; i < buf.length;) {
    const end = Math.min(buf.length, i + 3800);
    for (; i < end; i++) {
      a += buf[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b * 65536 + a) >>> 0;
}

export interface LogCheck {
  /** Whole records. */
  records: number;
  firstZxid: bigint | null;
  lastZxid: bigint | null;
  /** Where the first record that is not whole began, when there was one (zeroed from there). */
  cutAt: number | null;
  /** Why the copy was cut there. */
  why?: string;
  /** No valid header: the file holds no transaction at all. */
  empty: boolean;
}

/** Checks the log at `path` in place; with `repair`, zeroes everything from the first torn record. */
export async function checkTxnLog(path: string, repair: boolean): Promise<LogCheck> {
  const handle = await open(path, repair ? "r+" : "r");
  try {
    const size = (await handle.stat()).size;
    const head = Buffer.alloc(HEADER);
    const { bytesRead } = await handle.read(head, 0, HEADER, 0);
    if (bytesRead < HEADER || head.readUInt32BE(0) !== MAGIC) {
      return { records: 0, firstZxid: null, lastZxid: null, cutAt: 0, why: "no log header", empty: true };
    }
    const result: LogCheck = { records: 0, firstZxid: null, lastZxid: null, cutAt: null, empty: false };
    let at = HEADER;
    const frame = Buffer.alloc(12);
    for (;;) {
      const got = (await handle.read(frame, 0, 12, at)).bytesRead;
      if (got < 12) {
        if (frame.subarray(0, got).some((b) => b !== 0)) Object.assign(result, { cutAt: at, why: "a record cut by the end of the file" });
        break;
      }
      const crc = frame.readBigUInt64BE(0);
      const len = frame.readInt32BE(8);
      // A zero length is how ZooKeeper ends a log; a non-zero checksum before it is a record begun, not written.
      if (len === 0 && crc === 0n) break;
      if (len <= 0 || at + 12 + len + 1 > size) {
        Object.assign(result, { cutAt: at, why: `a record of length ${len} at byte ${at} does not fit` });
        break;
      }
      const body = Buffer.alloc(len + 1);
      await handle.read(body, 0, len + 1, at + 12);
      const bytes = body.subarray(0, len);
      if (body[len] !== EOR || BigInt(adler32(bytes)) !== crc || len < 20) {
        Object.assign(result, { cutAt: at, why: `the record at byte ${at} is torn (its checksum or end marker does not match)` });
        break;
      }
      const zxid = bytes.readBigInt64BE(12);
      result.firstZxid ??= zxid;
      result.lastZxid = zxid;
      result.records++;
      at += 12 + len + 1;
    }
    if (repair && result.cutAt !== null) {
      const zeros = Buffer.alloc(1 << 20);
      for (let pos = result.cutAt; pos < size; pos += zeros.length) await handle.write(zeros, 0, Math.min(zeros.length, size - pos), pos);
      await handle.sync();
    }
    return result;
  } finally {
    await handle.close();
  }
}
