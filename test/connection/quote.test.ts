import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ZkfleetError } from "../../common/errors.js";
import { commandLine, octalMode, quoteArg, signalExitCode, sudoRefusal } from "../../controller/connection/quote.js";

const execFileP = promisify(execFile);

/** What the remote login shell does with our command line: argv as the program receives it. */
async function throughShell(args: string[]): Promise<string[]> {
  const { stdout } = await execFileP("sh", ["-c", `printf %s\\\\0 ${args.map(quoteArg).join(" ")}`], { encoding: "buffer" });
  const parts = stdout.toString("utf8").split("\0");
  parts.pop(); // after the last terminator
  return parts;
}

/** Strings a process argument can carry: no NUL, valid UTF-16 (so UTF-8 round-trips). */
const argString = fc
  .string({ unit: "binary", maxLength: 40 })
  .filter((s) => !s.includes("\0") && Buffer.from(s, "utf8").toString("utf8") === s);

describe("quoteArg", () => {
  it("round-trips arbitrary strings through sh exactly", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(argString, { minLength: 1, maxLength: 6 }), async (args) => {
        expect(await throughShell(args)).toEqual(args);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps shell syntax inert", async () => {
    const nasty = ["", " ", "a b", "it's", "'", "''", '"$HOME"', "$(touch /tmp/pwned)", "`id`", "; rm -rf /", "a\nb", "\\", "*", "-n", "ünïcödé ✓ 🦓", "\t\r"];
    expect(await throughShell(nasty)).toEqual(nasty);
  });
});

describe("commandLine", () => {
  it("quotes every element, even harmless ones", () => {
    expect(commandLine(["echo", "a b"])).toBe("'echo' 'a b'");
  });

  it("refuses an empty argv and NUL bytes", () => {
    expect(() => commandLine([])).toThrow(ZkfleetError);
    expect(() => commandLine(["echo", "a\0b"])).toThrow(/NUL/);
  });
});

describe("helpers", () => {
  it("formats modes and refuses non-modes", () => {
    expect(octalMode(0o644)).toBe("0644");
    expect(octalMode(0o4755)).toBe("4755");
    expect(() => octalMode(0o10000)).toThrow(ZkfleetError);
    expect(() => octalMode(1.5)).toThrow(ZkfleetError);
  });

  it("maps signals to 128+n like a shell", () => {
    expect(signalExitCode("SIGKILL")).toBe(137);
    expect(signalExitCode("TERM")).toBe(143);
  });

  it("recognises sudo's own refusals and nothing else", () => {
    const pw = sudoRefusal("zk1", "deploy", { code: 1, stdout: "", stderr: "sudo: a password is required\n" });
    expect(pw?.message).toMatch(/wants a password for deploy/);
    expect(pw?.hint).toMatch(/NOPASSWD/);
    expect(sudoRefusal("zk1", "deploy", { code: 127, stdout: "", stderr: "sh: 1: sudo: not found\n" })?.message).toMatch(/not installed/);
    expect(sudoRefusal("zk1", "deploy", { code: 1, stdout: "", stderr: "grep: no match\n" })).toBeUndefined();
  });
});
