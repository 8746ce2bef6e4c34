// runCommand's doneWhen, with real processes: the caller gets its answer as
// soon as the program's work is done, and the program is left to finish on
// its own (zkServer.sh's own 1 s sleep after it launched the server).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCommand } from "../../agent/run-command.js";

const dir = mkdtempSync(join(tmpdir(), "zkfleet-run-command-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("runCommand doneWhen", () => {
  it("answers once the check says done, and leaves the program running, detached", async () => {
    const marker = join(dir, "marker");
    const finished = join(dir, "finished");
    const result = await runCommand(["sh", "-c", `echo $$ > ${marker}; sleep 2; touch ${finished}`], {
      timeoutMs: 10_000, detached: true, doneWhen: { check: async () => existsSync(marker), everyMs: 10 },
    });
    expect(result).toMatchObject({ leftRunning: true, code: null, timedOut: false });
    const pid = Number(readFileSync(marker, "utf8"));
    expect(existsSync(finished)).toBe(false);
    expect(alive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
  });

  it("answers with the exit as before when the program ends before the check says done", async () => {
    const result = await runCommand(["sh", "-c", "echo out; exit 3"], {
      timeoutMs: 10_000, detached: true, doneWhen: { check: async () => false, everyMs: 10 },
    });
    expect(result).toMatchObject({ code: 3, stdout: "out\n", timedOut: false });
    expect(result.leftRunning).toBeUndefined();
  });
});
