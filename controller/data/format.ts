// The export file: JSON lines, one header, one line per znode in depth-first
// order (zk/paths.ts), one end line with the count and the tree's digest, so
// a truncated file is told apart from a complete one.
//
//   {"format":"zkfleet-export","version":1,"root":"/app","source":"...","started":"..."}
//   {"path":"/app","data":"<base64>","acl":[{"perms":31,"scheme":"world","id":"anyone"}],"ephemeral":false,"stat":{...}}
//   {"end":true,"nodes":1,"digest":"sha256:..."}
//
// container and ttlMs are only written when known: servers report
// ephemeralOwner 0 for container and TTL nodes to clients, so a live
// export cannot tell them from persistent ones.
import { z } from "zod";
import { Acl, Base64, Stat, ZkPath } from "../zk/protocol.js";

export const FORMAT = "zkfleet-export";
export const FORMAT_VERSION = 1;

/**
 * A file's lines are parsed once per node, hundreds of thousands of times: these schemas get zod's compiled
 * parsers, which the CLI turns off for the rest (common/zod-jitless.ts), zod deciding when a schema is made.
 * Measured on 100,000 lines: 2.2 -> 1.35 s of CPU per pass over the file.
 */
function compiled<T>(make: () => T): T {
  const jitless = z.config().jitless;
  z.config({ jitless: false });
  try {
    return make();
  } finally {
    z.config({ jitless });
  }
}

const schemas = compiled(() => {
  const Header = z.strictObject({
    format: z.literal(FORMAT),
    version: z.literal(FORMAT_VERSION),
    root: ZkPath,
    source: z.string(),
    started: z.string(),
  });
  const NodeLine = z.strictObject({
    path: ZkPath,
    data: Base64,
    acl: z.array(Acl.clone()).min(1),
    ephemeral: z.boolean(),
    container: z.literal(true).optional(),
    ttlMs: z.number().int().positive().optional(),
    stat: Stat.clone(),
  }).refine((n) => !(n.ephemeral && (n.container || n.ttlMs !== undefined)), "an ephemeral node cannot be a container or have a TTL")
    .refine((n) => !(n.container && n.ttlMs !== undefined), "a container node cannot have a TTL");
  const EndLine = z.strictObject({
    end: z.literal(true),
    nodes: z.number().int().nonnegative(),
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    finished: z.string(),
  });
  return { Header, NodeLine, EndLine };
});

export const Header = schemas.Header;
export type Header = z.infer<typeof Header>;
export const NodeLine = schemas.NodeLine;
export type NodeLine = z.infer<typeof NodeLine>;
export const EndLine = schemas.EndLine;
export type EndLine = z.infer<typeof EndLine>;

/** What every tree stream carries, whether read live or from a file. */
export interface TreeNode {
  path: string;
  data: Buffer;
  acl: Acl[];
  ephemeral: boolean;
  container?: boolean;
  ttlMs?: number;
  stat: Stat;
  /**
   * Read from a file that holds names and text data only (zktreeutil's XML):
   * its ACL and sequence counter are not known, so they are neither compared
   * nor written.
   */
  textOnly?: true;
}

export function toLine(n: TreeNode): NodeLine {
  return {
    path: n.path, data: n.data.toString("base64"), acl: n.acl, ephemeral: n.ephemeral,
    ...(n.container ? { container: true as const } : {}), ...(n.ttlMs !== undefined ? { ttlMs: n.ttlMs } : {}), stat: n.stat,
  };
}

export function fromLine(l: NodeLine): TreeNode {
  return {
    path: l.path, data: Buffer.from(l.data, "base64"), acl: l.acl, ephemeral: l.ephemeral,
    ...(l.container ? { container: true } : {}), ...(l.ttlMs !== undefined ? { ttlMs: l.ttlMs } : {}), stat: l.stat,
  };
}

export const isEphemeral = (stat: Stat) => stat.ephemeralOwner !== "0";
