// The pure pieces every tree stream rests on: the depth-first order (a
// merge of two streams is only right if both are in it), what the digest
// covers, and the sequence counter (servers count creates only).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { childPath, comparePaths, parentOf, sortNames } from "../../controller/zk/paths.js";
import { TreeDigest, digestLine, sequenceCounter } from "../../controller/data/digest.js";
import { emptyReport, noteCounter } from "../../controller/data/import-plan.js";
import { Limiter } from "../../controller/data/limiter.js";
import type { TreeNode } from "../../controller/data/format.js";
import { node } from "./fixtures.js";

/** A random tree as nested names (siblings unique). */
const tree: fc.Arbitrary<Map<string, unknown>> = fc.letrec((tie) => ({
  node: fc.uniqueArray(fc.tuple(fc.constantFrom("a", "b", "a-b", "a.b", "Z", "é", "名", "a/"), tie("child")), { maxLength: 4, selector: (t) => t[0] })
    .map((entries) => new Map(entries.map(([k, v]) => [k.replace("/", "_"), v] as const))),
  child: fc.oneof({ depthSize: "small", withCrossShrink: true }, fc.constant(new Map()), tie("node")),
})).node as fc.Arbitrary<Map<string, unknown>>;

function walk(path: string, t: Map<string, unknown>, out: string[]): string[] {
  out.push(path);
  for (const name of sortNames([...t.keys()])) walk(childPath(path, name), t.get(name) as Map<string, unknown>, out);
  return out;
}

describe("depth-first order", () => {
  it("sorting paths with comparePaths gives the depth-first walk with sorted siblings", () => {
    fc.assert(fc.property(tree, (t) => {
      const dfs = walk("/", t, []);
      const shuffled = [...dfs].reverse();
      expect(shuffled.sort(comparePaths)).toEqual(dfs);
    }));
  });

  it("is not plain string order: /a/b comes before /a-b", () => {
    expect(comparePaths("/a/b", "/a-b")).toBeLessThan(0);
    expect("/a/b" < "/a-b").toBe(false);
    expect(comparePaths("/", "/a")).toBeLessThan(0);
    expect(parentOf("/a")).toBe("/");
    expect(parentOf("/a/b")).toBe("/a");
    expect(parentOf("/")).toBeUndefined();
  });
});

describe("tree digest", () => {
  const digestOf = (nodes: TreeNode[]) => {
    const d = new TreeDigest();
    for (const n of nodes) d.push(n);
    return d.finish();
  };

  it("takes the sequence counter from creates only: an ephemeral child's end does not move it", () => {
    // Servers report cversion = 2 * creates - numChildren: 3 creates, one of them an ephemeral child still there.
    const live = { ...node("/p", "", { cversion: 4 }), stat: { ...node("/p", "").stat, cversion: 4, numChildren: 2 } };
    const afterItsSession = { ...live, stat: { ...live.stat, cversion: 5, numChildren: 1 } };
    expect(sequenceCounter(live.stat)).toBe(3);
    expect(sequenceCounter(afterItsSession.stat)).toBe(3);
    expect(digestOf([live, node("/p/a", "x"), node("/p/e", "", { ephemeral: true })])).toBe(digestOf([afterItsSession, node("/p/a", "x")]));
  });

  it("covers data, ACL and counter, and leaves ephemeral nodes and /zookeeper out", () => {
    const d = digestOf([node("/", ""), node("/a", "x")]);
    expect(digestOf([node("/", ""), node("/a", "y")])).not.toBe(d);
    expect(digestOf([node("/", ""), node("/a", "x", { acl: [{ perms: 1, scheme: "world", id: "anyone" }] })])).not.toBe(d);
    expect(digestOf([node("/", ""), node("/a", "x", { cversion: 2 })])).not.toBe(d);
    expect(digestOf([node("/", ""), node("/a", "x"), node("/zookeeper", "q")])).toBe(d);
    expect(digestOf([node("/", ""), node("/a", "x"), node("/b", "", { ephemeral: true })])).toBe(d);
  });

  it("lines are path, data hash, counter, then each ACL entry", () => {
    expect(digestLine("/a", Buffer.alloc(0), 3, [{ perms: 31, scheme: "world", id: "anyone" }]))
      .toBe("/a\te3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\t3\t31:world:anyone\n");
  });
});

describe("sequence counters on import", () => {
  it("moves a counter on one create per step, and never back", () => {
    const report = emptyReport(false);
    expect(noteCounter(report, "/q", 3, 9)).toBe(6);
    expect(noteCounter(report, "/r", 4, 4)).toBe(0);
    expect(noteCounter(report, "/s", 9, 3)).toBe(0);
    expect(report.counters).toMatchObject({ parents: 1, ops: 12, ahead: ["/s"] });
  });
});

describe("limiter", () => {
  it("starts calls in the order asked, never more than its size at once", async () => {
    const limiter = new Limiter(3);
    const started: number[] = [];
    let active = 0;
    let peak = 0;
    await Promise.all(Array.from({ length: 20 }, (_, i) => limiter.run(async () => {
      started.push(i);
      peak = Math.max(peak, ++active);
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      active--;
    })));
    expect(started).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
  });
});
