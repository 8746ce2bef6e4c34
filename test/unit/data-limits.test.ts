// The pure parts of the data plane's limits and credentials: a write
// request's size as the server measures it (the lab test test/data/limits
// checks the figure against real servers at the byte), a JVM flag's value as
// Java reads it, where credentials come from and that none is ever echoed,
// and whether an ACL lets a session read a node whole.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { credentialsFrom, hidesDigestIds, maskCredential, readableWhole } from "../../controller/data/auth.js";
import {
  JUTE_MAXBUFFER_DEFAULT, PACKET_MARGIN, decodeJavaInt, juteMaxBufferOf, multiRequestBytes, nodeWriteBytes, oversized, packetLimit, requestBytes,
} from "../../controller/data/packet-size.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-data-limits-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OPEN = [{ perms: 31, scheme: "world", id: "anyone" }];
const ALICE = `alice:${createHash("sha1").update("alice:secret").digest("base64")}`;

describe("write request sizes", () => {
  it("a create is header + path + data + ACL + flags, each string and buffer with its 4-byte length", () => {
    // 8 + (4 + 2) + (4 + 10) + (4 + 4 + 4 + 5 + 4 + 6) + 4
    expect(requestBytes({ op: "create", path: "/a", data: Buffer.alloc(10), acl: OPEN })).toBe(59);
    expect(requestBytes({ op: "create", path: "/a", data: Buffer.alloc(10), acl: OPEN, ttl: true })).toBe(67);
    // UTF-8 bytes, not characters.
    expect(requestBytes({ op: "create", path: "/é", data: Buffer.alloc(0), acl: OPEN }) - requestBytes({ op: "create", path: "/e", data: Buffer.alloc(0), acl: OPEN })).toBe(1);
    expect(requestBytes({ op: "set", path: "/a", data: Buffer.alloc(10) })).toBe(8 + 6 + 14 + 4);
    expect(requestBytes({ op: "delete", path: "/a" })).toBe(8 + 6 + 4);
  });

  it("a multi is one packet: every op's body with a 9-byte op header, and a closing one", () => {
    const ops = [{ op: "create" as const, path: "/a", data: Buffer.alloc(10), acl: OPEN }, { op: "delete" as const, path: "/b" }];
    expect(multiRequestBytes(ops)).toBe(8 + (9 + 51) + (9 + 10) + 9);
  });

  it("a node's size is its largest write: a long ACL counts, with the open ACL the package creates with", () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ perms: 1, scheme: "ip", id: `10.0.0.${i}` }));
    const n = { path: "/n", data: Buffer.alloc(1000), acl: many };
    expect(nodeWriteBytes(n)).toBe(requestBytes({ op: "create", path: "/n", data: n.data, acl: many }));
    const small = { path: "/n", data: Buffer.alloc(1000), acl: [{ perms: 1, scheme: "ip", id: "1.2.3.4" }] };
    expect(nodeWriteBytes(small)).toBe(requestBytes({ op: "create", path: "/n", data: small.data, acl: OPEN }));
  });

  it("refuses exactly past the figure: the limit less the margin", () => {
    const limit = { maxBuffer: JUTE_MAXBUFFER_DEFAULT, from: "test" };
    expect(packetLimit(limit)).toBe(JUTE_MAXBUFFER_DEFAULT - PACKET_MARGIN);
    const at = (bytes: number) => ({ path: "/x", data: Buffer.alloc(bytes - requestBytes({ op: "create", path: "/x", data: Buffer.alloc(0), acl: OPEN })), acl: OPEN });
    expect(oversized(at(packetLimit(limit)), limit)).toBeUndefined();
    expect(oversized(at(packetLimit(limit) + 1), limit)).toEqual({ path: "/x", bytes: packetLimit(limit) + 1, dataBytes: at(packetLimit(limit) + 1).data.length });
  });
});

describe("-Djute.maxbuffer as Java reads it", () => {
  it("the last flag wins; decimal, hex and octal; a value Java cannot parse means the default; none means unknown", () => {
    expect(juteMaxBufferOf(["java", "-Xmx1g", "org.apache.zookeeper.server.quorum.QuorumPeerMain"])).toBeUndefined();
    expect(juteMaxBufferOf(["java", "-Djute.maxbuffer=4194304", "-cp", "x"])).toBe(4194304);
    expect(juteMaxBufferOf(["java", "-Djute.maxbuffer=1000", "-Djute.maxbuffer=0x200000"])).toBe(0x200000);
    expect(juteMaxBufferOf(["java", "-Djute.maxbuffer=4MB"])).toBe(JUTE_MAXBUFFER_DEFAULT);
    expect(decodeJavaInt("#ff")).toBe(255);
    expect(decodeJavaInt("010")).toBe(8);
    expect(decodeJavaInt("0")).toBe(0);
    expect(decodeJavaInt("-12")).toBe(-12);
    expect(decodeJavaInt("2147483648")).toBeUndefined();
    expect(decodeJavaInt("09")).toBeUndefined();
  });
});

describe("credentials", () => {
  it("come from --auth, --auth-file (comments and blank lines skipped) and ZKFLEET_AUTH, each once", () => {
    const file = join(dir, "auth");
    writeFileSync(file, "# the admin\n\ndigest:alice:secret\r\ndigest:bob:pa:ss\n");
    const got = credentialsFrom({ auth: ["digest:alice:secret"], authFile: file }, { ZKFLEET_AUTH: "digest:carol:x\nsasl:ignored-here" });
    expect(got).toEqual([
      { scheme: "digest", credential: "alice:secret" }, { scheme: "digest", credential: "bob:pa:ss" },
      { scheme: "digest", credential: "carol:x" }, { scheme: "sasl", credential: "ignored-here" },
    ]);
    expect(credentialsFrom({}, {})).toEqual([]);
  });

  it("a bad one is refused by where it is, never shown", () => {
    const file = join(dir, "bad");
    writeFileSync(file, "digest:alice:secret\nhunter2-no-scheme\n");
    const refusal = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(ZkfleetError);
        return err as ZkfleetError;
      }
      throw new Error("not refused");
    };
    const fromFile = refusal(() => credentialsFrom({ authFile: file }, {}));
    expect(fromFile.message).toBe(`${file}:2: not SCHEME:CREDENTIAL (the value is not shown: it may hold a password)`);
    expect(fromFile.source).toBe("usage");
    const fromArg = refusal(() => credentialsFrom({ auth: ["digest:a:b", "hunter2"] }, {}));
    expect(fromArg.message).toContain("--auth (the 2nd)");
    expect(fromArg.message).not.toContain("hunter2");
    expect(refusal(() => credentialsFrom({}, { ZKFLEET_AUTH: "hunter2" })).message).not.toContain("hunter2");
    expect(refusal(() => credentialsFrom({ authFile: join(dir, "none") }, {})).message).toContain("ENOENT");
    writeFileSync(join(dir, "empty"), "# nothing\n");
    expect(refusal(() => credentialsFrom({ authFile: join(dir, "empty") }, {})).message).toContain("holds no credential");
  });

  it("are shown with the scheme and a digest's user only", () => {
    expect(maskCredential({ scheme: "digest", credential: "alice:secret" })).toBe("digest:alice:***");
    expect(maskCredential({ scheme: "x509", credential: "whatever" })).toBe("x509:***");
  });
});

describe("reading a node whole", () => {
  const alice = [{ scheme: "digest", credential: "alice:secret" }];
  const locked = [{ perms: 1, scheme: "world", id: "anyone" }, { perms: 31, scheme: "digest", id: ALICE }];
  it("needs READ, and ADMIN where the server hides digest ids (3.4.14+, 3.5.5+)", () => {
    expect(hidesDigestIds("3.4.13")).toBe(false);
    expect(hidesDigestIds("3.4.14")).toBe(true);
    expect(hidesDigestIds("3.5.4")).toBe(false);
    expect(hidesDigestIds("3.8.0")).toBe(true);
    expect(readableWhole(locked, [], undefined, true)).toBe(false);
    expect(readableWhole(locked, [], undefined, false)).toBe(true);
    expect(readableWhole(locked, alice, undefined, true)).toBe(true);
    expect(readableWhole([{ perms: 31, scheme: "digest", id: ALICE }], [], undefined, false)).toBe(false);
    expect(readableWhole(OPEN, [], undefined, true)).toBe(true);
  });

  it("the super user reads everything; where the ACL alone cannot tell (ip, other schemes), it is left to the reading", () => {
    const onlyBob = [{ perms: 31, scheme: "digest", id: "bob:xyz" }];
    const superDigest = `super:${createHash("sha1").update("super:root").digest("base64")}`;
    expect(readableWhole(onlyBob, [{ scheme: "digest", credential: "super:root" }], superDigest, true)).toBe(true);
    expect(readableWhole(onlyBob, [{ scheme: "digest", credential: "super:wrong" }], superDigest, true)).toBe(false);
    expect(readableWhole([...onlyBob, { perms: 31, scheme: "ip", id: "127.0.0.1" }], [], undefined, true)).toBe(true);
    expect(readableWhole(onlyBob, [{ scheme: "x509", credential: "cn" }], undefined, true)).toBe(true);
  });
});
