// `zkfleet export`: a live tree streamed to JSON lines (format.ts), or to
// zktreeutil's XML (xml.ts), as it is walked, so memory stays flat whatever
// the tree's size. A live tree is not
// a snapshot: nodes that go while the walk runs are counted, not errors.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import type { Writable } from "node:stream";
import { ZkfleetError } from "../../common/errors.js";
import { ZkCallError } from "../zk/client.js";
import type { TreeClient } from "../zk/wire-client.js";
import { isSystemPath } from "../zk/paths.js";
import { ZkCode } from "../zk/protocol.js";
import { type NodeReader, type ZNode, walkTree } from "../zk/walk.js";
import { FORMAT, FORMAT_VERSION, type Header, type TreeNode, isEphemeral, toLine } from "./format.js";
import { TreeDigest } from "./digest.js";
import { type XmlDropped, XmlTreeWriter } from "./xml.js";

export interface Progress {
  nodes: number;
  bytes: number;
  ms: number;
}

export interface ExportOptions {
  root: string;
  /** Names the source in the header. */
  source: string;
  window?: number;
  onProgress?: (p: Progress) => void;
  /** jsonl unless said. */
  format?: "jsonl" | "xml";
}

export interface ExportResult {
  nodes: number;
  ephemeral: number;
  bytes: number;
  digest: string;
  /** Listed by their parent, gone when read. */
  vanished: number;
  /** Client processes that failed during the walk and were replaced, their reads sent again. */
  restarts: string[];
  ms: number;
  /** What an XML export could not hold. */
  dropped?: XmlDropped;
}

async function assertRoot(client: TreeClient, root: string): Promise<void> {
  if (!(await client.exists(root))) {
    throw new ZkfleetError("usage", `${client.label} has no node ${root}`, { where: root, hint: "give an existing path with --path" });
  }
}

/** A live node: a TreeNode with its children's names (sorted). */
export type LiveNode = TreeNode & { children: string[] };

export interface LiveTreeOptions {
  window?: number;
  onVanished?: () => void;
  /** Subtrees left out besides /zookeeper. */
  skip?: (path: string) => boolean;
  /** Leave a data and a child watch on every node read (WireClientOptions.onWatch hears them). */
  watch?: boolean;
}

/**
 * Servers since 3.4.14/3.5.5 (CVE-2019-0201) show a digest ACL's id as "user:x" to a session without
 * ADMIN on the node. Exported, compared or copied, it would be wrong (written to a target, it locks
 * everyone out of the node): every reader stops there. A real id is user:base64(sha1), never "x".
 */
function refuseMasked(client: TreeClient, n: { path: string; acl: readonly { scheme: string; id: string }[] }): void {
  const masked = n.acl.find((a) => a.scheme === "digest" && a.id.endsWith(":x"));
  if (!masked) return;
  throw new ZkfleetError("zookeeper", `the source hides the digest ACL of ${n.path} (it shows ${masked.id}) from this session on ${client.label}; ` +
    "a copy of it would lock everyone out of the node, and a comparison of it would mean nothing", {
    where: n.path, hint: "give the credentials of a user with ADMIN on the node (or the super user's) so the server shows the real id: " +
      "--auth-file FILE or ZKFLEET_AUTH (scheme:credential lines, e.g. digest:USER:PASSWORD), or --auth",
  });
}

/** A parent with this many children has them read through every session of the client (spreadReader). */
const SPREAD = 64;

/**
 * Reads through the client's sessions, each on another server (WireClientOptions.readSessions), so that
 * the servers answer a walk together. A node is read where its parent was, except the children of a wide
 * parent, dealt out over every session; a session that did not list them first syncs with the leader on
 * the parent, so that it has every child the list named (unless deleted since). Watches stay on the one
 * session that hears them.
 */
function spreadReader(client: TreeClient, watch: boolean): NodeReader {
  const readers = watch || !client.readers ? [client] : client.readers;
  type Read = ZNode & { via?: number; dealt?: { next: number; synced: Map<number, Promise<void>> } };
  return {
    read: async (path: string, parent?: ZNode) => {
      const p = parent as Read | undefined;
      let via = p?.via ?? 0;
      if (p && readers.length > 1 && p.children.length >= SPREAD) {
        p.dealt ??= { next: via, synced: new Map([[via, Promise.resolve()]]) };
        via = p.dealt.next++ % readers.length;
        let synced = p.dealt.synced.get(via);
        if (!synced) p.dealt.synced.set(via, (synced = readers[via]!.sync(p.path)));
        await synced;
      }
      return { ...(await readers[via]!.read(path, { watch })), via };
    },
  };
}

/** The live tree below root as TreeNodes, /zookeeper left out; a node whose digest ACL the server masks stops it. */
export async function* liveTree(client: TreeClient, root: string, opts: LiveTreeOptions = {}): AsyncGenerator<LiveNode> {
  await assertRoot(client, root);
  const reader = spreadReader(client, opts.watch ?? false);
  const skip = (path: string) => isSystemPath(path) || (opts.skip?.(path) ?? false);
  for await (const n of walkTree(reader, root, { window: opts.window, skip, onVanished: opts.onVanished })) {
    refuseMasked(client, n);
    yield { path: n.path, data: n.data, acl: n.acl, ephemeral: isEphemeral(n.stat), stat: n.stat, children: n.children };
  }
}

/**
 * Whether this session may export the tree below root: every node's child list
 * (which needs READ, as its data does) and ACL (shown whole only with ADMIN)
 * read, no data. Cheap next to what waits on an export (a backup's copy):
 * a node it may not read, or a digest ACL the server hides from it, stops it
 * here, named. Answers the nodes seen.
 */
export async function checkReadable(client: TreeClient, root: string): Promise<number> {
  await assertRoot(client, root);
  const reader = {
    read: async (path: string) => {
      // Children first: they say whether the node is there before its ACL is asked (zk/worker.ts getAcl).
      const { children } = await client.children(path);
      const { acl, stat } = await client.getAcl(path);
      return { data: Buffer.alloc(0), stat, acl, children };
    },
  };
  let nodes = 0;
  try {
    for await (const n of walkTree(reader, root, { skip: isSystemPath })) {
      refuseMasked(client, n);
      nodes++;
    }
  } catch (err) {
    if (err instanceof ZkCallError && err.rc === ZkCode.noAuth) {
      throw new ZkfleetError("zookeeper", `the session may not read ${err.path} on ${client.label} (noAuth): an export needs every node readable`, {
        where: err.path, hint: "give credentials allowed to read it (--auth-file FILE, ZKFLEET_AUTH, or --auth digest:USER:PASSWORD), or the super user's",
      });
    }
    throw err;
  }
  return nodes;
}

/** How a tree is written: JSON lines (everything) or zktreeutil's XML (names and text values). */
interface TreeSink {
  begin(): string;
  node(n: TreeNode): string;
  end(r: { nodes: number; digest: string }): string;
  dropped?: XmlDropped;
}

function jsonLines(header: Header): TreeSink {
  const line = (x: unknown) => JSON.stringify(x) + "\n";
  return {
    begin: () => line(header),
    node: (n) => line(toLine(n)),
    end: (r) => line({ end: true, nodes: r.nodes, digest: r.digest, finished: new Date().toISOString() }),
  };
}

export async function exportTree(client: TreeClient, out: Writable, opts: ExportOptions): Promise<ExportResult> {
  await assertRoot(client, opts.root);
  const started = Date.now();
  let failed: Error | undefined;
  out.on("error", (err) => (failed ??= err));
  const write = async (text: string) => {
    if (failed) throw failed;
    if (text !== "" && !out.write(text)) await once(out, "drain");
  };
  const header: Header = { format: FORMAT, version: FORMAT_VERSION, root: opts.root, source: opts.source, started: new Date(started).toISOString() };
  const sink: TreeSink = opts.format === "xml" ? new XmlTreeWriter(opts.root) : jsonLines(header);
  await write(sink.begin());
  const digest = new TreeDigest();
  let vanished = 0;
  let nodes = 0;
  let bytes = 0;
  let lastReport = 0;
  // Lines go to the file some 64 kB at a time: one write (and one wait for the stream) per node cost more than the line.
  let text = "";
  for await (const node of liveTree(client, opts.root, { window: opts.window, onVanished: () => vanished++ })) {
    digest.push(node);
    nodes++;
    bytes += node.data.length;
    text += sink.node(node);
    if (text.length >= 1 << 16) {
      await write(text);
      text = "";
    }
    if (opts.onProgress && Date.now() - lastReport > 250) {
      lastReport = Date.now();
      opts.onProgress({ nodes, bytes, ms: lastReport - started });
    }
  }
  await write(text);
  const result: ExportResult = {
    nodes, ephemeral: digest.ephemeral, bytes, digest: digest.finish(), vanished, restarts: [...client.restarts], ms: Date.now() - started,
    ...(sink.dropped ? { dropped: sink.dropped } : {}),
  };
  await write(sink.end(result));
  return result;
}

/** Writes beside the file and renames at the end: a failed export never leaves a file that looks whole. */
export async function exportToFile(client: TreeClient, file: string, opts: ExportOptions): Promise<ExportResult> {
  const temp = `${file}.partial-${process.pid}`;
  // Every node's data and ACL ids: for its owner alone, as a backup's files are.
  const out = createWriteStream(temp, { flags: "wx", mode: 0o600 });
  try {
    await once(out, "open");
    const result = await exportTree(client, out, opts);
    out.end();
    await once(out, "finish");
    await rename(temp, file);
    return result;
  } catch (err) {
    out.destroy();
    await rm(temp, { force: true });
    throw err;
  }
}
