// `zkfleet check ... | head`: the reader goes away before zkfleet has written
// everything. Like any command in a pipe, zkfleet then ends quietly with its
// own exit code, never an error message or a stack trace. Runs the real
// entry point (bin/zkfleet.js, the built bundle) with its stdout a pipe whose
// reading end is closed before it writes.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { packageRoot } from "../../common/paths.js";
import { fixtureYaml } from "../golden/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-epipe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs zkfleet with nobody reading its stdout; its exit code and what it said on stderr. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; signal: string | null; err: string }> {
  const child = spawn(process.execPath, [join(packageRoot(), "bin", "zkfleet.js"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  // Closed before node has even loaded the bundle: its first write meets EPIPE.
  child.stdout.destroy();
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal, err })));
}

it("check of a valid inventory: exit 0, nothing on stderr", async () => {
  const file = join(dir, "ok.yml");
  writeFileSync(file, fixtureYaml());
  expect(await withClosedStdout(["check", "-i", file])).toEqual({ code: 0, signal: null, err: "" });
});

it("check of an invalid inventory: its own exit 3, nothing on stderr", async () => {
  const file = join(dir, "bad.yml");
  writeFileSync(file, fixtureYaml().replace("myid: 2 }", "myid: 1 }").replace("myid: 3 }", "myid: 1 }"));
  expect(await withClosedStdout(["check", "-i", file])).toEqual({ code: 3, signal: null, err: "" });
});

it("help, written by the argument parser: exit 0, nothing on stderr", async () => {
  expect(await withClosedStdout(["help", "apply"])).toEqual({ code: 0, signal: null, err: "" });
});
