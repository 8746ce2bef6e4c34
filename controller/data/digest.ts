// The digest of a tree, for the record and for checks by other tools. It
// covers what a copy can reproduce: every persistent node below the root
// (ephemeral nodes belong to sessions; /zookeeper to the server), with its
// path, data, ACL and sequence counter. Defined so that anything that can
// list a tree can compute it (test/data/TreeDigest.java does, with
// ZooKeeper's Java client):
//
//   sha256 over one line per persistent node, in depth-first order with
//   siblings sorted by name (UTF-16 code units):
//     path \t sha256-hex(data) \t counter [\t perms:scheme:id]... \n
//   where counter = (cversion + numChildren) / 2, the next sequence number.
import * as crypto from "node:crypto";
import type { Acl, Stat } from "../zk/protocol.js";
import { isSystemPath } from "../zk/paths.js";
import type { TreeNode } from "./format.js";

/**
 * The number the next sequential child of a node gets. Servers count only
 * creates and report cversion = 2 * creates - numChildren (DataNode.copyStat),
 * so the counter is (cversion + numChildren) / 2: it moves on with every
 * create and never with a delete, an ephemeral child's end included.
 */
export const sequenceCounter = (stat: Pick<Stat, "cversion" | "numChildren">) => (stat.cversion + stat.numChildren) / 2;

/** One-shot hashing (node 20.12+) makes no Hash object per node: a digest is taken of every node a tree stream carries. */
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: "hex") => string }).hash;
const sha256Hex = (data: Buffer) => (oneShot ? oneShot("sha256", data, "hex") : crypto.createHash("sha256").update(data).digest("hex"));

export function digestLine(path: string, data: Buffer, counter: number, acl: readonly Acl[]): string {
  const hash = sha256Hex(data);
  return [path, hash, String(counter), ...acl.map((a) => `${a.perms}:${a.scheme}:${a.id}`)].join("\t") + "\n";
}

export class TreeDigest {
  private readonly hash = crypto.createHash("sha256");
  nodes = 0;
  ephemeral = 0;

  push(n: TreeNode): void {
    if (isSystemPath(n.path)) return;
    if (n.ephemeral) {
      this.ephemeral++;
      return;
    }
    this.nodes++;
    this.hash.update(digestLine(n.path, n.data, sequenceCounter(n.stat), n.acl));
  }

  finish(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}
