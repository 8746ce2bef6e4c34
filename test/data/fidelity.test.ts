// Acceptance of export, import and diff across versions: a fidelity corpus
// on a 3.4.13 ensemble (binary and empty data, a node near 1 MB, depth 50,
// a wide parent, unicode names, world/digest/ip ACLs with a locked parent,
// sequential children whose last ones were deleted, ephemeral nodes) is
// exported and imported into a 3.9.3 ensemble, both reached through SSH by
// inventory. Checked by zkfleet's diff and, independently, by ZooKeeper's
// own Java client (digests; its state digest shows that a dry run or a
// refused import writes nothing) and zkCli (the next sequential numbers).
// Then zktreeutil's XML: a file shaped as zktreeutil writes it is imported
// and diffed (ignored subtrees left alone), values read back by zkCli; an
// XML export round-trips into 3.4.13, binary data is refused by path.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { ZkClient } from "../../controller/zk/client.js";
import { runCli } from "../helpers/cli.js";
import { useTestLab } from "../helpers/lab.js";
import { zkCli } from "../helpers/zkcli.js";
import { exportLines, node } from "./fixtures.js";
import { javaDigest } from "./independent.js";
import { subnet } from "../helpers/subnets.js";

/** Children of the wide parent. The issue asks for 50,000: that copy is bench/data-copy.mjs (about 2 minutes here); CI keeps this file bounded. */
const WIDE = 5000;
/** What writeCorpus writes besides the wide parent's children, and the ephemeral nodes beside it. */
const PERSISTENT = WIDE + 76;
const EPHEMERAL = 3;
const NEAR_1MB = 1_048_000;
const AUTH = "digest:alice:secret";
const ALICE = `alice:${createHash("sha1").update("alice:secret").digest("base64")}`;

const t = useTestLab("data-fidelity", subnet("data-fidelity"), 6);
const work = mkdtempSync(join(tmpdir(), "zkfleet-fidelity-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let src: string;
let dst: string;
let srcAddrs: string[];
let dstAddrs: string[];
/** The target's whole tree, as ZooKeeper's own client sees it: its state digest changes with any write. */
const targetState = async () => (await javaDigest(`${dstAddrs[0]}:2181`, "/", AUTH)).state;
/** Holds the corpus's ephemeral nodes until the sequence checks. */
let owner: ZkClient | undefined;

/** One inventory per ensemble from the lab's: three hosts each, myids 1..3. */
function inventory(name: string, version: string, hosts: string[]): string {
  const doc = parseYaml(readFileSync(t.lab.inventory, "utf8")) as { hosts: { name: string; myid: number }[]; zookeeper: Record<string, unknown> };
  const file = join(work, `${name}.yml`);
  const picked = doc.hosts.filter((h) => hosts.includes(h.name)).map((h, i) => ({ ...h, myid: i + 1 }));
  writeFileSync(file, toYaml({ ...doc, ensemble: name, zookeeper: { ...doc.zookeeper, version }, hosts: picked }));
  return file;
}

async function cli(...args: string[]) {
  const started = Date.now();
  const r = await runCli(args, t.env);
  return { ...r, ms: Date.now() - started };
}

async function writeCorpus(c: ZkClient): Promise<void> {
  const put = (path: string, data: Buffer | string = "") => c.create(path, typeof data === "string" ? Buffer.from(data) : data);
  await put("/corpus", "root");
  await put("/corpus/binary", Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
  await put("/corpus/empty");
  const big = Buffer.alloc(NEAR_1MB);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) % 256;
  await put("/corpus/big", big);
  let deep = "/corpus/deep";
  for (let level = 2; level <= 50; level++, deep += `/d${level}`) await put(deep, String(level));
  await put("/corpus/wide");
  for (let i = 0; i < WIDE; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, WIDE - i) }, (_, k) => put(`/corpus/wide/n${i + k}`, Buffer.alloc(100, (i + k) % 256))));
  }
  await put("/corpus/ünïcødé", "é");
  await put("/corpus/ünïcødé/名前", "名");
  await put("/corpus/ünïcødé/Ωμέγα with space", "ω");
  // Depth-first order is not string order: /order/a/b sorts before /order/a-b.
  for (const p of ["/corpus/order", "/corpus/order/a", "/corpus/order/a/b", "/corpus/order/a-b", "/corpus/order/a.b"]) await put(p, p);
  await put("/corpus/acl");
  await put("/corpus/acl/world-read", "r");
  await c.setAcl("/corpus/acl/world-read", [{ perms: 1, scheme: "world", id: "anyone" }]);
  await put("/corpus/acl/digest", "only alice");
  await c.setAcl("/corpus/acl/digest", [{ perms: 31, scheme: "digest", id: ALICE }]);
  await put("/corpus/acl/ip", "loopback");
  await c.setAcl("/corpus/acl/ip", [{ perms: 31, scheme: "ip", id: "127.0.0.1" }, { perms: 1, scheme: "world", id: "anyone" }]);
  // A parent that denies CREATE: its children must be written before its ACL.
  await put("/corpus/acl/locked", "no create");
  await put("/corpus/acl/locked/child", "inside");
  await c.setAcl("/corpus/acl/locked", [{ perms: 1, scheme: "world", id: "anyone" }, { perms: 31, scheme: "digest", id: ALICE }]);
  // Sequential children, the last ones deleted: the counter is past every name left.
  await put("/corpus/queue");
  for (let i = 0; i < 6; i++) await c.create("/corpus/queue/item-", Buffer.from(`job ${i}`), { sequential: true });
  for (const n of [2, 4, 5]) await c.delete(`/corpus/queue/item-000000000${n}`);
  await put("/corpus/drained");
  for (let i = 0; i < 3; i++) await c.create("/corpus/drained/x-", Buffer.alloc(0), { sequential: true });
  for (let i = 0; i < 3; i++) await c.delete(`/corpus/drained/x-000000000${i}`);
  await put("/corpus/sessions");
  await put("/corpus/mixed");
  await put("/corpus/mixed/kept", "kept");
}

beforeAll(async () => {
  src = inventory("src", "3.4.13", ["zk1", "zk2", "zk3"]);
  dst = inventory("dst", "3.9.3", ["zk4", "zk5", "zk6"]);
  srcAddrs = t.lab.hosts.slice(0, 3).map((h) => h.address);
  dstAddrs = t.lab.hosts.slice(3, 6).map((h) => h.address);
  for (const inv of [src, dst]) {
    const r = await runCli(["apply", "-i", inv, "--yes"], t.env);
    expect(r.code, r.err).toBe(2);
  }
  const c = await ZkClient.open({ connect: srcAddrs.map((a) => `${a}:2181`).join(",") });
  const started = Date.now();
  try {
    await writeCorpus(c);
  } finally {
    await c.close();
  }
  console.info(`corpus of ${PERSISTENT} nodes written to 3.4.13 in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  owner = await ZkClient.open({ connect: `${srcAddrs[0]}:2181` });
  for (const p of ["/corpus/sessions/e1", "/corpus/sessions/e2", "/corpus/mixed/e"]) await owner.create(p, Buffer.from("mine"), { mode: "ephemeral" });
}, 600_000);

afterAll(async () => {
  await owner?.close();
});

describe("export, import and diff, 3.4.13 to 3.9.3 through SSH", () => {
  const file = () => join(work, "corpus.jsonl");
  let exported: string;

  it("exports the corpus with its ephemeral nodes marked and a digest ZooKeeper's own client agrees with", async () => {
    const r = await cli("export", "-i", src, "--path", "/corpus", "--auth", AUTH, "-o", file());
    expect(r.code, r.err).toBe(0);
    const m = /exported (\d+) node\(s\) \((\d+) ephemeral.* digest (sha256:[0-9a-f]+)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![1])).toBe(PERSISTENT + EPHEMERAL);
    expect(Number(m![2])).toBe(EPHEMERAL);
    exported = m![3]!;
    console.info(`export of ${m![1]} nodes through SSH: ${r.ms} ms`);
    const lines = readFileSync(file(), "utf8").trimEnd().split("\n");
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ end: true, nodes: PERSISTENT + EPHEMERAL, digest: exported });
    const eph = lines.map((l) => JSON.parse(l)).filter((n) => n.ephemeral === true).map((n) => n.path);
    expect(eph).toEqual(["/corpus/mixed/e", "/corpus/sessions/e1", "/corpus/sessions/e2"]);
    expect(await javaDigest(`${srcAddrs[1]}:2181`, "/corpus", AUTH)).toMatchObject({ nodes: PERSISTENT, ephemeral: EPHEMERAL, digest: exported });
  });

  it("a dry run says what it would do and writes nothing", async () => {
    const before = await targetState();
    const r = await cli("import", "-i", dst, "-f", file(), "--auth", AUTH, "--dry-run");
    expect(r.code, r.err).toBe(2);
    expect(r.out).toContain(`dry run, nothing written: ${PERSISTENT + EPHEMERAL} node(s) in the file`);
    expect(r.out).toContain(`${PERSISTENT} to create`);
    expect(r.out).toMatch(/3 ephemeral node\(s\) skipped .*\/corpus\/mixed\/e, \/corpus\/sessions\/e1, \/corpus\/sessions\/e2/);
    expect(await targetState()).toBe(before);
    expect(await zkCli(`${dstAddrs[0]}:2181`, ["stat /corpus"])).toMatch(/Node does not exist: \/corpus/);
  });

  it("a truncated or corrupt file is refused with its line number before anything is written", async () => {
    const before = await targetState();
    const text = readFileSync(file(), "utf8");
    const truncated = writeAndName("truncated.jsonl", text.slice(0, Math.floor(text.length * 0.6)));
    const lines = text.split("\n");
    lines[7] = lines[7]!.replace(/"data":"/, '"data":"!');
    const corrupt = writeAndName("corrupt.jsonl", lines.join("\n"));
    const cut = await cli("import", "-i", dst, "-f", truncated, "--auth", AUTH);
    expect(cut.code).toBe(3);
    expect(cut.err).toMatch(/truncated\.jsonl:\d+: not a JSON line/);
    const bad = await cli("import", "-i", dst, "-f", corrupt, "--auth", AUTH);
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/corrupt\.jsonl:8: a broken node line: data: must be base64/);
    expect(await targetState()).toBe(before);
  });

  it("imports the corpus exactly: diff says equal, both digests match ZooKeeper's own client, ephemeral nodes skipped and reported", async () => {
    const r = await cli("import", "-i", dst, "-f", file(), "--auth", AUTH);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toMatch(new RegExp(`${PERSISTENT + EPHEMERAL} node\\(s\\) into dst .*: ${PERSISTENT} created, 0 updated, 0 already as in the file`));
    expect(r.out).toMatch(/3 ephemeral node\(s\) skipped/);
    expect(r.out).toMatch(/sequence counters: \d+ parent\(s\) moved on/);
    console.info(`import of ${PERSISTENT} nodes through SSH: ${r.ms} ms; ${r.out.split("\n").find((l) => l.includes("sequence counters"))?.trim()}`);

    const live = await cli("diff", src, dst, "--path", "/corpus", "--auth", AUTH);
    expect(live.code, live.out + live.err).toBe(0);
    expect(live.out).toContain(`3 ephemeral node(s) on one side only, not compared`);
    expect(live.out).toMatch(/\nequal$/);
    expect(live.out.match(/digest (sha256:[0-9a-f]+)/g)).toEqual([`digest ${exported}`, `digest ${exported}`]);
    console.info(`diff of two live trees through SSH: ${live.ms} ms`);
    const fromFile = await cli("diff", file(), dstAddrs.map((a) => `${a}:2181`).join(","), "--auth", AUTH);
    expect(fromFile.code, fromFile.out).toBe(0);
    expect(await javaDigest(`${dstAddrs[2]}:2181`, "/corpus", AUTH)).toMatchObject({ nodes: PERSISTENT, ephemeral: 0, digest: exported });
  });

  it("a conflict is refused by default, left with skip, replaced with overwrite; diff names it in between", async () => {
    const target = dstAddrs.map((a) => `${a}:2181`).join(",");
    const c = await ZkClient.open({ connect: target });
    try {
      await c.set("/corpus/empty", Buffer.from("changed on the target"));
    } finally {
      await c.close();
    }
    const before = await targetState();
    const refused = await cli("import", "--zk", target, "-f", file(), "--auth", AUTH);
    expect(refused.code).toBe(5);
    expect(refused.err).toMatch(/1 node\(s\) exist on .* with other content, e.g. \/corpus\/empty \(data\); nothing was written/);
    expect(await targetState()).toBe(before);

    const skipped = await cli("import", "--zk", target, "-f", file(), "--auth", AUTH, "--on-conflict", "skip");
    expect(skipped.code, skipped.err).toBe(0);
    expect(skipped.out).toMatch(/1 existing node\(s\) differ from the file, left as they are:\n\s+\/corpus\/empty \(data\)/);
    const differs = await cli("diff", file(), target, "--auth", AUTH);
    expect(differs.code).toBe(1);
    expect(differs.out).toMatch(/^data\s+\/corpus\/empty\s+"" vs "changed on the target"$/m);
    expect(differs.out).toMatch(/1 difference\(s\): data 1/);

    const replaced = await cli("import", "--zk", target, "-f", file(), "--auth", AUTH, "--on-conflict", "overwrite");
    expect(replaced.code, replaced.err).toBe(2);
    expect(replaced.out).toMatch(/0 created, 1 updated/);
    expect((await cli("diff", file(), target, "--auth", AUTH)).code).toBe(0);
  });

  it("container and TTL nodes (only a file can say so: servers report them as persistent) need 3.5.3+: refused on 3.4.13, created on 3.9.3", async () => {
    const box = { ...node("/boxes", "", { cversion: 0 }), container: true };
    const lines = exportLines("/boxes", [box, node("/boxes/item", "in a container")]);
    const boxes = writeAndName("boxes.jsonl", lines.join("\n") + "\n");
    const old = await cli("import", "-i", src, "-f", boxes);
    expect(old.code).toBe(5);
    expect(old.err).toMatch(/1 container or TTL node\(s\), which need ZooKeeper 3\.5\.3\+ on every server; the target reports 3\.4\.13, 3\.4\.13, 3\.4\.13; nothing was written/);
    const modern = await cli("import", "-i", dst, "-f", boxes);
    expect(modern.code, modern.err).toBe(2);
    expect(modern.out).toMatch(/2 created/);
  });

  it("the next sequential child on the target gets the number the source gives, also where the last children were deleted", async () => {
    // A copy that only created the children left would hand out item-0000000003 again, a name the source used.
    await owner!.close();
    owner = undefined;
    const next = async (server: string) => {
      const out = await zkCli(server, ["create -s /corpus/queue/item- x", "create -s /corpus/drained/x- x", "create -s /corpus/sessions/s- x", "create -s /corpus/mixed/m- x"]);
      return out.split("\n").filter((l) => l.startsWith("Created ")).map((l) => l.trim());
    };
    const expected = ["Created /corpus/queue/item-0000000006", "Created /corpus/drained/x-0000000003", "Created /corpus/sessions/s-0000000002", "Created /corpus/mixed/m-0000000002"];
    expect(await next(`${dstAddrs[1]}:2181`)).toEqual(expected);
    expect(await next(`${srcAddrs[1]}:2181`)).toEqual(expected);
  });
});

describe("a digest ACL the server masks (3.4.14+ and 3.5.5+ show user:x to a session without ADMIN)", () => {
  it("export and diff without credentials stop at the masked node and name it; with them the real id is exported", async () => {
    const out = join(work, "masked.jsonl");
    const r = await cli("export", "-i", dst, "--path", "/corpus/acl/locked", "-o", out);
    expect(r.code).toBe(4);
    expect(r.err).toContain("the source hides the digest ACL of /corpus/acl/locked (it shows alice:x)");
    expect(existsSync(out)).toBe(false);
    const d = await cli("diff", src, dst, "--path", "/corpus/acl/locked");
    expect(d.code).toBe(4);
    expect(d.err).toContain("hides the digest ACL of /corpus/acl/locked (it shows alice:x)");
    const withAuth = await cli("export", "-i", dst, "--path", "/corpus/acl/locked", "--auth", AUTH, "-o", out);
    expect(withAuth.code, withAuth.err).toBe(0);
    expect(readFileSync(out, "utf8")).toContain(`"id":"${ALICE}"`);
  });
});

describe("zktreeutil's XML, 3.9.3 and 3.4.13 through SSH", () => {
  // Shaped as zktreeutil --export writes a whole tree; the subtrees earlier tests put on the target are marked ignore.
  const ZKTREEUTIL = `<?xml version="1.0" encoding="UTF-8"?>
<root>
  <zknode name="zookeeper">
    <zknode name="quota"/>
  </zknode>
  <zknode name="corpus" ignore="true"/>
  <zknode name="boxes" ignore="true"/>
  <zknode name="zktu" value="from zktreeutil">
    <zknode name="config">
      <zknode name="db" value="host=a&amp;b &lt;c&gt; &quot;q&quot;&#10;line2"/>
      <zknode name="ünï" value="名前"/>
      <zknode name="empty"/>
    </zknode>
    <zknode name="b-first" value="server order, not sorted"/>
  </zknode>
</root>
`;

  it("a zktreeutil file imports (ignored subtrees left alone, /zookeeper untouched), diffs equal, and zkCli reads the values", async () => {
    const xml = writeAndName("zktreeutil.xml", ZKTREEUTIL);
    const r = await cli("import", "-i", dst, "-f", xml, "--auth", AUTH);
    expect(r.code, r.err + r.out).toBe(2);
    expect(r.out).toMatch(/6 created/);
    expect(r.out).toMatch(/2 subtree\(s\) the file marks ignore, left alone: \/corpus, \/boxes/);
    expect(r.out).not.toMatch(/sequence counters/);
    const d = await cli("diff", xml, dst, "--auth", AUTH);
    expect(d.code, d.out + d.err).toBe(0);
    expect(d.out).toMatch(/^equal$/m);
    expect(d.out).toMatch(/2 subtree\(s\) marked ignore in an XML file, not compared/);
    const got = await zkCli(`${dstAddrs[2]}:2181`, ["get /zktu/config/db", "get /zktu/config/ünï"]);
    expect(got).toContain('host=a&b <c> "q"\nline2');
    expect(got).toContain("名前");
    // The same file against a tree that differs in one value: found, exit 1.
    await zkCli(`${dstAddrs[0]}:2181`, ["set /zktu/b-first changed"]);
    const changed = await cli("diff", xml, dst, "--auth", AUTH);
    expect(changed.code).toBe(1);
    expect(changed.out).toMatch(/^data\s+\/zktu\/b-first/m);
  });

  it("export --format xml: a text subtree round-trips into 3.4.13; binary data is refused by path with no file left; lost ACLs are said", async () => {
    const out = join(work, "zktu.xml");
    const r = await cli("export", "-i", dst, "--path", "/zktu", "--format", "xml", "-o", out);
    expect(r.code, r.err).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).toContain('<root zkfleet-root="/zktu">');
    expect(text).toContain('value="host=a&amp;b &lt;c&gt; &quot;q&quot;&#10;line2"');
    const into = await cli("import", "-i", src, "-f", out);
    expect(into.code, into.err + into.out).toBe(2);
    expect(into.out).toMatch(/6 created/);
    const d = await cli("diff", out, src);
    expect(d.code, d.out + d.err).toBe(0);
    expect((await zkCli(`${srcAddrs[1]}:2181`, ["get /zktu/b-first"]))).toContain("changed");

    const binary = join(work, "binary.xml");
    const refused = await cli("export", "-i", src, "--path", "/corpus", "--auth", AUTH, "--format", "xml", "-o", binary);
    expect(refused.code).toBe(3);
    expect(refused.err).toMatch(/\/corpus\/big: its data \(1048000 bytes\) is not UTF-8 text|\/corpus\/binary: its data \(256 bytes\) is not UTF-8 text/);
    expect(existsSync(binary)).toBe(false);
    const acl = await cli("export", "-i", src, "--path", "/corpus/acl/world-read", "--format", "xml", "-o", join(work, "acl.xml"));
    expect(acl.code, acl.err).toBe(0);
    expect(acl.out).toMatch(/the file lacks: the ACLs of 1 node\(s\) not open to all/);
  });
});

function writeAndName(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}
