// A live tree as a stream of nodes in depth-first order (paths.ts), read
// ahead through a pipelined session without holding the tree: at most
// `window` nodes are read ahead of the one being handed out, whatever the
// tree's width, plus the child names of the parents on the current path.
import type { Acl, Stat } from "./protocol.js";
import { ZkCallError } from "./client.js";
import { childPath, sortNames } from "./paths.js";
import { ZkCode } from "./protocol.js";

export interface ZNode {
  path: string;
  data: Buffer;
  stat: Stat;
  acl: Acl[];
  /** Sorted. */
  children: string[];
}

export interface NodeReader {
  /** `parent`: the node (as this reader answered it) whose children list named this one; none for the root. */
  read(path: string, parent?: ZNode): Promise<Omit<ZNode, "path">>;
}

export interface WalkOptions {
  /** Nodes read ahead at most (default 512). */
  window?: number;
  /** Subtrees left out (never read). */
  skip?: (path: string) => boolean;
  /** A node listed by its parent but gone when read: the tree is live. */
  onVanished?: (path: string) => void;
}

export async function* walkTree(reader: NodeReader, root: string, opts: WalkOptions = {}): AsyncGenerator<ZNode> {
  const window = opts.window ?? 512;
  let ahead = 0;
  const read = (path: string, parent?: ZNode): Promise<ZNode | undefined> => {
    const p = reader.read(path, parent).then(
      (n) => ({ ...n, path, children: sortNames(n.children) }),
      (err: unknown) => {
        if (err instanceof ZkCallError && err.rc === ZkCode.noNode) return undefined;
        throw err;
      });
    // Read-ahead abandoned by a consumer that stopped early must not surface as unhandled.
    p.catch(() => undefined);
    return p;
  };

  /** A node read: it, then its subtree; a child without children of its own is handed out here, no generator made for it. */
  async function* visit(node: ZNode): AsyncGenerator<ZNode> {
    yield node;
    const path = node.path;
    const paths = node.children.map((name) => childPath(path, name)).filter((p) => !opts.skip?.(p));
    const started: (Promise<ZNode | undefined> | undefined)[] = [];
    let next = 0;
    for (let i = 0; i < paths.length; i++) {
      if (next <= i) {
        started[i] = read(paths[i]!, node);
        next = i + 1;
      } else {
        ahead--;
      }
      while (next < paths.length && ahead < window) {
        started[next] = read(paths[next]!, node);
        next++;
        ahead++;
      }
      const p = started[i]!;
      started[i] = undefined;
      const child = await p;
      if (!child) opts.onVanished?.(paths[i]!);
      else if (child.children.length === 0) yield child;
      else yield* visit(child);
    }
  }

  if (opts.skip?.(root)) return;
  const top = await read(root);
  if (!top) return opts.onVanished?.(root);
  yield* visit(top);
}
