// The planner is pure: no clock. dependency-cruiser (npm run lint:deps)
// keeps I/O modules out of reach of controller/plan/ and controller/model/,
// but reading the clock needs no import: this test looks for it in their
// sources. `new Date(ms)` formats a time the caller passed in and stays.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..", "..");
const CLOCK = /\bDate\.now\s*\(|\bnew\s+Date\s*\(\s*\)|\bperformance\.now\s*\(|\bprocess\.hrtime\b|\bprocess\.uptime\s*\(/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Each line that reads the clock, as "file:line: text", comments left out. */
function clockReads(files: readonly { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) =>
    text.split("\n").flatMap((line, i) => {
      const code = line.replace(/\/\/.*$/, "").replace(/^\s*\*.*$/, "");
      return CLOCK.test(code) ? [`${path}:${i + 1}: ${line.trim()}`] : [];
    }),
  );
}

describe("the pure folders read no clock", () => {
  it("finds a clock read when there is one (the scan itself can fail)", () => {
    expect(clockReads([{ path: "x.ts", text: "const a = 1;\nconst t = Date.now();\nconst d = new Date();\nconst p = performance.now();\nconst f = new Date(ms);" }]))
      .toEqual(["x.ts:2: const t = Date.now();", "x.ts:3: const d = new Date();", "x.ts:4: const p = performance.now();"]);
  });

  it("controller/plan/ and controller/model/ take the time from their caller", () => {
    const files = ["plan", "model"].flatMap((d) => sources(join(repo, "controller", d)));
    expect(files.length).toBeGreaterThan(10);
    expect(clockReads(files.map((f) => ({ path: relative(repo, f), text: readFileSync(f, "utf8") })))).toEqual([]);
  });
});
