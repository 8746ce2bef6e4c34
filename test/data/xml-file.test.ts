// zktreeutil's XML read and written without a cluster: what a file from
// zktreeutil holds comes back in depth-first order with its ignored
// subtrees named; what zkfleet writes reads back the same; what the format
// cannot hold is refused by path or counted; a broken file is refused with
// its line before anything could act on it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { checkExportFile, readExportFile, readHeader } from "../../controller/data/read-file.js";
import { XmlTreeWriter, readXmlTree } from "../../controller/data/xml.js";
import type { TreeNode } from "../../controller/data/format.js";
import { node } from "./fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-xml-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string) => {
  const path = join(dir, `f${n++}.xml`);
  writeFileSync(path, text);
  return path;
};

/** Shaped as zktreeutil's --export writes it (libxml2, two-space indent): siblings in the server's order, not sorted. */
const ZKTREEUTIL = `<?xml version="1.0" encoding="UTF-8"?>
<root>
  <zknode name="zookeeper">
    <zknode name="quota"/>
  </zknode>
  <zknode name="app" value="top">
    <zknode name="b" value="two"/>
    <zknode name="a" value="x=1&#10;y=&quot;2&quot; &amp; &lt;3&gt;">
      <zknode name="deep" value="名前"/>
    </zknode>
    <zknode name="a-b"/>
  </zknode>
  <zknode name="dynamic" ignore="true">
    <zknode name="lock-1" value="held"/>
  </zknode>
</root>
`;

async function nodesOf(path: string): Promise<TreeNode[]> {
  const out: TreeNode[] = [];
  for await (const { node: x } of readExportFile(path)) out.push(x);
  return out;
}

async function refusal(text: string): Promise<ZkfleetError> {
  const err = await checkExportFile(file(text)).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ZkfleetError);
  return err as ZkfleetError;
}

function written(root: string, nodes: TreeNode[]): { text: string; writer: XmlTreeWriter } {
  const writer = new XmlTreeWriter(root);
  const text = writer.begin() + nodes.map((x) => writer.node(x)).join("") + writer.end();
  return { text, writer };
}

describe("zktreeutil's XML", () => {
  it("a zktreeutil file reads in depth-first order, text-only, with its ignored subtree named and left out", async () => {
    const path = file(ZKTREEUTIL);
    expect(await readHeader(path)).toEqual({ kind: "xml", root: "/", source: "zktreeutil XML" });
    const nodes = await nodesOf(path);
    expect(nodes.map((x) => x.path)).toEqual(["/", "/app", "/app/a", "/app/a/deep", "/app/a-b", "/app/b", "/zookeeper", "/zookeeper/quota"]);
    expect(nodes.every((x) => x.textOnly && !x.ephemeral)).toBe(true);
    const byPath = new Map(nodes.map((x) => [x.path, x.data.toString("utf8")]));
    expect(byPath.get("/app/a")).toBe('x=1\ny="2" & <3>');
    expect(byPath.get("/app/a/deep")).toBe("名前");
    expect(byPath.get("/app/a-b")).toBe("");
    const summary = await checkExportFile(path);
    expect(summary).toMatchObject({ header: { kind: "xml", root: "/" }, ignored: ["/dynamic"], nodes: 8 });
  });

  it("what zkfleet writes reads back the same, escapes and unicode included, as a subtree inside its ancestors", async () => {
    const nodes = [
      node("/app/cfg", "a"),
      node("/app/cfg/q", 'say "hi" & <bye>\ttab\r\nnext'),
      node("/app/cfg/q/ω", "ω"),
      node("/app/cfg/r", ""),
      node("/app/cfg/s", "last"),
    ];
    const { text } = written("/app/cfg", nodes);
    expect(text).toContain('<root zkfleet-root="/app/cfg">');
    expect(text).toContain('  <zknode name="app">\n    <zknode name="cfg" value="a">\n');
    expect(text).toContain('<zknode name="r"/>');
    const path = file(text);
    expect((await readHeader(path))?.root).toBe("/app/cfg");
    const back = await nodesOf(path);
    expect(back.map((x) => [x.path, x.data.toString("utf8")])).toEqual(nodes.map((x) => [x.path, x.data.toString("utf8")]));
  });

  it("counts what the format cannot hold: ephemeral nodes (left out), ACLs not open to all, sequence counters", () => {
    const { text, writer } = written("/", [
      node("/", ""),
      node("/q", "", { cversion: 6 }),
      node("/q/e", "mine", { ephemeral: true }),
      node("/locked", "x", { acl: [{ perms: 1, scheme: "world", id: "anyone" }] }),
    ]);
    expect(writer.dropped).toEqual({ ephemeral: 1, acl: 1, counter: 1 });
    expect(text).not.toContain('name="e"');
  });

  it("data that is not text, and data on /, are refused by path before anything is written", () => {
    const binary = new XmlTreeWriter("/");
    binary.begin();
    const bytes = { ...node("/bin", ""), data: Buffer.from([0x66, 0xff, 0x00]) };
    expect(() => binary.node(bytes)).toThrow(/\/bin: its data \(3 bytes\) is not UTF-8 text.*zktreeutil's XML holds text only; nothing was written/);
    const control = { ...node("/ctl", ""), data: Buffer.from("a\u0001b") };
    expect(() => new XmlTreeWriter("/").node(control)).toThrow(/\/ctl: its data \(3 bytes\) holds control characters XML cannot carry/);
    expect(() => new XmlTreeWriter("/").node(node("/", "root data"))).toThrow(/cannot hold the data of \//);
  });

  it("a broken file is refused with its line: not well-formed, a foreign element, a bad or repeated name, stray text", async () => {
    expect((await refusal('<root>\n  <zknode name="a">\n</root>\n')).message).toMatch(/not well-formed XML: .*f\d+\.xml:3:\d+/);
    expect((await refusal('<root>\n  <zknode name="a"/>\n  <node name="b"/>\n</root>\n')).message).toMatch(/:3:\d+: <node> where a <zknode> element was expected/);
    expect((await refusal('<root>\n  <zknode name="a/b"/>\n</root>\n')).message).toMatch(/:2:\d+: a <zknode> needs a name attribute that is one znode name/);
    expect((await refusal('<root>\n  <zknode name="a"/>\n  <zknode name="a"/>\n</root>\n')).message).toMatch(/:3:\d+: \/a appears twice/);
    expect((await refusal('<root>\n  <zknode name="a">value here</zknode>\n</root>\n')).message).toMatch(/:2:\d+: text "value here" outside a value attribute/);
    expect((await refusal('<root zkfleet-root="/x">\n  <zknode name="a"/>\n</root>\n')).message).toMatch(/zkfleet-root says \/x, and the file has no <zknode> for it/);
  });

  it("a file zkfleet wrote from a whole tree holds exactly those nodes", async () => {
    const nodes = [node("/", ""), node("/a", "1"), node("/a/b", "2"), node("/c", "3")];
    const tree = await readXmlTree(file(written("/", nodes).text));
    expect(tree.nodes.map((x) => x.node.path)).toEqual(["/", "/a", "/a/b", "/c"]);
    expect(readFileSync(join(dir, `f${n - 1}.xml`), "utf8")).not.toContain("zkfleet-root");
  });
});
