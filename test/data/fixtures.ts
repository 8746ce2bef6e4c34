// Building export files and nodes for the data-plane tests, from the same
// format and digest definitions the controller uses (pure, no cluster).
import { writeFileSync } from "node:fs";
import { TreeDigest } from "../../controller/data/digest.js";
import { FORMAT, FORMAT_VERSION, type TreeNode, toLine } from "../../controller/data/format.js";
import type { Acl, Stat } from "../../controller/zk/protocol.js";

const OPEN: Acl[] = [{ perms: 31, scheme: "world", id: "anyone" }];

export function node(path: string, data: string, o: { cversion?: number; ephemeral?: boolean; acl?: Acl[] } = {}): TreeNode {
  const stat: Stat = {
    czxid: 1, mzxid: 1, pzxid: 1, ctime: 0, mtime: 0, version: 0, cversion: o.cversion ?? 0, aversion: 0,
    dataLength: data.length, numChildren: 0, ephemeralOwner: o.ephemeral ? "1000000abc" : "0",
  };
  return { path, data: Buffer.from(data), acl: o.acl ?? OPEN, ephemeral: o.ephemeral ?? false, stat };
}

/** The lines of a whole, valid export file of these nodes (given in depth-first order). */
export function exportLines(root: string, nodes: TreeNode[]): string[] {
  const digest = new TreeDigest();
  for (const n of nodes) digest.push(n);
  return [
    JSON.stringify({ format: FORMAT, version: FORMAT_VERSION, root, source: "test", started: "2026-01-01T00:00:00Z" }),
    ...nodes.map((n) => JSON.stringify(toLine(n))),
    JSON.stringify({ end: true, nodes: nodes.length, digest: digest.finish(), finished: "2026-01-01T00:00:01Z" }),
  ];
}

export function writeLines(file: string, lines: string[]): string {
  writeFileSync(file, lines.map((l) => l + "\n").join(""));
  return file;
}
