// Usage errors through the real CLI: exit 3, a message that names the bad
// argument, and nothing created or contacted. No lab is needed: every case
// must be refused before anything runs.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../common/errors.js";
import { runCli } from "../helpers/cli.js";
import { testLabDir } from "../helpers/lab.js";

// Lab directories may not live under /tmp (lab hosts shadow it); these are
// only ever checked for absence.
const NEVER_CREATED = testLabDir("cli-usage-never-created");
const NO_LAB = testLabDir("cli-usage-no-lab");
const scratch = mkdtempSync(join(tmpdir(), "zkfleet-cli-usage-"));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(NEVER_CREATED, { recursive: true, force: true });
});

/** A valid inventory whose host address is in this file's loopback range; nothing listens there. */
function validInventory(): string {
  const file = join(scratch, "valid.yml");
  writeFileSync(file, [
    "ensemble: usage",
    "zookeeper: { version: 3.8.0 }",
    "hosts:",
    "  - { name: zk1, address: 127.83.2.201, myid: 1 }",
    "",
  ].join("\n"));
  return file;
}

describe("zkfleet usage errors", () => {
  it("lab up --hosts 0 is refused with the valid range, and no lab directory is created", async () => {
    const r = await runCli(["lab", "up", "--hosts", "0", "--dir", NEVER_CREATED]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toContain("--hosts must be a whole number from 1 to 60, got 0");
    expect(r.err).toMatch(/fix: .*--hosts 3/);
    expect(existsSync(NEVER_CREATED)).toBe(false);
  });

  it("lab up --hosts abc is refused as not a number, and no lab directory is created", async () => {
    const r = await runCli(["lab", "up", "--hosts", "abc", "--dir", NEVER_CREATED]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toContain('--hosts must be a whole number, got "abc"');
    expect(existsSync(NEVER_CREATED)).toBe(false);
  });

  it("lab up with a directory under /tmp is refused, naming the directory and where to put it instead", async () => {
    const dir = join(scratch, "lab");
    const r = await runCli(["lab", "up", "--hosts", "3", "--dir", dir]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toContain(`lab directory "${dir}" is under /tmp`);
    expect(r.err).toMatch(/fix: +choose a directory outside/);
    expect(existsSync(dir)).toBe(false);
  });

  it("lab down where there is no lab says so, names the directory and suggests --dir", async () => {
    const r = await runCli(["lab", "down", "--dir", NO_LAB]);
    expect(r.code).toBe(ExitCode.failed);
    expect(r.err).toContain(`no lab in ${NO_LAB}: nothing to stop`);
    expect(r.err).toMatch(/fix: +pass --dir/);
    expect(existsSync(NO_LAB)).toBe(false);
  });

  it("an unknown command or option is exit 3, names the word and points at --help", async () => {
    const command = await runCli(["frobnicate"]);
    expect(command.code).toBe(ExitCode.invalid);
    expect(command.err).toContain("unknown command 'frobnicate'");
    expect(command.err).toContain("--help");

    const option = await runCli(["status", "--bogus", "-i", validInventory()]);
    expect(option.code).toBe(ExitCode.invalid);
    expect(option.err).toContain("unknown option '--bogus'");
    expect(option.err).toContain("--help");
  });

  it("apply without -i names the missing option", async () => {
    const r = await runCli(["apply", "--yes"]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toContain("required option '-i, --inventory <file>' not specified");
  });

  it("status --watch with a non-number, and --parallel with a non-number, are refused before any host is contacted", async () => {
    const inventory = validInventory();
    for (const watch of ["abc", "0"]) {
      const r = await runCli(["status", "-i", inventory, "--watch", watch]);
      expect(r.code).toBe(ExitCode.invalid);
      expect(r.err).toContain(`--watch takes a number of seconds, got "${watch}"`);
      // A status table would mean a host was observed.
      expect(r.out).toBe("");
    }
    const parallel = await runCli(["apply", "-i", inventory, "--parallel", "abc"]);
    expect(parallel.code).toBe(ExitCode.invalid);
    expect(parallel.err).toContain('--parallel must be a whole number, got "abc"');
    expect(parallel.out).toBe("");
  });

  it("--watch is checked before the inventory is read", async () => {
    const r = await runCli(["status", "-i", join(scratch, "missing.yml"), "--watch", "abc"]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toContain("--watch takes a number of seconds");
  });

  it("export -o into a directory that is not there is refused naming the directory, before any connection", async () => {
    const out = join(scratch, "nonexistent", "dir", "x.jsonl");
    // Nothing listens on port 1: a connection attempt would end in a 20 s wait and exit 4, not this.
    const r = await runCli(["export", "--zk", "127.0.0.1:1", "-o", out]);
    expect(r.code).toBe(ExitCode.invalid);
    expect(r.err).toContain(`-o ${out}: the directory ${join(scratch, "nonexistent", "dir")} does not exist; nothing was read`);
    expect(r.err).not.toContain(".partial-");
    expect(existsSync(join(scratch, "nonexistent"))).toBe(false);
  });

  it("credentials that do not parse, or a missing --auth-file, are refused before any connection, the value never shown", async () => {
    const bad = await runCli(["export", "--zk", "127.0.0.1:1", "--auth", "hunter2"]);
    expect(bad.code).toBe(ExitCode.invalid);
    expect(bad.err).toContain("--auth (the 1st): not SCHEME:CREDENTIAL (the value is not shown");
    expect(bad.err).not.toContain("hunter2");
    const env = await runCli(["diff", "127.0.0.1:1", "127.0.0.1:2"], { ZKFLEET_AUTH: "digest:ok:fine\nhunter2" });
    expect(env.code).toBe(ExitCode.invalid);
    expect(env.err).toContain("ZKFLEET_AUTH (line 2): not SCHEME:CREDENTIAL");
    expect(env.err).not.toContain("hunter2");
    const missing = join(scratch, "no-such.auth");
    for (const command of [["export", "--zk", "127.0.0.1:1"], ["backup", "-i", validInventory(), "-o", join(scratch, "bk")], ["sync", "--from", "127.0.0.1:1", "--to", "127.0.0.1:2"]]) {
      const r = await runCli([...command, "--auth-file", missing]);
      expect(r.code, command[0]).toBe(ExitCode.invalid);
      expect(r.err).toContain(`--auth-file: cannot read ${missing}: ENOENT`);
    }
    expect(existsSync(join(scratch, "bk"))).toBe(false);
  });

  it("diff of two export files exits 0 when equal and 1 when they differ", async () => {
    const { exportLines, node, writeLines } = await import("../data/fixtures.js");
    const a = writeLines(join(scratch, "a.jsonl"), exportLines("/app", [node("/app", "x"), node("/app/b", "1")]));
    const b = writeLines(join(scratch, "b.jsonl"), exportLines("/app", [node("/app", "x"), node("/app/b", "2")]));
    expect((await runCli(["diff", a, a])).code).toBe(ExitCode.ok);
    const differ = await runCli(["diff", a, b]);
    expect(differ.code).toBe(ExitCode.different);
    expect(differ.code).toBe(1);
    expect(differ.out).toMatch(/^data\s+\/app\/b/m);
    const help = await runCli(["help", "diff"]);
    expect(help.out).toContain("0 the trees are equal, 1 they differ, 3 bad arguments, 4 they could not be compared");
  });

  it("--help, and --help of a command, exit 0 and print usage", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(ExitCode.ok);
    expect(top.out).toMatch(/^Usage: zkfleet /);
    for (const command of ["check", "status", "apply", "lab"]) expect(top.out).toContain(command);

    const apply = await runCli(["apply", "--help"]);
    expect(apply.code).toBe(ExitCode.ok);
    expect(apply.out).toContain("-i, --inventory <file>");
    expect(apply.out).toContain("--check");
  });
});
