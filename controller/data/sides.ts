// Naming a tree on the command line: a connect string, an inventory (reached
// through SSH), or an export file (JSON lines or zktreeutil's XML). `diff` takes any of them on each side;
// an explicit prefix (zk:, inventory:, file:) settles an ambiguous name.
import { existsSync } from "node:fs";
import { ZkfleetError } from "../../common/errors.js";
import { type Cluster, type ClusterOptions, type ClusterSpec, openCluster, parseConnect } from "./cluster.js";
import { liveTree } from "./export.js";
import type { TreeNode } from "./format.js";
import { isUnder } from "../zk/paths.js";
import { readExportFile, readHeader } from "./read-file.js";
import { readXmlTree } from "./xml.js";

export type SideSpec = ClusterSpec | { kind: "file"; file: string };

export async function parseSide(text: string): Promise<SideSpec> {
  const prefixed = /^(zk|inventory|file):(.+)$/.exec(text);
  if (prefixed) {
    const [, kind, rest] = prefixed as unknown as [string, string, string];
    if (kind === "zk") return parseConnect(rest);
    return kind === "file" ? { kind: "file", file: rest } : { kind: "inventory", file: rest };
  }
  if (existsSync(text)) return (await readHeader(text)) ? { kind: "file", file: text } : { kind: "inventory", file: text };
  try {
    return parseConnect(text);
  } catch {
    throw new ZkfleetError("usage", `"${text}" is neither a file (an export or an inventory) nor a connect string`, {
      where: text, hint: "give an export file, an inventory file, or host:port[,host:port...] (prefix with zk:, inventory: or file: to be explicit)",
    });
  }
}

/** Just the cluster flags of export and import: exactly one of --zk and -i. */
export function clusterFrom(o: { zk?: string; inventory?: string }): ClusterSpec {
  if ((o.zk === undefined) === (o.inventory === undefined)) {
    throw new ZkfleetError("usage", "name the cluster with --zk HOST:PORT[,...] or with -i INVENTORY (one of them)", { where: "--zk/-i" });
  }
  return o.zk !== undefined ? parseConnect(o.zk) : { kind: "inventory", file: o.inventory! };
}

export interface OpenSide {
  label: string;
  root: string;
  nodes: AsyncIterable<TreeNode>;
  /** A live side's client processes that failed and were replaced. */
  restarts(): string[];
  /** Subtrees an XML file marks ignore: not to be compared on either side. */
  ignored: string[];
  /** How a live side was reached (hosts left out, and why). */
  notes: string[];
  close(): Promise<void>;
}

/** A side as a stream of nodes; a live side's root defaults to `defaultRoot` (a file's own root, when the other side is a file). */
export async function openSide(spec: SideSpec, root: string | undefined, defaultRoot: string, opts: ClusterOptions): Promise<OpenSide> {
  if (spec.kind === "file") {
    const header = await readHeader(spec.file);
    if (root !== undefined && header && root !== header.root) {
      throw new ZkfleetError("usage", `${spec.file} holds the tree below ${header.root}, not ${root}`, { where: "--path", hint: `drop --path, or give --path ${header.root}` });
    }
    const xml = header?.kind === "xml" ? await readXmlTree(spec.file) : undefined;
    const nodes = (async function* () {
      if (xml) for (const { node } of xml.nodes) yield node;
      else for await (const { node } of readExportFile(spec.file)) yield node;
    })();
    return { label: spec.file, root: header?.root ?? "/", nodes, restarts: () => [], ignored: xml?.ignored ?? [], notes: [], close: async () => undefined };
  }
  const cluster: Cluster = await openCluster(spec, opts);
  const at = root ?? defaultRoot;
  return {
    label: cluster.label, root: at, nodes: liveTree(cluster.client, at), restarts: () => [...cluster.client.restarts], ignored: [], notes: cluster.notes,
    close: () => cluster.close(),
  };
}

/** The nodes of a stream that are not in (or below) an ignored subtree. */
export async function* outside(nodes: AsyncIterable<TreeNode>, ignored: readonly string[]): AsyncGenerator<TreeNode> {
  for await (const n of nodes) if (!ignored.some((root) => isUnder(n.path, root))) yield n;
}
