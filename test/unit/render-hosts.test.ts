import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { findHostsConflicts, mergeHostsBlock, removeHostsBlock } from "../../controller/render/render.js";

const ENSEMBLE = "orders-zk";

function block(entries: readonly [string, string][], ensemble = ENSEMBLE): string {
  return [`# BEGIN zkfleet ${ensemble}`, "# managed by zkfleet", ...entries.map(([a, n]) => `${a} ${n}`), `# END zkfleet ${ensemble}`, ""].join("\n");
}

// Lines a real /etc/hosts might hold, plus awkward ones (CR, tabs, other
// ensembles' markers, near-miss markers), but never this ensemble's markers.
const otherLine = fc
  .oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom("127.0.0.1\tlocalhost", "::1 localhost ip6-localhost", "", "   ", "# comment\r", "# BEGIN zkfleet other", "# END zkfleet other", `# BEGIN zkfleet ${ENSEMBLE}x`),
  )
  .filter((line) => !line.includes("\n") && !/^# (BEGIN|END) zkfleet orders-zk\s*$/.test(line));

const hostsFile = fc.tuple(fc.array(otherLine, { maxLength: 12 }), fc.boolean()).map(([lines, trailing]) => lines.join("\n") + (trailing && lines.length > 0 ? "\n" : ""));

const blockArb = fc
  .array(fc.tuple(fc.ipV4(), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/)), { minLength: 1, maxLength: 5 })
  .map((entries) => block(entries));

describe("mergeHostsBlock properties", () => {
  it("is idempotent", () => {
    fc.assert(
      fc.property(hostsFile, blockArb, (existing, b) => {
        const once = mergeHostsBlock(existing, b, ENSEMBLE);
        expect(mergeHostsBlock(once, b, ENSEMBLE)).toBe(once);
      }),
    );
  });

  it("keeps every line outside the block byte for byte, and the trailing newline", () => {
    fc.assert(
      fc.property(hostsFile, hostsFile, blockArb, blockArb, (before, after, oldBlock, newBlock) => {
        // A file that already holds an (older) block somewhere in the middle.
        const sep = before === "" || before.endsWith("\n") ? "" : "\n";
        const existing = before + sep + oldBlock + after;
        const merged = mergeHostsBlock(existing, newBlock, ENSEMBLE);
        const beforeLines = before === "" ? "" : before + sep;
        expect(merged.startsWith(beforeLines + newBlock.trimEnd())).toBe(true);
        expect(merged.slice(beforeLines.length + newBlock.trimEnd().length)).toBe("\n" + after);
      }),
    );
  });

  it("round-trips: removing the block gives the original back, re-adding gives the same file", () => {
    fc.assert(
      fc.property(hostsFile, blockArb, (existing, b) => {
        const merged = mergeHostsBlock(existing, b, ENSEMBLE);
        const removed = removeHostsBlock(merged, ENSEMBLE);
        expect(removed).toBe(existing);
        expect(mergeHostsBlock(removed, b, ENSEMBLE)).toBe(merged);
      }),
    );
  });

  it("replacing a block with another and back is the same as one merge", () => {
    fc.assert(
      fc.property(hostsFile, blockArb, blockArb, (existing, a, b) => {
        const direct = mergeHostsBlock(existing, a, ENSEMBLE);
        expect(mergeHostsBlock(mergeHostsBlock(direct, b, ENSEMBLE), a, ENSEMBLE)).toBe(direct);
      }),
    );
  });
});

describe("mergeHostsBlock examples", () => {
  const b = block([["127.94.0.11", "zk1"]]);

  it("appends to a file without a final newline and keeps it that way", () => {
    const merged = mergeHostsBlock("127.0.0.1 localhost", b, ENSEMBLE);
    expect(merged).toBe(`127.0.0.1 localhost\n${b.trimEnd()}`);
  });

  it("gives a new, empty file a final newline", () => {
    expect(mergeHostsBlock("", b, ENSEMBLE)).toBe(b);
  });

  it("replaces in place, leaving other ensembles' blocks alone", () => {
    const other = block([["127.94.0.99", "other1"]], "other");
    const existing = `127.0.0.1 localhost\n${block([["127.94.0.50", "zk1"]])}${other}::1 localhost\n`;
    expect(mergeHostsBlock(existing, b, ENSEMBLE)).toBe(`127.0.0.1 localhost\n${b}${other}::1 localhost\n`);
  });

  it("finds its markers in a CRLF file", () => {
    const existing = "127.0.0.1 localhost\r\n# BEGIN zkfleet orders-zk\r\n10.0.0.1 zk1\r\n# END zkfleet orders-zk\r\n";
    expect(mergeHostsBlock(existing, b, ENSEMBLE)).toBe(`127.0.0.1 localhost\r\n${b}`);
  });

  it("refuses a damaged block rather than guessing", () => {
    const damaged = "127.0.0.1 localhost\n# BEGIN zkfleet orders-zk\n10.0.0.1 zk1\n";
    expect(() => mergeHostsBlock(damaged, b, ENSEMBLE)).toThrow(ZkfleetError);
    expect(() => mergeHostsBlock(`${b}${b}`, b, ENSEMBLE)).toThrow(/damaged/);
  });
});

describe("findHostsConflicts", () => {
  it("reports a line outside the block that maps one of our names elsewhere", () => {
    const b = block([
      ["127.94.0.11", "zk1"],
      ["127.94.0.12", "zk2"],
    ]);
    const existing = `127.0.0.1 localhost\n127.0.1.1 zk1.example.org ZK1\n127.94.0.12 zk2 # fine\n${b}`;
    expect(findHostsConflicts(existing, b, ENSEMBLE)).toEqual([
      { line: 2, text: "127.0.1.1 zk1.example.org ZK1", name: "ZK1", expected: "127.94.0.11" },
    ]);
  });
});
