// Reading an export file back, one line at a time, checking as it goes what
// a tree in depth-first order must be: the header first, the root next,
// every node after its parent and in order, the end line last with the
// count and the digest of what came before. The first problem stops the
// read with the file and line number.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { z } from "zod";
import { ZkfleetError } from "../../common/errors.js";
import { comparePaths, isUnder, parentOf } from "../zk/paths.js";
import { EndLine, Header, NodeLine, type TreeNode, fromLine } from "./format.js";
import { TreeDigest } from "./digest.js";
import { XML_SOURCE, looksLikeXml, readXmlRoot, readXmlTree } from "./xml.js";

export interface FileNode {
  line: number;
  node: TreeNode;
}

/** What a tree file says of itself: its own format, where its tree is rooted, where it came from. */
export interface FileHeader {
  kind: "jsonl" | "xml";
  root: string;
  source: string;
}

export interface FileSummary {
  header: FileHeader;
  /** A JSON-lines export's end line (an XML file has none). */
  end?: EndLine;
  /** Subtrees an XML file marks ignore: left out of import and diff. */
  ignored: string[];
  /** Persistent and ephemeral nodes. */
  nodes: number;
  ephemeral: number;
  /** Nodes that need a 3.5.3+ server (container, TTL). */
  extended: number;
}

function problem(file: string, line: number, what: string, hint = "export the tree again; an export file is only complete with its end line"): ZkfleetError {
  return new ZkfleetError("usage", `${file}:${line}: ${what}`, { where: `${file}:${line}`, hint });
}

function issues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join(".") + ": " : ""}${i.message}`).join("; ");
}

/** The nodes of an export file (JSON lines or zktreeutil's XML), checked; `summary` is filled once the whole file has been read and checked. */
export async function* readExportFile(file: string, summary?: (s: FileSummary) => void): AsyncGenerator<FileNode> {
  if ((await readHeader(file))?.kind === "xml") {
    const tree = await readXmlTree(file);
    const digest = new TreeDigest();
    for (const n of tree.nodes) {
      digest.push(n.node);
      yield n;
    }
    summary?.({ header: { kind: "xml", root: tree.root, source: XML_SOURCE }, ignored: tree.ignored, nodes: tree.nodes.length, ephemeral: 0, extended: 0 });
    return;
  }
  let input;
  try {
    input = createReadStream(file);
    await new Promise<void>((resolve, reject) => input!.once("open", () => resolve()).once("error", reject));
  } catch (err) {
    throw new ZkfleetError("usage", `cannot read ${file}: ${(err as Error).message}`, { where: file, hint: "give the path of a file written by `zkfleet export`" });
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let header: Header | undefined;
  let end: EndLine | undefined;
  let prev: string | undefined;
  const ancestors: { path: string; ephemeral: boolean }[] = [];
  const digest = new TreeDigest();
  let extended = 0;
  let count = 0;
  try {
    for await (const text of lines) {
      n++;
      if (end) throw problem(file, n, "more lines after the end line");
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw problem(file, n, `not a JSON line (${text.length > 60 ? text.slice(0, 60) + "..." : text || "empty line"})`);
      }
      if (!header) {
        const h = Header.safeParse(raw);
        if (!h.success) throw problem(file, n, `not the header of a zkfleet export: ${issues(h.error)}`, "give a file written by `zkfleet export`");
        header = h.data;
        continue;
      }
      if (raw !== null && typeof raw === "object" && "end" in raw) {
        const e = EndLine.safeParse(raw);
        if (!e.success) throw problem(file, n, `a broken end line: ${issues(e.error)}`);
        end = e.data;
        if (end.nodes !== count) throw problem(file, n, `the end line counts ${end.nodes} nodes, the file holds ${count}`);
        const computed = digest.finish();
        if (end.digest !== computed) throw problem(file, n, `the digest in the end line (${end.digest}) is not that of the nodes before it (${computed}): the file was altered`);
        continue;
      }
      const parsed = NodeLine.safeParse(raw);
      if (!parsed.success) throw problem(file, n, `a broken node line: ${issues(parsed.error)}`);
      const node = fromLine(parsed.data);
      const path = node.path;
      if (prev === undefined) {
        if (path !== header.root) throw problem(file, n, `the first node is ${path}, the header says the root is ${header.root}`);
      } else {
        if (!isUnder(path, header.root)) throw problem(file, n, `${path} is outside the root ${header.root}`);
        if (comparePaths(prev, path) >= 0) throw problem(file, n, `${path} comes after ${prev}: ${path === prev ? "a duplicate" : "out of depth-first order"}`);
        while (ancestors.length > 0 && !isUnder(path, ancestors.at(-1)!.path)) ancestors.pop();
        const parent = ancestors.at(-1);
        if (!parent || parent.path !== parentOf(path)) throw problem(file, n, `the parent of ${path} is not in the file before it`);
        if (parent.ephemeral) throw problem(file, n, `${path} is below the ephemeral node ${parent.path}, and ephemeral nodes have no children`);
      }
      ancestors.push({ path, ephemeral: node.ephemeral });
      if (node.container || node.ttlMs !== undefined) extended++;
      digest.push(node);
      count++;
      prev = path;
      yield { line: n, node };
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (!header) throw problem(file, 1, "the file is empty");
  if (!end) throw problem(file, n, `the file ends without its end line after ${count} node(s): it is truncated`);
  summary?.({ header: { kind: "jsonl", root: header.root, source: header.source }, end, ignored: [], nodes: count, ephemeral: digest.ephemeral, extended });
}

/** Reads the whole file, holding nothing, and says what it holds; throws at its first problem. `inspect` sees every node on the way. */
export async function checkExportFile(file: string, inspect?: (n: FileNode) => void): Promise<FileSummary> {
  let summary: FileSummary | undefined;
  for await (const n of readExportFile(file, (s) => (summary = s))) inspect?.(n);
  return summary!;
}

/** The header alone (for telling an export file from an inventory, and where its tree is rooted). */
export async function readHeader(file: string): Promise<FileHeader | undefined> {
  const input = createReadStream(file, { start: 0, end: 64 * 1024 });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const text of lines) {
      if (looksLikeXml(Buffer.from(text))) {
        lines.close();
        input.destroy();
        return { kind: "xml", root: await readXmlRoot(file), source: XML_SOURCE };
      }
      try {
        const h = Header.safeParse(JSON.parse(text));
        return h.success ? { kind: "jsonl", root: h.data.root, source: h.data.source } : undefined;
      } catch {
        return undefined;
      }
    }
    return undefined;
  } finally {
    lines.close();
    input.destroy();
  }
}
