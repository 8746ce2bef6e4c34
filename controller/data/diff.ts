// `zkfleet diff A B`: two trees, each live or from an export file, merged
// in depth-first order (both streams are in it), so nothing but the current
// paths and a bounded read-ahead is held. Each side is read on its own,
// ahead of the merge, so that both are read at once. Every difference is
// handed out as it is found; the digest of each side (digest.ts) is
// computed on the way.
import { comparePaths, isSystemPath } from "../zk/paths.js";
import { type Difference, differences, formatAcl } from "./compare.js";
import { TreeDigest, sequenceCounter } from "./digest.js";
import type { TreeNode } from "./format.js";

export type DiffKind = "missing" | "extra" | Difference | "counter";

export interface DiffEntry {
  path: string;
  /** missing: only in A; extra: only in B; the others: in both, different. */
  kind: DiffKind;
  detail?: string;
}

export interface SideSummary {
  label: string;
  /** Persistent nodes (what the digest covers). */
  nodes: number;
  ephemeral: number;
  digest: string;
}

export interface DiffReport {
  a: SideSummary;
  b: SideSummary;
  differences: number;
  byKind: Partial<Record<DiffKind, number>>;
  /** Ephemeral nodes on one side only: not differences (a copy cannot have them), counted. */
  ephemeralOneSided: number;
  equal: boolean;
  ms: number;
}

export interface DiffSide {
  label: string;
  nodes: AsyncIterable<TreeNode>;
}

const preview = (b: Buffer) => (b.length <= 32 ? JSON.stringify(b.toString("latin1")) : `${b.length} bytes`);

export async function diffTrees(a: DiffSide, b: DiffSide, onDifference: (d: DiffEntry) => void): Promise<DiffReport> {
  const started = Date.now();
  const byKind: Partial<Record<DiffKind, number>> = {};
  let ephemeralOneSided = 0;
  const report = (d: DiffEntry) => {
    byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
    onDifference(d);
  };
  const da = new TreeDigest();
  const db = new TreeDigest();
  const ia = ahead(filtered(a.nodes), AHEAD)[Symbol.asyncIterator]();
  const ib = ahead(filtered(b.nodes), AHEAD)[Symbol.asyncIterator]();
  let x = await ia.next();
  let y = await ib.next();
  while (!x.done || !y.done) {
    const order = x.done ? 1 : y.done ? -1 : comparePaths(x.value.path, y.value.path);
    if (order < 0) {
      const n = x.value as TreeNode;
      da.push(n);
      if (n.ephemeral) ephemeralOneSided++;
      else report({ path: n.path, kind: "missing" });
      x = await ia.next();
    } else if (order > 0) {
      const n = y.value as TreeNode;
      db.push(n);
      if (n.ephemeral) ephemeralOneSided++;
      else report({ path: n.path, kind: "extra" });
      y = await ib.next();
    } else {
      const [m, n] = [x.value as TreeNode, y.value as TreeNode];
      da.push(m);
      db.push(n);
      for (const kind of differences(m, n)) {
        const detail = kind === "data" ? `${preview(m.data)} vs ${preview(n.data)}`
          : kind === "acl" ? `${formatAcl(m.acl)} vs ${formatAcl(n.acl)}`
            : `${m.ephemeral ? "ephemeral" : "persistent"} vs ${n.ephemeral ? "ephemeral" : "persistent"}`;
        report({ path: m.path, kind, detail });
      }
      const [ca, cb] = [sequenceCounter(m.stat), sequenceCounter(n.stat)];
      if (!m.ephemeral && !n.ephemeral && !m.textOnly && !n.textOnly && ca !== cb) report({ path: m.path, kind: "counter", detail: `next sequence number ${ca} vs ${cb}` });
      [x, y] = await Promise.all([ia.next(), ib.next()]);
    }
  }
  const digestA = da.finish();
  const digestB = db.finish();
  const total = Object.values(byKind).reduce((s, n) => s + n, 0);
  return {
    a: { label: a.label, nodes: da.nodes, ephemeral: da.ephemeral, digest: digestA },
    b: { label: b.label, nodes: db.nodes, ephemeral: db.ephemeral, digest: digestB },
    differences: total, byKind, ephemeralOneSided, equal: total === 0, ms: Date.now() - started,
  };
}

/** Nodes each side is read ahead of the merge. */
const AHEAD = 256;

/**
 * The stream's values, with up to `n` asked for ahead of the consumer: the
 * source goes on while the consumer waits on something else (the other side).
 */
export async function* ahead<T>(source: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  let finished = false;
  try {
    for (;;) {
      while (!finished && queue.length < n) {
        const p = it.next();
        p.catch(() => undefined);
        queue.push(p);
      }
      const r = await queue.shift()!;
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    finished = true;
    await it.return?.(undefined);
  }
}

async function* filtered(nodes: AsyncIterable<TreeNode>): AsyncGenerator<TreeNode> {
  for await (const n of nodes) if (!isSystemPath(n.path)) yield n;
}
