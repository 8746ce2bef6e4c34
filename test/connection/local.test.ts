import { open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { LocalConnection } from "../../controller/connection/local.js";
import { atomicWriteArgv } from "../../controller/connection/quote.js";
import { converse } from "../helpers/converse.js";
import { makeTempDir, waitFor } from "../helpers/sshd.js";

const NASTY = ["a b", "it's", '"$HOME"', "$(id)", "; echo pwned", "line1\nline2", "ünïcödé 🦓", ""];

describe("LocalConnection", () => {
  const conn = new LocalConnection({ host: "ctl", become: true });
  let dir = "";
  beforeAll(async () => {
    dir = await makeTempDir("zkfleet-local");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("passes argv to the program exactly, with no shell in between", async () => {
    const r = await conn.run(["printf", "%s\\0", ...NASTY]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(NASTY);
  });

  it("returns non-zero exits, stderr and signals as results", async () => {
    const r = await conn.run(["sh", "-c", "echo oops >&2; exit 3"]);
    expect(r).toMatchObject({ code: 3, stderr: "oops\n" });
    const killed = await conn.run(["sh", "-c", "kill -KILL $$"]);
    expect(killed).toMatchObject({ code: 137, signal: "SIGKILL" });
    expect(await conn.run(["/no/such/program"])).toMatchObject({ code: 127 });
  });

  it("feeds stdin and streams stdout", async () => {
    const chunks: Buffer[] = [];
    const r = await conn.run(["cat"], { stdin: "hello\nworld\n", onStdout: (c) => chunks.push(c) });
    expect(r.stdout).toBe("hello\nworld\n");
    expect(Buffer.concat(chunks).toString()).toBe("hello\nworld\n");
  });

  it("pipes a stdin stream as it comes, one answer before the next line, and ends stdin with it", async () => {
    expect(await converse(conn, ["1", "two", "3"])).toBe("got 1\ngot two\ngot 3\n");
  });

  it("stops a command that outlives its timeout with a typed error", async () => {
    const marker = `30.${process.pid}`;
    const err = await conn.run(["sh", "-c", 'sleep "$1"; echo never', "sh", marker], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).message).toMatch(/sh on ctl did not finish within 200 ms/);
    // The grandchild goes too, not only the direct child.
    expect(await waitFor(async () => (await conn.run(["pgrep", "-f", `sleep ${marker}`])).code === 1)).toBe(true);
  });

  it("runs become as root directly (no sudo needed)", async () => {
    expect((await conn.run(["id", "-u"], { become: true })).stdout.trim()).toBe("0");
  });

  it("puts atomically with the exact mode and gets the bytes back", async () => {
    const path = join(dir, "zoo.cfg");
    await writeFile(path, "old content\n");
    const reader = await open(path, "r");
    try {
      const bytes = Buffer.from([0, 1, 2, 255, 10, 13]);
      await conn.put(path, bytes, 0o640);
      expect(await conn.get(path)).toEqual(bytes);
      expect((await stat(path)).mode & 0o7777).toBe(0o640);
      // A reader holding the old file still sees all of it: the file was replaced, not rewritten in place.
      expect((await reader.readFile()).toString()).toBe("old content\n");
    } finally {
      await reader.close();
    }
    expect(await readdir(dir)).toEqual(["zoo.cfg"]);
  });

  it("has a sudo write path (the script run under sudo) that is atomic and path-safe", async () => {
    // The script putThroughSudo runs, exercised without sudo: we are root here.
    const path = join(dir, "it's a $(file)");
    const r = await conn.run(atomicWriteArgv(path, 0o600), { stdin: "secret\n" });
    expect(r.code).toBe(0);
    expect((await conn.get(path)).toString()).toBe("secret\n");
    expect((await stat(path)).mode & 0o7777).toBe(0o600);
    expect((await readdir(dir)).filter((f) => f.startsWith(".zkfleet"))).toEqual([]);
    await rm(path);
  });

  it("reports missing files and unwritable places with host and path", async () => {
    await expect(conn.get(join(dir, "missing"))).rejects.toThrow(/missing does not exist on ctl/);
    const err = await conn.put(join(dir, "no-dir", "f"), "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZkfleetError);
    expect((err as ZkfleetError).where).toBe(`ctl:${join(dir, "no-dir", "f")}`);
  });
});
