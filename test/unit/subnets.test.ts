// The registry of loopback /24s (test/helpers/subnets.ts) is the only place a
// test or bench names one: two test files on one /24 would answer each
// other's SSH and ZooKeeper, and a collision shows only when they overlap.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SUBNETS } from "../helpers/subnets.js";

const ROOT = join(import.meta.dirname, "..", "..");
/** Where tests and benches bind addresses; unit fixtures only carry addresses as data. */
const BINDING = ["test/lab", "test/data", "test/agent", "test/connection", "test/package", "bench"];
/** A /24 other than the machine's own loopback (127.0.0.1, Debian's 127.0.1.1 hostname line). */
const LITERAL = /\b127\.(?!0\.[01]\b)\d{1,3}\.\d{1,3}\b/g;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|mjs|cjs|js)$/.test(name) ? [path] : [];
  });
}

describe("loopback /24 registry", () => {
  it("gives every entry a /24 of its own in 127.0.0.0/8", () => {
    const values = Object.values(SUBNETS);
    for (const v of values) expect(v).toMatch(/^127\.(\d{1,3})\.(\d{1,3})$/);
    const seen = new Map<string, string>();
    for (const [name, v] of Object.entries(SUBNETS)) {
      expect(seen.get(v), `${name} and ${seen.get(v)} share ${v}`).toBeUndefined();
      seen.set(v, name);
    }
    expect(values).not.toContain("127.0.0");
  });

  it("is the only place a test names one; a bench's literal is registered under bench-", () => {
    const registered = new Map<string, string>(Object.entries(SUBNETS).map(([name, v]) => [v, name]));
    const stray: string[] = [];
    for (const file of BINDING.flatMap((d) => files(join(ROOT, d)))) {
      const rel = file.slice(ROOT.length + 1);
      readFileSync(file, "utf8").split("\n").forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line)) return;
        for (const m of line.matchAll(LITERAL)) {
          const net = m[0];
          const name = registered.get(net);
          if (rel.startsWith("bench/") && name?.startsWith("bench-")) continue;
          stray.push(`${rel}:${i + 1}: ${net}${name ? ` (registered as ${name}: use subnet("${name}"))` : " (not registered)"}`);
        }
      });
    }
    expect(stray).toEqual([]);
  });
});
