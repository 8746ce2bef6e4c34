// zktreeutil's XML (ZooKeeper's contrib tool): a root element holding nested
// <zknode name="..." value="..."> elements from / down, where an empty value
// is left out and ignore="true" marks a subtree the tool leaves alone. It
// holds names and text values only: no ACLs, no stats, no sequence
// counters, no ephemeral flag. zkfleet reads it so that zktreeutil's users
// can bring their files, and writes it so that they can take trees back;
// what the format cannot hold is refused (bytes that are not text) or
// counted and said (ACLs, counters, ephemeral nodes), never dropped
// silently. Nodes read from it are marked textOnly so that import and diff
// neither compare nor set what the file does not know.
import { createReadStream } from "node:fs";
import { SaxesParser, type SaxesTagPlain } from "saxes";
import { ZkfleetError } from "../../common/errors.js";
import { childPath, comparePaths, parentOf } from "../zk/paths.js";
import { type Stat, ZkPath } from "../zk/protocol.js";
import { OPEN_ACL, sameAcl } from "./compare.js";
import { sequenceCounter } from "./digest.js";
import type { TreeNode } from "./format.js";

export const XML_SOURCE = "zktreeutil XML";

/** On the root element, where a zkfleet export was taken below /; zktreeutil ignores it. */
const ROOT_ATTRIBUTE = "zkfleet-root";
const ELEMENT = "zknode";
const IGNORE_VALUES = new Set(["true", "yes", "1"]);

/** Characters XML 1.0 can carry at all. */
const XML_CHARS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The data as text XML can carry, or why not. */
function asText(data: Buffer): { text: string } | { problem: string } {
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { problem: "is not UTF-8 text" };
  }
  if (!XML_CHARS.test(text)) return { problem: "holds control characters XML cannot carry" };
  return { text };
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
/** Tabs and line ends as character references: a parser turns them into spaces otherwise. */
const escapeAttribute = (s: string) => s.replace(/[&<>"\t\n\r]/g, (c) => ENTITIES[c] ?? `&#${c.charCodeAt(0)};`);

export interface XmlDropped {
  /** Ephemeral nodes left out: zktreeutil would create them persistent. */
  ephemeral: number;
  /** Nodes whose ACL is not world:anyone:cdrwa. */
  acl: number;
  /** Parents whose next sequence number is not 0. */
  counter: number;
}

/**
 * Writes nodes, given in depth-first order, as zktreeutil's XML, streaming:
 * a node's element is closed (or made empty) only once the next node shows
 * whether it has children. Each method answers the text to write next.
 */
export class XmlTreeWriter {
  readonly dropped: XmlDropped = { ephemeral: 0, acl: 0, counter: 0 };
  /** Elements opened and not closed yet, outermost first. */
  private readonly open: string[] = [];
  /** The last element's start tag, still unterminated. */
  private pending: string | undefined;

  constructor(private readonly root: string) {}

  begin(): string {
    let text = `<?xml version="1.0" encoding="UTF-8"?>\n<root${this.root === "/" ? "" : ` ${ROOT_ATTRIBUTE}="${escapeAttribute(this.root)}"`}>\n`;
    // zktreeutil writes a subtree inside its ancestors; so does this, without values.
    const ancestors: string[] = [];
    for (let p = parentOf(this.root); p !== undefined && p !== "/"; p = parentOf(p)) ancestors.unshift(p);
    for (const a of ancestors) {
      text += `${this.indent()}<${ELEMENT} name="${escapeAttribute(a.slice(a.lastIndexOf("/") + 1))}">\n`;
      this.open.push(a);
    }
    return text;
  }

  node(n: TreeNode): string {
    if (n.ephemeral) {
      this.dropped.ephemeral++;
      return "";
    }
    if (!sameAcl(n.acl, OPEN_ACL)) this.dropped.acl++;
    if (sequenceCounter(n.stat) !== 0) this.dropped.counter++;
    const value = asText(n.data);
    const name = n.path === "/" ? "" : n.path.slice(n.path.lastIndexOf("/") + 1);
    const nameText = asText(Buffer.from(name, "utf8"));
    if ("problem" in value || "problem" in nameText) {
      const what = "problem" in nameText ? `its name ${nameText.problem}` : `its data (${n.data.length} bytes) ${(value as { problem: string }).problem}`;
      throw new ZkfleetError("usage", `${n.path}: ${what}, and zktreeutil's XML holds text only; nothing was written`, {
        where: n.path, hint: "export as JSON lines (the default format), which keeps every byte, ACL and counter",
      });
    }
    if (n.path === "/") {
      // The root element stands for / and has no value of its own.
      if (value.text !== "") {
        throw new ZkfleetError("usage", "/ holds data, and zktreeutil's XML cannot hold the data of /; nothing was written", {
          where: "/", hint: "export a subtree with --path, or as JSON lines (the default format)",
        });
      }
      return "";
    }
    let text = this.closeUntil(parentOf(n.path)!);
    this.pending = `${this.indent()}<${ELEMENT} name="${escapeAttribute(nameText.text)}"${value.text === "" ? "" : ` value="${escapeAttribute(value.text)}"`}`;
    this.open.push(n.path);
    return text;
  }

  end(): string {
    return this.closeUntil(undefined) + "</root>\n";
  }

  private indent(): string {
    return "  ".repeat(this.open.length + 1);
  }

  /** Terminates the pending start tag and closes every element that is not `parent` or above it. */
  private closeUntil(parent: string | undefined): string {
    let text = "";
    const top = this.open.at(-1);
    if (this.pending !== undefined) {
      const hasChild = top !== undefined && top === parent;
      text += this.pending + (hasChild ? ">\n" : "/>\n");
      this.pending = undefined;
      if (!hasChild) this.open.pop();
    }
    while (this.open.length > 0 && this.open.at(-1) !== parent && (parent === undefined || !parent.startsWith(this.open.at(-1)! + "/"))) {
      this.open.pop();
      text += `${this.indent()}</${ELEMENT}>\n`;
    }
    return text;
  }
}

const NO_STAT: Stat = {
  czxid: 0, mzxid: 0, pzxid: 0, ctime: 0, mtime: 0, version: 0, cversion: 0, aversion: 0, dataLength: 0, numChildren: 0, ephemeralOwner: "0",
};

export interface XmlTree {
  root: string;
  /** In depth-first order, the root first; each with the line of its element. */
  nodes: { line: number; node: TreeNode }[];
  /** Subtrees marked ignore (zktreeutil's "leave alone"): neither they nor anything below them is in `nodes`. */
  ignored: string[];
}

/** True when the file starts like XML (after any byte-order mark and blank space). */
export function looksLikeXml(head: Buffer): boolean {
  return /^(\uFEFF)?\s*</.test(head.toString("utf8"));
}

const rootOf = (declared: string | undefined) => ZkPath.safeParse(declared ?? "/");

/** Where the file's tree is rooted, from its root element alone (read from the file's start); / when it does not say. */
export async function readXmlRoot(file: string): Promise<string> {
  const parser = new SaxesParser({ xmlns: false, fileName: file, position: true });
  let declared: string | undefined;
  let found = false;
  parser.on("opentag", (tag: SaxesTagPlain) => {
    if (!found) declared = tag.attributes[ROOT_ATTRIBUTE];
    found = true;
  });
  parser.on("error", () => undefined);
  const input = createReadStream(file, { encoding: "utf8", start: 0, end: 64 * 1024 });
  try {
    for await (const chunk of input) {
      parser.write(chunk as string);
      if (found) break;
    }
  } finally {
    input.destroy();
  }
  const root = rootOf(declared);
  return root.success ? root.data : "/";
}

/**
 * Reads a zktreeutil XML file whole (as zktreeutil itself does) and sorts it
 * into depth-first order; the first problem stops the read with the file,
 * line and column.
 */
export async function readXmlTree(file: string): Promise<XmlTree> {
  const parser = new SaxesParser({ xmlns: false, fileName: file, position: true });
  let root: string | undefined;
  const stack: { path: string; ignoredBelow: boolean }[] = [];
  const nodes: { line: number; node: TreeNode }[] = [];
  const seen = new Set<string>();
  const ignored: string[] = [];
  let failure: ZkfleetError | undefined;
  const fail = (what: string) => {
    failure ??= new ZkfleetError("usage", `${file}:${parser.line}:${parser.column}: ${what}`, {
      where: `${file}:${parser.line}`, hint: "give a file written by zktreeutil (--export) or by `zkfleet export --format xml`",
    });
  };
  const textNode = (path: string, value: string | undefined): TreeNode => ({
    path, data: Buffer.from(value ?? "", "utf8"), acl: OPEN_ACL, ephemeral: false, stat: NO_STAT, textOnly: true,
  });

  parser.on("error", (err) => {
    failure ??= new ZkfleetError("usage", `not well-formed XML: ${err.message}`, { where: file, hint: "give a file written by zktreeutil (--export) or by `zkfleet export --format xml`" });
  });
  parser.on("text", (text) => {
    if (text.trim() !== "") fail(`text ${JSON.stringify(text.trim().slice(0, 40))} outside a value attribute: zktreeutil keeps a node's data in value="..."`);
  });
  parser.on("opentag", (tag: SaxesTagPlain) => {
    if (root === undefined) {
      const declared = tag.attributes[ROOT_ATTRIBUTE];
      const parsed = rootOf(declared);
      if (!parsed.success) return fail(`${ROOT_ATTRIBUTE}="${declared}" is not a znode path`);
      root = parsed.data;
      stack.push({ path: "/", ignoredBelow: false });
      nodes.push({ line: parser.line, node: textNode("/", undefined) });
      return;
    }
    const parent = stack.at(-1)!;
    if (tag.name !== ELEMENT) return fail(`<${tag.name}> where a <${ELEMENT}> element was expected`);
    const name = tag.attributes.name;
    if (name === undefined || name === "" || name.includes("/") || name === "." || name === "..") {
      return fail(`a <${ELEMENT}> needs a name attribute that is one znode name (not empty, no "/", not . or ..), got ${JSON.stringify(name ?? null)}`);
    }
    const path = childPath(parent.path, name);
    if (seen.has(path)) return fail(`${path} appears twice`);
    seen.add(path);
    const ignore = tag.attributes.ignore !== undefined && IGNORE_VALUES.has(tag.attributes.ignore);
    stack.push({ path, ignoredBelow: parent.ignoredBelow || ignore });
    if (parent.ignoredBelow) return;
    if (ignore) return void ignored.push(path);
    nodes.push({ line: parser.line, node: textNode(path, tag.attributes.value) });
  });
  parser.on("closetag", () => void stack.pop());

  let input;
  try {
    input = createReadStream(file, { encoding: "utf8" });
    await new Promise<void>((resolve, reject) => input!.once("open", () => resolve()).once("error", reject));
  } catch (err) {
    throw new ZkfleetError("usage", `cannot read ${file}: ${(err as Error).message}`, { where: file });
  }
  try {
    for await (const chunk of input) {
      parser.write(chunk as string);
      if (failure) throw failure;
    }
    parser.close();
  } finally {
    input.destroy();
  }
  if (failure) throw failure;
  if (root === undefined) throw new ZkfleetError("usage", `${file}: no root element`, { where: file });
  const inside = nodes.filter(({ node }) => node.path === root || node.path.startsWith(root === "/" ? "/" : root + "/"));
  if (!inside.some(({ node }) => node.path === root)) {
    throw new ZkfleetError("usage", `${file}: ${ROOT_ATTRIBUTE} says ${root}, and the file has no <${ELEMENT}> for it`, { where: file });
  }
  inside.sort((a, b) => comparePaths(a.node.path, b.node.path));
  return { root: root!, nodes: inside, ignored };
}
